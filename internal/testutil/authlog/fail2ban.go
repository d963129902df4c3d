package authlog

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/banfleet/banfleet/internal/testutil/f2bref"
)

// Hit is a failure a filter reported: the 1-based line and the address it
// blames.
type Hit struct {
	Line int        `json:"line"`
	Addr netip.Addr `json:"addr"`
}

// Fail2BanOptions configure RunFail2Ban.
type Fail2BanOptions struct {
	// Filter is the filter file; empty means the tree's
	// etc/fail2ban/filter.d/sshd.conf (mode normal, its default).
	Filter string
	// UseDNS is fail2ban-regex's --usedns; empty means "no", the way
	// banfleet reads <HOST> (addresses only, never a name to resolve).
	UseDNS string
}

// Fail2BanResult is what fail2ban-regex found, and what it cost.
type Fail2BanResult struct {
	// Hits are the failures in line order, as the Fail2Ban daemon would
	// count them: at most one per line, NOFAIL lines only when connection
	// state (F-MLFID) turns them into a failure.
	Hits []Hit
	// Args is the command line run.
	Args []string
	// Wall is the elapsed time; User and Sys the child's CPU time.
	Wall, User, Sys time.Duration
	// MaxRSS is the child's peak resident set size, in bytes.
	MaxRSS int64
}

// Record markers in fail2ban-regex's output; see Fail2BanArgs.
const (
	f2bBegin = "@@bf@@\t"
	f2bEnd   = "\t@@end@@"
)

// Fail2BanArgs returns the fail2ban-regex arguments RunFail2Ban uses.
//
// "-o FORMAT" is what makes fail2ban-regex both quick and exact here: it
// switches off the statistics and the lists of matched and missed lines
// (kept in memory until the end otherwise), and, like the daemon, stops at
// the first matching failregex (checkAllRegex off) and keeps failures
// without an address pending until their connection supplies one
// (ignorePending). A format with tags prints, per failure, the address
// (<ip>) and the lines it was built from (<matches>): for a multi-line
// (F-MLFID) failure the earlier lines of the connection come first and the
// line being processed last, so every record names its own line. Records
// are framed by markers because <matches> spans several output lines.
//
// Without -o, fail2ban-regex tries every failregex on every line
// (checkAllRegex), keeps per-regex statistics and, with
// --print-all-matched, every matched line until the end: on 200,000
// generated lines it used about 15 % more CPU and 2.5 times the memory
// (99-109 MiB against 41 MiB), and its matched lines follow other rules
// (no pending failures), so they are not what the daemon would count.
// --usedns=no keeps <HOST> to addresses, as banfleet reads it, and can
// never make fail2ban-regex resolve a name a client chose.
func Fail2BanArgs(tree *f2bref.Tree, logPath string, o Fail2BanOptions) []string {
	if o.Filter == "" {
		o.Filter = filepath.Join(tree.ConfDir, "filter.d", "sshd.conf")
	}
	if o.UseDNS == "" {
		o.UseDNS = "no"
	}
	return []string{
		"-c", tree.ConfDir,
		"--usedns=" + o.UseDNS,
		"-o", f2bBegin + "<ip>\t<matches>" + f2bEnd,
		logPath, o.Filter,
	}
}

// RunFail2Ban runs the tree's fail2ban-regex over the log at logPath and
// returns the failures it reports, each attributed to its line of the log.
func RunFail2Ban(ctx context.Context, tree *f2bref.Tree, logPath string, o Fail2BanOptions) (*Fail2BanResult, error) {
	args := Fail2BanArgs(tree, logPath, o)
	cmd := tree.Regex(args...)
	res := &Fail2BanResult{Args: cmd.Args}
	var stderr bytes.Buffer
	cmd.Stderr = &limitedWriter{w: &stderr, n: 64 << 10}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFail2Ban, err)
	}
	log, err := os.Open(logPath)
	if err != nil {
		return nil, fmt.Errorf("open log for fail2ban-regex: %w", err)
	}
	defer log.Close()

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: start: %v", ErrFail2Ban, err)
	}
	stop := context.AfterFunc(ctx, func() { _ = cmd.Process.Kill() })
	defer stop()

	hits, perr := parseFail2BanOutput(out, log)
	if perr != nil {
		_ = cmd.Process.Kill()
		_, _ = io.Copy(io.Discard, out)
	}
	werr := cmd.Wait()
	res.Wall = time.Since(start)
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.User = time.Duration(ru.Utime.Nano())
		res.Sys = time.Duration(ru.Stime.Nano())
		res.MaxRSS = ru.Maxrss << 10 // KiB on Linux
	}
	res.Hits = hits
	switch {
	case ctx.Err() != nil:
		return res, fmt.Errorf("%w: %v", ErrFail2Ban, ctx.Err())
	case werr != nil:
		return res, fmt.Errorf("%w: %v: %s", ErrFail2Ban, werr, strings.TrimSpace(stderr.String()))
	case perr != nil:
		return res, fmt.Errorf("%w: %v", ErrFail2Ban, perr)
	}
	return res, nil
}

// parseFail2BanOutput reads the framed records and finds, for each, the
// line of the log it was printed for: the next line (in log order, as
// fail2ban-regex processes the file) equal to the record's last match.
func parseFail2BanOutput(out io.Reader, log io.Reader) ([]Hit, error) {
	var hits []Hit
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	lr := bufio.NewReaderSize(log, 256<<10)
	lineNo := 0
	var rec []string // lines of the current record
	for sc.Scan() {
		t := sc.Text()
		if rec == nil {
			if !strings.HasPrefix(t, f2bBegin) {
				return hits, fmt.Errorf("unexpected output %q", t)
			}
			t = t[len(f2bBegin):]
		}
		rec = append(rec, t)
		if !strings.HasSuffix(t, f2bEnd) {
			continue
		}
		rec[len(rec)-1] = strings.TrimSuffix(t, f2bEnd)
		ipText, first, ok := strings.Cut(rec[0], "\t")
		if !ok {
			return hits, fmt.Errorf("record without address: %q", rec[0])
		}
		rec[0] = first
		cur := rec[len(rec)-1]
		ip, err := netip.ParseAddr(ipText)
		if err != nil {
			return hits, fmt.Errorf("record address %q: %v", ipText, err)
		}
		for {
			l, err := lr.ReadString('\n')
			if err != nil && l == "" {
				return hits, fmt.Errorf("no line of the log after line %d is %q", lineNo, cur)
			}
			lineNo++
			if strings.TrimRight(l, "\r\n") == cur {
				break
			}
		}
		hits = append(hits, Hit{Line: lineNo, Addr: ip.Unmap()})
		rec = nil
	}
	if err := sc.Err(); err != nil {
		return hits, fmt.Errorf("read output: %v", err)
	}
	if rec != nil {
		return hits, fmt.Errorf("output ends inside a record: %q", rec)
	}
	return hits, nil
}

// limitedWriter keeps the first n bytes written to it.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		_, _ = l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}
