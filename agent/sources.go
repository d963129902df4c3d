package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/banfleet/banfleet/agent/filter"
	"github.com/banfleet/banfleet/agent/internal/atomicfile"
	"github.com/banfleet/banfleet/agent/jailfilter"
	"github.com/banfleet/banfleet/agent/journal"
	"github.com/banfleet/banfleet/agent/publish"
	"github.com/banfleet/banfleet/agent/tail"
	"github.com/banfleet/banfleet/config"
	"github.com/banfleet/banfleet/config/fail2ban"
	"github.com/banfleet/banfleet/shared/netaddr"
	"github.com/banfleet/banfleet/shared/wire"
)

// rescanEvery is how often log path globs are expanded again to pick up new
// files.
const rescanEvery = 10 * time.Second

// sources runs every log source of every enabled jail: file followers
// (globs expanded now and again) and journal readers, and saves where each
// stopped.
type sources struct {
	a       *Agent
	state   *tail.State
	cursors *cursorStore
	stats   *tail.Stats
	jstats  *journal.Stats

	// ready is closed once every file present at start is followed from
	// its starting point (see Ready).
	ready   chan struct{}
	initial sync.WaitGroup

	mu        sync.Mutex
	followers map[string]*fileSource // by state key
	journals  map[string]*journalSource
}

// fileSource is one followed file of one jail. Its saved position never
// passes an offence JetStream has not stored yet: after a crash or a long
// NATS outage the agent reads those lines again (the Msg-Id makes that
// harmless), so the log file is the spool.
type fileSource struct {
	f    *tail.Follower
	pend pending[tail.Position]
	cur  tail.Position // the line being handled: its file and start
}

func (fs *fileSource) place() string {
	return strconv.FormatUint(fs.cur.Ino, 36) + "-" + strconv.FormatInt(fs.cur.Offset, 36)
}

func (fs *fileSource) hold() func() { fs.pend.push(fs.cur); return fs.pend.pop }

// resume is where to start again: before the oldest unsent offence, or
// after the last line read.
func (fs *fileSource) resume() tail.Position {
	if p, ok := fs.pend.first(); ok {
		return p
	}
	return fs.f.Position()
}

// journalSource is one jail's journal reader, with the same rule: its saved
// cursor never passes an unsent offence.
type journalSource struct {
	src    *journal.Source
	pend   pending[string]
	prev   string // cursor of the entry before the one being handled
	cursor string // cursor of the entry being handled
}

func (js *journalSource) place() string { return "j-" + hashString(js.cursor) }

func (js *journalSource) hold() func() { js.pend.push(js.prev); return js.pend.pop }

func (js *journalSource) resume() string {
	if c, ok := js.pend.first(); ok {
		return c
	}
	return js.src.Cursor()
}

// pending is a FIFO of marks of offences not yet stored (the publisher
// stores them in order).
type pending[M any] struct {
	mu sync.Mutex
	q  []M
}

func (p *pending[M]) push(m M) {
	p.mu.Lock()
	p.q = append(p.q, m)
	p.mu.Unlock()
}

func (p *pending[M]) pop() {
	p.mu.Lock()
	if len(p.q) > 0 {
		var zero M
		p.q[0] = zero
		p.q = p.q[1:]
	}
	p.mu.Unlock()
}

func (p *pending[M]) first() (M, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.q) == 0 {
		var zero M
		return zero, false
	}
	return p.q[0], true
}

// lineSource is what the handler needs of the source of a line, only when
// the line is a failure.
type lineSource interface {
	place() string // a source-unique id of the line's place
	hold() func()  // keeps the saved position before this line until the returned func is called
}

func newSources(a *Agent, state *tail.State, cursors *cursorStore) *sources {
	s := &sources{a: a, state: state, cursors: cursors, stats: &tail.Stats{}, jstats: &journal.Stats{},
		followers: map[string]*fileSource{}, journals: map[string]*journalSource{}, ready: make(chan struct{})}
	a.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "banfleet_agent_lines_too_long_total", Help: "Lines longer than the limit, skipped."}, func() float64 { return float64(s.stats.TooLong.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "banfleet_agent_log_rotations_total", Help: "Log rotations followed."}, func() float64 { return float64(s.stats.Rotations.Load() + s.stats.Truncations.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "banfleet_agent_journal_entries_total", Help: "Journal entries read."}, func() float64 { return float64(s.jstats.Entries.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "banfleet_agent_sources_ready", Help: "1 once every log file present at start is followed from its starting point."}, func() float64 {
			select {
			case <-s.ready:
				return 1
			default:
				return 0
			}
		}),
	)
	return s
}

// Run starts every source and returns when ctx ends. Every jail's filter
// and journal reader is built before anything starts, so a bad one is an
// error at start, never a half-started agent.
func (s *sources) Run(ctx context.Context) error {
	type plan struct {
		name      string
		j         config.AgentJail
		newFilter jailfilter.Factory
		journal   *journalSource
	}
	var plans []plan
	for _, name := range s.a.cfg.JailNames() {
		j := s.a.cfg.Jails[name]
		if !j.On() {
			continue
		}
		newFilter, err := jailfilter.New(name, j)
		if err != nil {
			return err
		}
		p := plan{name: name, j: j, newFilter: newFilter}
		if j.FromJournal() {
			if p.journal, err = s.journal(name, j.Backend, j.JournalMatch, j.FindTime); err != nil {
				return err
			}
		}
		plans = append(plans, p)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, p := range plans {
		if p.journal == nil {
			s.initial.Add(len(p.j.LogPath))
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.initial.Wait()
		if ctx.Err() != nil {
			return // stopping, never ready
		}
		close(s.ready)
		files, journals := s.counts()
		s.a.log.Info("log sources ready", "files", files, "journals", journals)
	}()
	for _, p := range plans {
		if p.journal != nil {
			h := s.a.handler(p.name, p.newFilter())
			wg.Add(1)
			go func() {
				defer wg.Done()
				js := p.journal
				js.prev = s.cursors.Get(p.name)
				err := js.src.Run(ctx, func(e journal.Entry) {
					js.cursor = e.Cursor
					h(e.Line, e.Time, js)
					js.prev = e.Cursor
				})
				if err != nil {
					s.a.log.Error("journal source stopped", "jail", p.name, "err", err)
				}
			}()
			continue
		}
		for _, glob := range p.j.LogPath {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.followGlob(ctx, p.name, glob, p.newFilter)
			}()
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.saveLoop(ctx)
	}()
	<-ctx.Done()
	return nil
}

// Ready is closed once every log file that exists at start (and every
// literal path, existing or not) is followed from its starting point, so
// that a line appended afterwards is read, even on a first run, which starts
// at the end of a file. Journals need no wait: they resume by cursor or read
// back findtime. The agent sends its first heartbeat only after this, so an
// agent the fleet lists is one that reads its logs.
func (s *sources) Ready() <-chan struct{} { return s.ready }

// counts is how many files and journals are being read.
func (s *sources) counts() (files, journals int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.followers), len(s.journals)
}

// followGlob follows every file glob names, now and as they appear. A glob
// without wildcards is a single path, followed even before it exists.
func (s *sources) followGlob(ctx context.Context, jail, glob string, newFilter jailfilter.Factory) {
	var wg sync.WaitGroup
	defer wg.Wait()
	started := map[string]bool{}
	literal := !strings.ContainsAny(glob, "*?[")
	firstScan := true
	initialDone := sync.OnceFunc(s.initial.Done) // also when returning early
	defer initialDone()
	for {
		var readies []<-chan struct{}
		paths := []string{glob}
		if !literal {
			var err error
			if paths, err = filepath.Glob(glob); err != nil {
				s.a.log.Error("bad log path glob", "jail", jail, "glob", glob, "err", err)
				return
			}
		}
		for _, p := range paths {
			if started[p] {
				continue
			}
			if fi, err := os.Stat(p); err == nil && fi.IsDir() {
				continue
			}
			started[p] = true
			key := jail + ":" + p
			f := tail.New(p, s.state.Get(key), tail.Options{Logger: s.a.log.With("log", p, "jail", jail), Stats: s.stats})
			fs := &fileSource{f: f}
			s.mu.Lock()
			s.followers[key] = fs
			s.mu.Unlock()
			h := s.a.handler(jail, newFilter())
			wg.Add(1)
			go func() {
				defer wg.Done()
				if s.a.beforeFollow != nil {
					s.a.beforeFollow()
				}
				err := f.Run(ctx, func(line []byte, start int64, pos tail.Position) {
					fs.cur = tail.Position{Dev: pos.Dev, Ino: pos.Ino, Offset: start}
					h(line, time.Time{}, fs)
				})
				if err != nil {
					s.a.log.Error("log source stopped", "jail", jail, "path", p, "err", err)
				}
			}()
			readies = append(readies, f.Ready())
			s.a.log.Info("following log", "jail", jail, "path", p)
		}
		if firstScan {
			firstScan = false
			for _, r := range readies {
				select {
				case <-r:
				case <-ctx.Done():
				}
			}
			initialDone()
		}
		if literal {
			<-ctx.Done()
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(rescanEvery):
		}
	}
}

// journal makes a jail's journal reader. The backend's options are
// Fail2Ban's: systemd[journalpath=DIR] reads the journal files of DIR,
// systemd[journalfiles="F1 F2"] those files (globs).
func (s *sources) journal(jail, backend string, match [][]string, since time.Duration) (*journalSource, error) {
	o := journal.Options{
		Match:  match,
		Cursor: s.cursors.Get(jail),
		Since:  since,
		Logger: s.a.log.With("journal", jail),
		Stats:  s.jstats,
	}
	if _, opts, err := fail2ban.ExtractOptions(backend); err == nil {
		o.Directory = opts["journalpath"]
		o.Files = strings.FieldsFunc(opts["journalfiles"], func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
	}
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("jail %s: journal: %w", jail, err)
	}
	src := &journalSource{src: journal.New(o)}
	s.mu.Lock()
	s.journals[jail] = src
	s.mu.Unlock()
	s.a.log.Info("reading journal", "jail", jail, "match", match)
	return src, nil
}

// saveLoop saves positions and cursors every second and at the end.
func (s *sources) saveLoop(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			s.save()
			return
		case <-t.C:
			s.save()
		}
	}
}

func (s *sources) save() {
	s.mu.Lock()
	for key, fs := range s.followers {
		s.state.Set(key, fs.resume())
	}
	for jail, js := range s.journals {
		if c := js.resume(); c != "" {
			s.cursors.Set(jail, c)
		}
	}
	s.mu.Unlock()
	if err := s.state.Save(); err != nil {
		s.a.log.Warn("positions not saved", "err", err)
	}
	if err := s.cursors.Save(); err != nil {
		s.a.log.Warn("journal cursors not saved", "err", err)
	}
}

// lineHandler takes one line, its time when the source knows it (the
// journal) or zero, and its source.
type lineHandler func(line []byte, at time.Time, src lineSource)

// handler returns the per-line function of one jail and one source. Only a
// failure allocates.
func (a *Agent) handler(jail string, flt filter.AtFilter) lineHandler {
	lines := a.lines.WithLabelValues(jail)
	failures := a.failures.WithLabelValues(jail)
	ignored := a.ignored.WithLabelValues(jail)
	unparsed := a.unparsed.WithLabelValues(jail)
	ignoreIP := a.cfg.Jails[jail].Ignore
	return func(line []byte, t time.Time, src lineSource) {
		lines.Inc()
		var fail filter.Failure
		var v filter.Verdict
		if t.IsZero() {
			fail, v = flt.Match(line, time.Now())
		} else {
			fail, v = flt.MatchAt(line, t)
		}
		switch v {
		case filter.Failed:
		case filter.Ignored:
			ignored.Inc()
			return
		case filter.BadLine:
			unparsed.Inc()
			return
		default:
			return
		}
		// Fail2Ban's ignoreip and ignoreself: not a failure on this host.
		addr := netaddr.Canonical(fail.Addr)
		if ignoreIP.Contains(addr) || a.own.Contains(addr) {
			ignored.Inc()
			return
		}
		failures.Inc()
		o := &wire.Offence{
			// The jail is part of the identity: two jails on one file that
			// both match a line count it each (JetStream keeps one message
			// per Msg-Id).
			ID:   publish.OffenceID(jail, src.place(), line),
			Host: a.cfg.Host,
			Jail: jail,
			Addr: addr,
			Time: fail.Time,
			Line: wire.CutLine(line),
			User: wire.CutUser(fail.User),
		}
		a.log.Debug("failure", "jail", jail, "addr", o.Addr, "user", o.User)
		a.decideAlone(jail, o.Addr, o.Time)
		done := src.hold()
		if !a.pub.Offer(a.runCtx, o, done) {
			return // stopping: the line is read again at the next start
		}
	}
}

func hashBytes(b []byte) string {
	h := fnv.New64a()
	h.Write(b)
	return strconv.FormatUint(h.Sum64(), 36)
}

func hashString(s string) string { return hashBytes([]byte(s)) }

// cursorStore keeps each journal jail's cursor in a JSON file.
type cursorStore struct {
	file  string
	mu    sync.Mutex
	m     map[string]string
	dirty bool
}

func loadCursors(file string) (*cursorStore, error) {
	c := &cursorStore{file: file, m: map[string]string{}}
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("journal cursors %s: %w", file, err)
	}
	if err := json.Unmarshal(data, &c.m); err != nil {
		return nil, fmt.Errorf("journal cursors %s: %w", file, err)
	}
	return c, nil
}

func (c *cursorStore) Get(jail string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[jail]
}

func (c *cursorStore) Set(jail, cursor string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m[jail] != cursor {
		c.m[jail] = cursor
		c.dirty = true
	}
}

func (c *cursorStore) Save() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.dirty {
		return nil
	}
	data, err := json.Marshal(c.m)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(c.file, data); err != nil {
		return err
	}
	c.dirty = false
	return nil
}
