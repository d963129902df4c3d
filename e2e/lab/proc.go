package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The spawner starts every child process from one goroutine locked to its
// OS thread for the life of the process. Children get Pdeathsig=SIGKILL, so
// that the daemons die with the test binary even when it is killed; and the
// parent-death signal fires when the *thread* that forked exits, which would
// happen at random if a fork ran on a thread that a namespace helper (see
// dialInNS) later discards. A dedicated, never-exiting thread avoids that.
var spawner struct {
	once sync.Once
	reqs chan spawnReq
}

type spawnReq struct {
	cmd  *exec.Cmd
	done chan error
}

// startCmd starts cmd from the spawner thread, in its own process group and
// with Pdeathsig=SIGKILL.
func startCmd(cmd *exec.Cmd) error {
	spawner.once.Do(func() {
		spawner.reqs = make(chan spawnReq)
		go func() {
			runtime.LockOSThread() // never unlocked: this thread lives as long as the process
			for r := range spawner.reqs {
				r.done <- r.cmd.Start()
			}
		}()
	})
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	done := make(chan error, 1)
	spawner.reqs <- spawnReq{cmd, done}
	return <-done
}

// cancelGroup makes a CommandContext command kill its whole process group
// when the context is done, and not wait forever for pipes that a leftover
// grandchild holds open.
func cancelGroup(cmd *exec.Cmd) {
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
}

// killGroup signals the process group led by pid.
func killGroup(pid int, sig syscall.Signal) error {
	if pid <= 0 {
		return nil
	}
	err := syscall.Kill(-pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// childEnv is the environment of a lab child process: this process's
// environment without BANFLEET_* variables (the daemons read
// BANFLEET_AGENT_… and BANFLEET_COORD_… as configuration, the CLI
// BANFLEET_NATS_…, and BANFLEET_E2E is not theirs), plus extra.
func childEnv(extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BANFLEET_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// Proc is a process the lab started inside one of its namespaces.
type Proc struct {
	Name    string   // label, unique within the lab: "coord", "agent-h1", "sshd-h1"
	NS      string   // node name, e.g. "h1"
	Args    []string // the command run inside the namespace
	LogPath string   // its standard output and error

	cmd     *exec.Cmd
	logFile *os.File
	done    chan struct{}
	err     error // set before done is closed
}

// StartProcess runs args (args[0] is the program, an absolute path is
// best) inside the namespace of node ns with `ip netns exec`, in its own
// process group. name labels the process; its standard output and error go
// to LogPath, a file in the lab directory named after it. env is added to
// the environment, from which BANFLEET_* variables are removed. The process
// is stopped by Close at the latest.
func (l *Lab) StartProcess(ns, name string, args []string, env []string) (*Proc, error) {
	return l.startProc(ns, name, args, env)
}

func (l *Lab) startProc(ns, name string, args []string, env []string) (*Proc, error) {
	if len(args) == 0 {
		return nil, errors.New("start process: no command")
	}
	full, err := l.resolveNS(ns)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, ErrClosed
	}
	l.procNames[name]++
	label := name
	if n := l.procNames[name]; n > 1 {
		label = fmt.Sprintf("%s.%d", name, n)
	}
	dir := l.Dir
	l.mu.Unlock()

	logPath := filepath.Join(dir, "logs", label+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", label, err)
	}
	cmdArgs := append([]string{"netns", "exec", full}, args...)
	cmd := exec.Command(l.tools.ip, cmdArgs...)
	cmd.Env = childEnv(env)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	p := &Proc{
		Name:    label,
		NS:      strings.TrimPrefix(full, l.prefix),
		Args:    args,
		LogPath: logPath,
		cmd:     cmd,
		logFile: logFile,
		done:    make(chan struct{}),
	}
	// Register before starting, under the lock Close takes, so that a
	// process is either refused or stopped by Close.
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		logFile.Close()
		return nil, ErrClosed
	}
	if err := startCmd(cmd); err != nil {
		l.mu.Unlock()
		logFile.Close()
		return nil, fmt.Errorf("start %s in %s: %w", label, full, err)
	}
	l.procs = append(l.procs, p)
	l.mu.Unlock()
	l.logf("lab: started %s (pid %d) in %s: %s", label, cmd.Process.Pid, p.NS, commandLine(args))
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// commandLine renders args for a log line, eliding multi-line arguments
// (the sshd wrapper script).
func commandLine(args []string) string {
	parts := make([]string, len(args))
	for i, a := range args {
		if strings.Contains(a, "\n") {
			a = "'…'"
		}
		parts[i] = a
	}
	return strings.Join(parts, " ")
}

// Pid returns the process id (ip netns exec replaces itself with the
// program, so it is the program's pid).
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Wait waits for the process to exit and returns its exit error (nil for
// status 0; an *exec.ExitError otherwise).
func (p *Proc) Wait() error {
	<-p.done
	return p.err
}

// ExitCode returns the exit status, or -1 while running or when killed by
// a signal.
func (p *Proc) ExitCode() int {
	if !p.Exited() {
		return -1
	}
	return p.cmd.ProcessState.ExitCode()
}

// Signal sends sig to the process (not its group).
func (p *Proc) Signal(sig syscall.Signal) error {
	if p.Exited() {
		return nil
	}
	return p.cmd.Process.Signal(sig)
}

// Stop sends SIGTERM to the process group, waits up to 5 s for the process
// to exit, then SIGKILLs the group. It returns the exit error, or
// ErrStopTimeout when the process had to be killed. An exit caused by the
// SIGTERM itself counts as clean.
func (p *Proc) Stop() error {
	return p.stop(5 * time.Second)
}

func (p *Proc) stop(grace time.Duration) error {
	if !p.Exited() {
		_ = killGroup(p.Pid(), syscall.SIGTERM)
	}
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = killGroup(p.Pid(), syscall.SIGKILL)
		<-p.done
		return fmt.Errorf("%s: %w", p.Name, ErrStopTimeout)
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM {
			return nil
		}
	}
	return p.err
}

// Kill SIGKILLs the process group and waits for the process to exit.
func (p *Proc) Kill() error {
	if !p.Exited() {
		_ = killGroup(p.Pid(), syscall.SIGKILL)
	}
	<-p.done
	return nil
}

// Log returns what the process has written so far.
func (p *Proc) Log() (string, error) {
	b, err := os.ReadFile(p.LogPath)
	return string(b), err
}

// closeLog closes the parent's handle on the log file.
func (p *Proc) closeLog() { _ = p.logFile.Close() }

// stopAll stops processes concurrently: SIGTERM, then SIGKILL after grace.
func stopAll(procs []*Proc, grace time.Duration) {
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Go(func() { _ = p.stop(grace) })
	}
	wg.Wait()
}

// CmdResult is the outcome of a command that ran to completion.
type CmdResult struct {
	Stdout, Stderr string
	Exit           int // exit status
}

// Exec runs args inside the namespace of node ns and waits for it. The
// error is non-nil only when the command could not run to completion
// (not found, killed by a signal, ctx done); a non-zero exit status is
// reported in CmdResult.Exit.
func (l *Lab) Exec(ctx context.Context, ns string, args ...string) (CmdResult, error) {
	return l.execIn(ctx, ns, nil, args...)
}

func (l *Lab) execIn(ctx context.Context, ns string, env []string, args ...string) (CmdResult, error) {
	full, err := l.resolveNS(ns)
	if err != nil {
		return CmdResult{}, err
	}
	if l.isClosed() {
		return CmdResult{}, ErrClosed
	}
	cmd := exec.CommandContext(ctx, l.tools.ip, append([]string{"netns", "exec", full}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = childEnv(env)
	cancelGroup(cmd)
	if err := startCmd(cmd); err != nil {
		return CmdResult{}, fmt.Errorf("run %s in %s: %w", strings.Join(args, " "), ns, err)
	}
	err = cmd.Wait()
	res := CmdResult{Stdout: stdout.String(), Stderr: stderr.String(), Exit: cmd.ProcessState.ExitCode()}
	if ctx.Err() != nil {
		return res, fmt.Errorf("run %s in %s: %w", strings.Join(args, " "), ns, ctx.Err())
	}
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.Exited()) {
		return res, fmt.Errorf("run %s in %s: %w", strings.Join(args, " "), ns, err)
	}
	return res, nil
}
