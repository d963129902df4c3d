// Package tail follows one log file the way a log shipper must: from where it
// left off, across rotation, with low latency and without allocating per line.
//
// A [Follower] watches one path. It wakes up through inotify on the file's
// directory and on the open file itself, so a line is normally delivered
// within a few milliseconds of being written; it also polls every
// [Options.PollInterval] as a safety net (and as the only mechanism when
// inotify is unavailable or the directory does not exist yet).
//
// # Where reading starts
//
//   - First run (no saved [Position]): at the end of the file, so an agent
//     installed on a host with a years-old auth.log does not replay it. If the
//     last line is still being written (no newline yet) reading starts at
//     that line's beginning so it is delivered whole.
//   - Saved position of the same file incarnation (device+inode) whose size
//     is still >= the offset: at the saved offset.
//   - Saved position of another incarnation (the file was rotated while the
//     agent was down): the rotated file is looked for in the same directory
//     (a name starting with the base name, such as auth.log.1 or
//     auth.log-20240101); if found it is read from the saved offset to its end
//     first. Then the new file is read from offset 0.
//   - The file does not exist yet: wait for it, then read it from offset 0.
//
// # Rotation
//
// Rename+create (logrotate's default, rsyslog's HUP): while the path is
// missing or names a new, still empty file, the writer may still be writing
// to the old file, so the follower keeps reading the old one. As soon as the
// new file has data, the old file is drained to its end (a last line without
// a newline is delivered too) and the follower switches to the new file at
// offset 0. A deleted file that is recreated later is handled the same way.
//
// Copytruncate: when the file's size drops below the read offset the file is
// read again from offset 0 and [Stats].Truncations is counted.
//
// # Lines
//
// Lines are split on '\n'; a trailing '\r' is trimmed. A line is handed to
// the [Handler] only once complete; the slice points into a reused buffer and
// is valid only during the call. Lines longer than [Options.MaxLine] are
// skipped whole, up to their newline, and counted in [Stats].TooLong; memory
// stays bounded by MaxLine plus one 64 KiB read chunk. Bytes are not
// interpreted: NULs and invalid UTF-8 are delivered as they are.
//
// Each line comes with the file offset of its first byte and the [Position]
// just after it. (Position.Ino, start) is stable across restarts and is what
// the agent uses as the unique id of an offence.
//
// # Saving positions
//
// [State] is a small JSON file mapping paths to positions, written
// atomically (temporary file, fsync, rename, fsync of the directory). The
// agent saves [Follower.Position] periodically and at exit; lines delivered
// since the last save are delivered again after a crash (at-least-once), with
// the same (ino, start) ids.
//
// # Limits
//
//   - Two rotations between two looks at the file (well under a second with
//     inotify) lose the middle incarnation.
//   - After a switch to the new file, anything a second, late writer still
//     appends to the old file is not read.
//   - Copytruncate is recognised by the size dropping below the read offset;
//     if the writer has already written more than that offset again before
//     the follower looks, the truncation goes unnoticed and reading resumes
//     in the middle of the new content.
//   - Inode numbers are reused as soon as a deleted file is closed (the
//     rotation tests see it at once on ext4). So (ino, start) is unique only
//     while an incarnation lives, and a file deleted and recreated while the
//     agent was down may carry the saved inode number: if it is at least as
//     long as the saved offset, reading resumes there in the wrong file.
//   - While the path is missing or names an empty file, the old file is kept
//     open (the writer may still use it), so a deleted log's space is freed
//     only once the new file gets data.
package tail
