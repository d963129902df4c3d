package journal

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

const (
	// DefaultMaxField is the default for [Options.MaxField].
	DefaultMaxField = 1 << 20
	// maxBinaryField is the largest binary field size believed: journald
	// refuses entries near 768 MiB, so a larger size means the stream is
	// out of step.
	maxBinaryField = 1 << 30
	// readBuffer is the size of the export stream's read buffer.
	readBuffer = 64 << 10
)

// exportReader decodes the Journal Export Format that `journalctl
// --output=export` writes: entries of fields separated by an empty line,
// each field either "NAME=value\n" or "NAME\n" + little-endian uint64 size +
// raw bytes + "\n". Only the fields [record] knows are kept; the others are
// skipped without copying. It allocates nothing once its buffers have grown.
type exportReader struct {
	br       *bufio.Reader
	rec      record
	maxField int // longest value kept; the rest is dropped
	long     []byte
	size     [8]byte

	truncated uint64 // values cut to maxField
}

func newExportReader(r io.Reader, maxField int) *exportReader {
	if maxField <= 0 {
		maxField = DefaultMaxField
	}
	return &exportReader{br: bufio.NewReaderSize(r, readBuffer), maxField: maxField}
}

// reset points the reader at a new stream, keeping its buffers.
func (er *exportReader) reset(r io.Reader) { er.br.Reset(r) }

// next reads one entry into er.rec. It returns io.EOF at a clean end of the
// stream, io.ErrUnexpectedEOF when the stream ends inside an entry (the
// partial entry is dropped) and an error wrapping ErrMalformedExport when
// the stream cannot be decoded any further.
func (er *exportReader) next() error {
	er.rec.reset()
	fields := 0
	for {
		line, trunc, err := er.readLine()
		if err != nil {
			if err == io.EOF && fields > 0 {
				return io.ErrUnexpectedEOF
			}
			return err
		}
		if len(line) == 0 {
			if fields == 0 {
				continue // tolerate stray separators between entries
			}
			return nil
		}
		fields++
		if eq := bytes.IndexByte(line, '='); eq >= 0 {
			er.keep(line[:eq], line[eq+1:], trunc)
			continue
		}
		// Binary field: line is the name. Resolve it before reading on,
		// which invalidates line.
		if trunc {
			return fmt.Errorf("%w: field name longer than %d bytes", ErrMalformedExport, er.maxField)
		}
		id, msg, known := lookupField(line)
		if err := er.readBinary(id, msg, known); err != nil {
			return err
		}
	}
}

// keep stores a text field's value if the field is one of ours.
func (er *exportReader) keep(name, value []byte, trunc bool) {
	id, msg, known := lookupField(name)
	if !known {
		return
	}
	if len(value) > er.maxField {
		value, trunc = value[:er.maxField], true
	}
	if trunc {
		er.truncated++
	}
	if msg {
		buf := append(er.rec.msgSlot(), value...)
		er.rec.msgs[er.rec.nmsg-1] = buf
		return
	}
	if buf, ok := er.rec.slot(id); ok {
		er.rec.vals[id] = append(buf, value...)
	}
}

// readBinary reads the size, data and newline of a binary field.
func (er *exportReader) readBinary(id fieldID, msg, known bool) error {
	if _, err := io.ReadFull(er.br, er.size[:]); err != nil {
		return unexpected(err)
	}
	size := binary.LittleEndian.Uint64(er.size[:])
	if size > maxBinaryField {
		return fmt.Errorf("%w: binary field of %d bytes", ErrMalformedExport, size)
	}
	n := int(size)
	keepN := 0
	if known {
		keepN = min(n, er.maxField)
		var buf []byte
		ok := true
		if msg {
			buf = er.rec.msgSlot()
		} else {
			buf, ok = er.rec.slot(id)
		}
		if ok {
			buf = grow(buf, keepN)
			if _, err := io.ReadFull(er.br, buf); err != nil {
				return unexpected(err)
			}
			if msg {
				er.rec.msgs[er.rec.nmsg-1] = buf
			} else {
				er.rec.vals[id] = buf
			}
		} else {
			keepN = 0 // repeated single-valued field: skip it
		}
		if keepN < n && ok {
			er.truncated++
		}
	}
	if _, err := er.br.Discard(n - keepN); err != nil {
		return unexpected(err)
	}
	c, err := er.br.ReadByte()
	if err != nil {
		return unexpected(err)
	}
	if c != '\n' {
		return fmt.Errorf("%w: binary field not followed by a newline", ErrMalformedExport)
	}
	return nil
}

// readLine returns the next line without its '\n'. A line longer than the
// read buffer is collected in er.long up to maxField+256 bytes (room for a
// name); trunc reports that the rest was dropped.
func (er *exportReader) readLine() (line []byte, trunc bool, err error) {
	line, err = er.br.ReadSlice('\n')
	if err == nil {
		return line[:len(line)-1], false, nil
	}
	if !errors.Is(err, bufio.ErrBufferFull) {
		if err == io.EOF && len(line) > 0 {
			return nil, false, io.ErrUnexpectedEOF
		}
		return nil, false, err
	}
	limit := er.maxField + 256
	er.long = append(er.long[:0], line...)
	for {
		line, err = er.br.ReadSlice('\n')
		chunk := line
		if err == nil {
			chunk = line[:len(line)-1]
		}
		if room := limit - len(er.long); len(chunk) > room {
			chunk, trunc = chunk[:max(room, 0)], true
		}
		er.long = append(er.long, chunk...)
		switch {
		case err == nil:
			return er.long, trunc, nil
		case !errors.Is(err, bufio.ErrBufferFull):
			return nil, false, unexpected(err)
		}
	}
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}
