package main

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/banfleet/banfleet/internal/testutil/authlog"
)

type report struct {
	Config     config          `json:"config"`
	Log        logInfo         `json:"log"`
	Machine    machineInfo     `json:"machine"`
	Banfleet   *banfleetResult `json:"banfleet"`
	Fail2Ban   *f2bInfo        `json:"fail2ban,omitempty"`
	Ratio      *ratios         `json:"ratio,omitempty"`
	Comparison *comparison     `json:"comparison,omitempty"`
}

type logInfo struct {
	File        string         `json:"file,omitempty"` // -log: a given file, not generated
	Lines       int            `json:"lines"`
	Bytes       int64          `json:"bytes"`
	Format      string         `json:"format"`
	Seed        int64          `json:"seed"`
	Failures    int            `json:"failure_lines"`
	Companions  int            `json:"companion_lines"`
	Noise       int            `json:"noise_lines"`
	Injections  int            `json:"injected_lines"`
	Connections int            `json:"attack_connections"`
	SourceAddrs int            `json:"source_addrs"`
	ByKind      map[string]int `json:"by_kind"`
}

func newLogInfo(cfg config, s authlog.Stats, bf *banfleetResult) logInfo {
	if cfg.Log != "" {
		return logInfo{File: cfg.Log, Lines: bf.Lines, Bytes: bf.Bytes, Format: "file"}
	}
	li := logInfo{
		Lines: s.Lines, Bytes: bf.Bytes, Format: cfg.Format.String(), Seed: cfg.Seed,
		Failures: s.ByClass[authlog.Failure], Companions: s.ByClass[authlog.Companion], Noise: s.ByClass[authlog.Noise],
		Injections: s.Injections, Connections: s.Connections, SourceAddrs: s.SourceAddrs,
		ByKind: map[string]int{},
	}
	for k, n := range s.ByKind {
		li.ByKind[string(k)] = n
	}
	return li
}

type f2bInfo struct {
	Version        string   `json:"version"`
	Args           []string `json:"args"`
	WallNS         int64    `json:"wall_ns"`
	UserNS         int64    `json:"user_ns"`
	SysNS          int64    `json:"sys_ns"`
	MaxRSSBytes    int64    `json:"max_rss_bytes"`
	LinesPerSec    float64  `json:"lines_per_sec"`
	LinesPerCPUSec float64  `json:"lines_per_cpu_sec"`
	Failures       int      `json:"failures"`
}

func newF2BInfo(r *authlog.Fail2BanResult, version string, lines int) *f2bInfo {
	return &f2bInfo{
		Version: version, Args: r.Args,
		WallNS: r.Wall.Nanoseconds(), UserNS: r.User.Nanoseconds(), SysNS: r.Sys.Nanoseconds(),
		MaxRSSBytes:    r.MaxRSS,
		LinesPerSec:    perSec(lines, r.Wall.Nanoseconds()),
		LinesPerCPUSec: perSec(lines, (r.User + r.Sys).Nanoseconds()),
		Failures:       len(r.Hits),
	}
}

// ratios are banfleet over Fail2Ban for speeds, Fail2Ban over banfleet for
// memory.
type ratios struct {
	// Speed compares banfleet's filtering pass with fail2ban-regex's wall
	// time; EndToEnd banfleet's pass including reading; CPU the lines per
	// CPU-second of both whole runs.
	Speed    float64 `json:"speed"`
	EndToEnd float64 `json:"end_to_end"`
	CPU      float64 `json:"cpu"`
	Memory   float64 `json:"memory"`
}

func newRatios(bf *banfleetResult, f *f2bInfo) *ratios {
	div := func(a, b float64) float64 {
		if b == 0 {
			return 0
		}
		return a / b
	}
	return &ratios{
		Speed:    div(bf.linesPerSec(), f.LinesPerSec),
		EndToEnd: div(perSec(bf.Lines, bf.E2ENS), f.LinesPerSec),
		CPU:      div(perSec(bf.Lines, bf.CPUNS), f.LinesPerCPUSec),
		Memory:   div(float64(f.MaxRSSBytes), float64(bf.PeakRSSBytes)),
	}
}

func (r *report) text(w io.Writer) error {
	var b strings.Builder
	bf, l := r.Banfleet, r.Log
	fmt.Fprintf(&b, "banfleet filterbench: %s filter vs fail2ban-regex, filter.d/sshd.conf (mode normal)\n", bf.Filter)
	if l.File != "" {
		fmt.Fprintf(&b, "log      %s: %s lines, %s (not generated: no ground truth)\n", l.File, num(l.Lines), mib(l.Bytes))
	} else {
		fmt.Fprintf(&b, "log      %s lines, %s, %s timestamps, seed %d: %s failure lines, %s companion lines, %s noise lines, %s lines with injected addresses; %s attacking connections from %s addresses\n",
			num(l.Lines), mib(l.Bytes), l.Format, l.Seed, num(l.Failures), num(l.Companions), num(l.Noise), num(l.Injections), num(l.Connections), num(l.SourceAddrs))
	}
	fmt.Fprintf(&b, "machine  %s, %d cores (load %s at start), %s\n\n", r.Machine.CPU, r.Machine.Cores, r.Machine.Load, r.Machine.Go)

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tlines/s\tns/line\tlines/CPU-s\tallocs/line\tpeak RSS\theap\t")
	fmt.Fprintf(tw, "banfleet (Go, GOMAXPROCS=1)\t%s\t%s\t%s\t%.3f\t%s\t%s\t\n",
		num(int(bf.linesPerSec())), num(int(bf.nsPerLine()+0.5)), num(int(perSec(bf.Lines, bf.CPUNS))), bf.allocsPerLine(), mib(bf.PeakRSSBytes), mib(int64(bf.HeapSysBytes)))
	if f := r.Fail2Ban; f != nil {
		fmt.Fprintf(tw, "fail2ban-regex %s (Python)\t%s\t%s\t%s\t-\t%s\t-\t\n",
			f.Version, num(int(f.LinesPerSec)), num(int(1e9/f.LinesPerSec)), num(int(f.LinesPerCPUSec)), mib(f.MaxRSSBytes))
		fmt.Fprintf(tw, "banfleet / fail2ban\t%.1fx\t\t%.1fx\t\t%.2fx\t\t\n", r.Ratio.Speed, r.Ratio.CPU, 1/r.Ratio.Memory)
	}
	tw.Flush()
	if busy(bf.E2ENS, bf.CPUNS) || r.Fail2Ban != nil && busy(r.Fail2Ban.WallNS, r.Fail2Ban.UserNS+r.Fail2Ban.SysNS) {
		b.WriteString("(the machine was busy: wall time exceeds CPU time by over 15 %; lines/CPU-s is the steadier comparison)\n")
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "banfleet  filtering %s, with reading %s (%s lines/s, CPU %s), best of %d passes; %d GCs, %s allocated per pass\n",
		secs(bf.FilterNS), secs(bf.E2ENS), num(int(perSec(bf.Lines, bf.E2ENS))), secs(bf.CPUNS), bf.Runs, bf.GCs, mib(int64(bf.AllocBytes)))
	matched := bf.Verdicts["failed"] + bf.Verdicts["ignored"]
	if matched > 0 {
		fmt.Fprintf(&b, "          verdicts %s; %.1f allocations per matched (failed or ignored) line\n", verdicts(bf.Verdicts), float64(bf.Mallocs)/float64(matched))
	}
	fmt.Fprintf(&b, "          peak RSS includes the process's %s before the passes (Go runtime, binary)\n", mib(bf.BaseRSSBytes))
	if !bf.PeakRSSReset {
		b.WriteString("          (peak RSS could not be reset after generating the log; it includes the generator)\n")
	}
	if f := r.Fail2Ban; f != nil {
		fmt.Fprintf(&b, "fail2ban  wall %s, CPU %s user + %s sys; fail2ban-regex %s\n",
			secs(f.WallNS), secs(f.UserNS), secs(f.SysNS), strings.Join(quoteArgs(f.Args[2:]), " "))
	}
	if c := r.Comparison; c != nil {
		b.WriteString("\n")
		verdict := "SAME"
		if !c.Same {
			verdict = fmt.Sprintf("DIFFERENT on %s lines", num(len(c.Diffs)))
		}
		fmt.Fprintf(&b, "failures (line, address): banfleet %s, fail2ban %s, in both %s: %s\n",
			num(c.Banfleet.Failures), num(c.Fail2Ban.Failures), num(c.Both), verdict)
		if !c.Truth {
			b.WriteString(examples(c.Diffs, false))
			_, err := io.WriteString(w, b.String())
			return err
		}
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "vs ground truth\tfailures\treal source\tinjected\tother addr\tnot attack\tmissed\tmissed hostless\t")
		for _, s := range []struct {
			name string
			a    accuracy
		}{{"banfleet", c.Banfleet}, {"fail2ban", c.Fail2Ban}} {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", s.name, num(s.a.Failures), num(s.a.Correct), num(s.a.Injected),
				num(s.a.Wrong), num(s.a.NotAttack), num(s.a.Missed), num(s.a.MissedHostless))
		}
		tw.Flush()
		if !c.Same {
			b.WriteString("differences:\n")
			for _, cl := range classOrder {
				fmt.Fprintf(&b, "  %-9s %7s  %s\n", cl, num(c.ByClass[cl]), classHelp[cl])
				if kinds := byCount(c.ByKind[cl]); kinds != "" {
					fmt.Fprintf(&b, "  %-9s %7s  %s\n", "", "", kinds)
				}
			}
			b.WriteString(examples(c.Diffs, true))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// examples lists every real disagreement (up to 20) and one line of each
// kind of the other classes; without ground truth (truth false), only the
// two filters' addresses.
func examples(diffs []lineDiff, truth bool) string {
	var b strings.Builder
	shown := map[string]int{}
	seen := map[string]bool{}
	for _, cl := range classOrder {
		for _, d := range diffs {
			if d.Class != cl {
				continue
			}
			if cl == classReal && shown[cl] >= 20 || cl != classReal && seen[cl+"/"+string(d.Kind)] {
				continue
			}
			seen[cl+"/"+string(d.Kind)] = true
			if shown[cl] == 0 {
				fmt.Fprintf(&b, "%s:\n", cl)
			}
			shown[cl]++
			fmt.Fprintf(&b, "  line %d", d.Line)
			if truth {
				fmt.Fprintf(&b, " (%s)", orDash(string(d.Kind)))
			}
			fmt.Fprintf(&b, ": fail2ban %s, banfleet %s (%s", addr(d.Fail2Ban), addr(d.Banfleet), d.Verdict)
			if d.Rule >= 0 {
				fmt.Fprintf(&b, ", rule %d", d.Rule)
			}
			b.WriteString(")")
			if truth {
				fmt.Fprintf(&b, ", real source %s", addr(d.True))
			}
			if d.Injected.IsValid() {
				fmt.Fprintf(&b, ", injected %s", d.Injected)
			}
			fmt.Fprintf(&b, "\n    %s\n", d.Text)
		}
	}
	return b.String()
}

func byCount(m map[string]int) string {
	type kv struct {
		k string
		n int
	}
	var s []kv
	for k, n := range m {
		s = append(s, kv{k, n})
	}
	sort.Slice(s, func(i, j int) bool {
		if s[i].n != s[j].n {
			return s[i].n > s[j].n
		}
		return s[i].k < s[j].k
	})
	parts := make([]string, len(s))
	for i, e := range s {
		parts[i] = e.k + " " + num(e.n)
	}
	return strings.Join(parts, ", ")
}

func verdicts(m map[string]int) string {
	var parts []string
	for _, v := range []string{"failed", "ignored", "nomatch", "badline"} {
		parts = append(parts, v+" "+num(m[v]))
	}
	return strings.Join(parts, ", ")
}

func quoteArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " \t<>") {
			a = strconv.Quote(a)
		}
		out[i] = a
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "noise"
	}
	return s
}

func addr(a interface {
	IsValid() bool
	String() string
}) string {
	if !a.IsValid() {
		return "-"
	}
	return a.String()
}

// busy reports a run that waited for the CPU: its wall time exceeds its
// CPU time (one thread) by more than 15 %.
func busy(wall, cpu int64) bool { return cpu > 0 && float64(wall) > 1.15*float64(cpu) }

func secs(ns int64) string { return fmt.Sprintf("%.3f s", float64(ns)/1e9) }

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// num formats n with thousands separators.
func num(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
