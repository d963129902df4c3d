package authlog

import (
	"bufio"
	"container/heap"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"time"
)

// Format is the timestamp format of generated lines.
type Format uint8

const (
	// Classic is RFC 3164 syslog: "Nov 26 06:35:46 host sshd[123]: …",
	// the wall clock of Options.Start's location, no year, no zone.
	Classic Format = iota
	// ISO is rsyslog's default file format on Debian 12 and Ubuntu 24.04:
	// "2026-11-26T06:35:46.123456+00:00 host sshd[123]: …".
	ISO
)

func (f Format) String() string {
	switch f {
	case Classic:
		return "classic"
	case ISO:
		return "iso"
	}
	return fmt.Sprintf("Format(%d)", uint8(f))
}

// ParseFormat parses "classic" or "iso".
func ParseFormat(s string) (Format, error) {
	switch s {
	case "classic":
		return Classic, nil
	case "iso":
		return ISO, nil
	}
	return 0, fmt.Errorf("log format %q (want classic or iso): %w", s, ErrOptions)
}

// DefaultLines is the number of lines Generate writes when Options.Lines is 0.
const DefaultLines = 1_000_000

// AttackShare is the share of lines that belong to attacking connections:
// failures and their companion lines.
const AttackShare = 0.30

// InjectionEvery is the mean distance in lines between two injection
// attempts (connections whose client-chosen text carries another address).
const InjectionEvery = 10_000

// Options configure Generate. The zero value is usable.
type Options struct {
	// Lines is the number of lines to write; 0 means DefaultLines.
	Lines int
	// Seed makes the output: the same Options give the same bytes.
	Seed int64
	// Start is the time of the first line; zero means
	// 2026-11-26T06:00:00Z. Its location is the one timestamps are
	// written in.
	Start time.Time
	// Host is the syslog host field; empty means "bastion".
	Host string
	// Format is the timestamp format.
	Format Format
	// Truth, when set, receives the ground truth as JSON lines, one
	// Truth per attack line (see WriteTruth and ReadTruth).
	Truth io.Writer
	// DiscardTruth leaves Stats.Truth empty, for big logs whose truth goes
	// to the Truth writer only.
	DiscardTruth bool
	// Kinds, when set, restricts attacking connections to the scenarios
	// that can produce one of these kinds (injection scenarios included,
	// then at the normal attack rate rather than once per 10,000 lines).
	// Noise is unchanged. Meant for small per-kind samples in tests.
	Kinds []Kind
}

// Truth is the ground truth of one line of an attacking connection.
type Truth struct {
	// Line is the 1-based line number in the generated log.
	Line int  `json:"line"`
	Kind Kind `json:"kind"`
	// Addr is the connection's real source address, also on lines that do
	// not name it (AccountLocked, TooManyAuthFailures, kex errors).
	Addr netip.Addr `json:"addr"`
	// Injected is the address the client wrote into its own text on this
	// line, if any.
	Injected netip.Addr `json:"injected,omitzero"`
	// Conn identifies the connection (the sshd pid, as Fail2Ban's F-MLFID
	// does with "host sshd[pid]").
	Conn int `json:"conn"`
}

// Stats describes a generated log.
type Stats struct {
	Lines int
	// ByKind counts lines per kind.
	ByKind map[Kind]int
	// ByClass counts lines per class (Noise, Failure, Companion).
	ByClass map[Class]int
	// Injections counts lines carrying an injected address.
	Injections int
	// Connections counts attacking connections; SourceAddrs the distinct
	// true source addresses of failure lines.
	Connections int
	SourceAddrs int
	// Start and End are the times of the first and last line.
	Start, End time.Time
	// Truth has one entry per attack line (failures and companions), in
	// line order, unless Options.DiscardTruth.
	Truth []Truth
}

// Failures is the number of lines of class Failure.
func (s Stats) Failures() int { return s.ByClass[Failure] }

// AttackShare is the share of lines that belong to attacking connections.
func (s Stats) AttackShare() float64 {
	if s.Lines == 0 {
		return 0
	}
	return float64(s.ByClass[Failure]+s.ByClass[Companion]) / float64(s.Lines)
}

// Generate writes a realistic, deterministic auth.log to w (see the package
// documentation) and returns what it wrote.
func Generate(w io.Writer, o Options) (Stats, error) {
	g, err := newGenerator(o)
	if err != nil {
		return Stats{}, err
	}
	if err := g.run(w); err != nil {
		return g.stats, err
	}
	return g.stats, nil
}

// WriteTruth writes truths as JSON lines.
func WriteTruth(w io.Writer, truths []Truth) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for i := range truths {
		if err := enc.Encode(&truths[i]); err != nil {
			return fmt.Errorf("write truth: %w", err)
		}
	}
	return bw.Flush()
}

// ReadTruth reads JSON lines written by WriteTruth or Options.Truth.
func ReadTruth(r io.Reader) ([]Truth, error) {
	var out []Truth
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	for {
		var t Truth
		if err := dec.Decode(&t); err == io.EOF {
			return out, nil
		} else if err != nil {
			return out, fmt.Errorf("read truth entry %d: %w", len(out)+1, err)
		}
		out = append(out, t)
	}
}

// pending is a line waiting for its time.
type pending struct {
	at        int64 // µs since Start
	seq       uint64
	kind      Kind
	tag       string
	msg       string
	addr, inj netip.Addr
	conn      int
}

type eventHeap []pending

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(pending)) }
func (h *eventHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

type generator struct {
	o     Options
	r     *rand.Rand
	att   *attackers
	h     eventHeap
	seq   uint64
	stats Stats

	attack, inject, noise []scenario

	nextPID     int
	nextSession int
	uptime0     int64 // kernel uptime at Start, µs

	schedAttack, schedTotal int
	nextInject              int

	sources map[netip.Addr]struct{}
	enc     *json.Encoder
}

// meanArrival is the mean time between two scenarios (connections, cron
// runs, …): with about 3.5 lines per scenario, a million lines span about
// six days.
const meanArrival = 1600 * time.Millisecond

func newGenerator(o Options) (*generator, error) {
	if o.Lines < 0 {
		return nil, fmt.Errorf("lines %d: %w", o.Lines, ErrOptions)
	}
	if o.Lines == 0 {
		o.Lines = DefaultLines
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)
	}
	if o.Host == "" {
		o.Host = "bastion"
	}
	if o.Format != Classic && o.Format != ISO {
		return nil, fmt.Errorf("format %v: %w", o.Format, ErrOptions)
	}
	for _, k := range o.Kinds {
		if _, ok := kinds[k]; !ok {
			return nil, fmt.Errorf("kind %q: %w", k, ErrOptions)
		}
	}
	r := rand.New(rand.NewPCG(uint64(o.Seed), 0x62616e666c656574))
	g := &generator{
		o:       o,
		r:       r,
		att:     newAttackers(r),
		nextPID: 2000 + r.IntN(30000),
		uptime0: int64(3600+r.IntN(30*86400)) * 1e6,
		sources: map[netip.Addr]struct{}{},
		stats: Stats{
			ByKind:  map[Kind]int{},
			ByClass: map[Class]int{},
		},
	}
	g.nextSession = 1 + r.IntN(500)
	g.nextInject = InjectionEvery/2 + r.IntN(InjectionEvery)
	g.attack, g.inject, g.noise = attackScenarios, injectScenarios, noiseScenarios
	if len(o.Kinds) > 0 {
		g.attack = append(filterScenarios(attackScenarios, o.Kinds), filterScenarios(injectScenarios, o.Kinds)...)
		g.inject = nil
		if len(g.attack) == 0 {
			return nil, fmt.Errorf("no scenario produces kinds %v: %w", o.Kinds, ErrOptions)
		}
	}
	if o.Truth != nil {
		g.enc = json.NewEncoder(o.Truth)
	}
	return g, nil
}

func filterScenarios(all []scenario, want []Kind) []scenario {
	var out []scenario
	for _, s := range all {
		if s.produces(want) {
			out = append(out, s)
		}
	}
	return out
}

func (g *generator) run(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	var (
		buf         []byte
		nextArrival int64
		last        int64 = -1
	)
	for g.stats.Lines < g.o.Lines {
		if len(g.h) == 0 || nextArrival <= g.h[0].at {
			g.spawn(nextArrival)
			nextArrival += int64(g.r.ExpFloat64() * float64(meanArrival/time.Microsecond))
			continue
		}
		p := heap.Pop(&g.h).(pending)
		// Strictly increasing timestamps (µs): ISO lines are unique.
		if p.at <= last {
			p.at = last + 1
		}
		last = p.at
		t := g.o.Start.Add(time.Duration(p.at) * time.Microsecond)
		buf = g.format(buf[:0], t, &p)
		if _, err := bw.Write(buf); err != nil {
			return fmt.Errorf("write log line %d: %w", g.stats.Lines+1, err)
		}
		if err := g.count(&p, t); err != nil {
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write log: %w", err)
	}
	g.stats.SourceAddrs = len(g.sources)
	g.sources = nil
	return nil
}

func (g *generator) format(b []byte, t time.Time, p *pending) []byte {
	if g.o.Format == ISO {
		b = t.AppendFormat(b, "2006-01-02T15:04:05.000000-07:00")
	} else {
		b = t.AppendFormat(b, "Jan _2 15:04:05")
	}
	b = append(b, ' ')
	b = append(b, g.o.Host...)
	b = append(b, ' ')
	b = append(b, p.tag...)
	b = append(b, ": "...)
	if p.kind == UFWBlock {
		// The kernel's uptime stamp is the line's own time.
		us := g.uptime0 + p.at
		b = fmt.Appendf(b, "[%5d.%06d] ", us/1e6, us%1e6)
	}
	b = append(b, p.msg...)
	return append(b, '\n')
}

func (g *generator) count(p *pending, t time.Time) error {
	s := &g.stats
	s.Lines++
	if s.Lines == 1 {
		s.Start = t
	}
	s.End = t
	s.ByKind[p.kind]++
	c := p.kind.Class()
	s.ByClass[c]++
	if p.inj.IsValid() {
		s.Injections++
	}
	if c == Noise {
		return nil
	}
	if c == Failure {
		g.sources[p.addr] = struct{}{}
	}
	tr := Truth{Line: s.Lines, Kind: p.kind, Addr: p.addr, Injected: p.inj, Conn: p.conn}
	if !g.o.DiscardTruth {
		s.Truth = append(s.Truth, tr)
	}
	if g.enc != nil {
		if err := g.enc.Encode(&tr); err != nil {
			return fmt.Errorf("write truth for line %d: %w", s.Lines, err)
		}
	}
	return nil
}

// spawn starts one scenario at time at (µs), choosing between attack and
// noise so that the lines scheduled so far keep AttackShare.
func (g *generator) spawn(at int64) {
	var sc *scenario
	switch {
	case g.inject != nil && g.stats.Lines >= g.nextInject:
		sc = pick(g.r, g.inject)
		g.nextInject += InjectionEvery/2 + g.r.IntN(InjectionEvery)
	case float64(g.schedAttack) < AttackShare*float64(g.schedTotal+1):
		sc = pick(g.r, g.attack)
	default:
		sc = pick(g.r, g.noise)
	}
	s := &script{g: g, at: at}
	if sc.attack {
		s.addr = g.att.next(g.r)
		s.sshd()
		g.stats.Connections++
	}
	sc.build(s)
	for _, p := range s.lines {
		g.seq++
		p.seq = g.seq
		heap.Push(&g.h, p)
		g.schedTotal++
		if p.kind.Class() != Noise {
			g.schedAttack++
		}
	}
}

func pick(r *rand.Rand, list []scenario) *scenario {
	total := 0.0
	for i := range list {
		total += list[i].weight
	}
	x := r.Float64() * total
	for i := range list {
		x -= list[i].weight
		if x < 0 {
			return &list[i]
		}
	}
	return &list[len(list)-1]
}
