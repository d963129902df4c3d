// Command fleetsim measures the coordinator with a simulated fleet: N agents,
// each with its own NATS connection and login (the coordinator's nats.users,
// as the real agents log in), each writing a heartbeat and watching the bans
// bucket as the agent does, against the real `coord serve` binary on
// loopback. It reports:
//
//   - propagation: offences from three simulated hosts (maxretry 3) to the
//     ban seen by the watch of every one of the N agents, p50/p99/max;
//
//   - throughput: offences per second judged by the coordinator (published
//     with acks by the agents, counted from the coordinator's metrics),
//     against raw JetStream publishing of the same messages into a stream
//     nobody consumes, on the same server in the same run;
//
//   - the coordinator's memory per tracked (jail, address): its live Go
//     heap after a collection (read from its opt-in pprof endpoint, so the
//     windows, decide's maps and the embedded NATS server's per-message
//     state are all in it, and stream caches that expire are not) after the
//     throughput run and again after -grow more addresses; the slope
//     between the two is the cost of one more address. VmRSS is shown too
//     (it holds GC headroom and caches, not a per-address cost).
//
// Offences are published as the agent publishes them: with a Msg-Id (the
// stream keeps each id for its de-duplication window), and so is the raw
// JetStream run they are compared with.
//
//	go run ./e2e/cmd/fleetsim -agents 1000
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/banfleet/banfleet/agent/publish"
	"github.com/banfleet/banfleet/e2e/lab"
	"github.com/banfleet/banfleet/shared/subject"
	"github.com/banfleet/banfleet/shared/wire"
)

func main() {
	agents := flag.Int("agents", 1000, "simulated agents (each its own connection and login)")
	bans := flag.Int("bans", 100, "bans measured for propagation")
	offences := flag.Int("offences", 200_000, "offences for the throughput run (distinct addresses)")
	grow := flag.Int("grow", 900_000, "more distinct addresses after the throughput run, for the memory slope (0: no slope)")
	coordBin := flag.String("coord", "", "coord binary (default: built from this module)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the coordinator during the throughput run to this file")
	heapProfile := flag.String("heapprofile", "", "write a heap profile of the coordinator (after a collection) at the end to this file")
	flag.Parse()
	if err := run(*agents, *bans, *offences, *grow, *coordBin, *cpuProfile, *heapProfile); err != nil {
		log.Fatalf("fleetsim: %v", err)
	}
}

type sim struct {
	url      string
	metrics  string
	pprof    string
	password map[string]string
	coord    *exec.Cmd
}

func run(nAgents, nBans, nOffences, nGrow int, coordBin, cpuProfile, heapProfile string) error {
	dir, err := os.MkdirTemp("", "fleetsim-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if coordBin == "" {
		bins, err := lab.BuildBinaries(filepath.Join(dir, "bin"))
		if err != nil {
			return err
		}
		coordBin = bins.Coord
	}
	s := &sim{url: "nats://" + freeAddr(), metrics: freeAddr(), pprof: freeAddr(), password: map[string]string{}}
	if err := s.startCoord(dir, coordBin, nAgents); err != nil {
		return err
	}
	defer func() {
		_ = s.coord.Process.Signal(os.Interrupt)
		_ = s.coord.Wait()
	}()
	admin, err := s.connect("admin")
	if err != nil {
		return err
	}
	defer admin.Close()
	ajs, _ := jetstream.New(admin)
	if err := lab.WaitFor(30*time.Second, func() error {
		_, err := ajs.KeyValue(context.Background(), subject.AgentsBucket)
		return err
	}); err != nil {
		return fmt.Errorf("coordinator not ready: %w", err)
	}
	rssIdle, _ := rss(s.coord.Process.Pid)

	// The fleet: every agent connects, heartbeats and watches the bans.
	start := time.Now()
	fleet := make([]*agent, nAgents)
	var wg sync.WaitGroup
	errs := make(chan error, nAgents)
	sem := make(chan struct{}, 32)
	for i := range fleet {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			a, err := s.newAgent(fmt.Sprintf("s%04d", i))
			if err != nil {
				errs <- err
				return
			}
			fleet[i] = a
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	defer func() {
		for _, a := range fleet {
			a.close()
		}
	}()
	if err := lab.WaitFor(60*time.Second, func() error {
		v, err := s.metric("banfleet_coord_agents")
		if err == nil && int(v) != nAgents {
			err = fmt.Errorf("coordinator knows %v agents", v)
		}
		return err
	}); err != nil {
		return err
	}
	fmt.Printf("fleet: %d agents connected, heartbeating and watching the bans in %v\n", nAgents, time.Since(start).Round(time.Millisecond))
	rssFleet, _ := rss(s.coord.Process.Pid)

	// Propagation: three hosts report an address; when does every watch see the ban?
	var lat []time.Duration
	for k := range nBans {
		addr := netip.AddrFrom4([4]byte{198, 18, byte(k >> 8), byte(k)})
		key := subject.BanKey("sshd", addr)
		for _, a := range fleet {
			a.expect(key)
		}
		t0 := time.Now()
		for j := range 3 {
			if err := fleet[(k*3+j)%nAgents].offence(addr, k); err != nil {
				return err
			}
		}
		deadline := time.Now().Add(10 * time.Second)
		for _, a := range fleet {
			if err := a.wait(key, deadline); err != nil {
				return fmt.Errorf("ban %d: %w", k, err)
			}
		}
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }
	fmt.Printf("propagation (3 offences from 3 hosts -> ban seen by all %d watches), %d bans: p50 %v  p99 %v  max %v\n",
		nAgents, len(lat), q(0.5).Round(10*time.Microsecond), q(0.99).Round(10*time.Microsecond), lat[len(lat)-1].Round(10*time.Microsecond))

	// Throughput: the coordinator against raw JetStream publishing.
	heapFleet, err := s.liveHeap()
	if err != nil {
		return err
	}
	var profile chan error
	if cpuProfile != "" {
		// Long enough for the run on a loaded machine; what follows it is idle.
		profile = make(chan error, 1)
		go func() {
			profile <- s.cpuProfile(cpuProfile, 10*time.Second+time.Duration(nOffences)*50*time.Microsecond)
		}()
	}
	cpu0, _ := cpuTime(s.coord.Process.Pid)
	t0 := time.Now()
	published, err := s.judge(fleet, 0, nOffences)
	if err != nil {
		return err
	}
	coordRate := float64(nOffences) / time.Since(t0).Seconds()
	cpu1, _ := cpuTime(s.coord.Process.Pid)

	// Raw JetStream on the same server: the same messages into a stream
	// nobody consumes, published the same way (as many publishers as
	// agents, each its share, async with acks, with Msg-Ids), on admin's
	// connection (an agent's login may publish its offences only).
	if _, err := ajs.CreateStream(context.Background(), jetstream.StreamConfig{Name: "RAWBENCH", Subjects: []string{"rawbench.>"}, Storage: jetstream.FileStorage}); err != nil {
		return err
	}
	raw := make([]*agent, nAgents)
	for i := range raw {
		js, err := jetstream.New(admin)
		if err != nil {
			return err
		}
		raw[i] = &agent{host: fleet[i].host, js: js}
	}
	t1 := time.Now()
	if err := publishAll(raw, nOffences, func(a *agent, i int) (string, []byte, string) {
		_, data, id := offenceMsg(a.host, offenceID(i), netip.AddrFrom4([4]byte{100, 64 + byte(i>>16)&63, byte(i >> 8), byte(i)}))
		return "rawbench." + strconv.Itoa(i%subject.DefaultShards) + "." + a.host, data, "raw/" + id
	}); err != nil {
		return err
	}
	rawRate := float64(nOffences) / time.Since(t1).Seconds()
	cpu2, _ := cpuTime(s.coord.Process.Pid)
	_ = ajs.DeleteStream(context.Background(), "RAWBENCH")
	fmt.Printf("throughput, %d offences: coordinator %.0f offences/s judged (the fleet's publishing acked at %.0f/s), raw JetStream %.0f msgs/s stored: %.0f %%\n",
		nOffences, coordRate, float64(nOffences)/published.Seconds(), rawRate, 100*coordRate/rawRate)
	// On a machine others load too, wall time says as much about them as
	// about us: the coordinator process's CPU time per message (its
	// embedded server's included) is the cost itself.
	coordCPU, rawCPU := (cpu1-cpu0)/time.Duration(nOffences), (cpu2-cpu1)/time.Duration(nOffences)
	fmt.Printf("throughput by CPU time of the coordinator process: %v per offence judged (stored, delivered, judged), %v per raw message stored: %.0f %%\n",
		coordCPU, rawCPU, 100*float64(rawCPU)/float64(coordCPU))

	if profile != nil {
		if err := <-profile; err != nil {
			return err
		}
		fmt.Printf("coordinator CPU profile: %s\n", cpuProfile)
	}

	// Memory: the live heap after the throughput run's addresses, and
	// after more; the slope is what one more tracked address costs.
	heap1, err := s.liveHeap()
	if err != nil {
		return err
	}
	rss1, _ := rss(s.coord.Process.Pid)
	fmt.Printf("coordinator memory: idle VmRSS %.1f MiB; with %d agents VmRSS %.1f MiB, live heap %.1f MiB; after %d tracked addresses VmRSS %.1f MiB, live heap %.1f MiB (%.0f B per address over the fleet's)\n",
		mib(rssIdle), nAgents, mib(rssFleet), mib(heapFleet), nOffences, mib(rss1), mib(heap1), float64(heap1-heapFleet)/float64(nOffences))
	if nGrow > 0 {
		if _, err := s.judge(fleet, nOffences, nOffences+nGrow); err != nil {
			return err
		}
		heap2, err := s.liveHeap()
		if err != nil {
			return err
		}
		rss2, _ := rss(s.coord.Process.Pid)
		fmt.Printf("coordinator memory: after %d tracked addresses VmRSS %.1f MiB, live heap %.1f MiB; slope %d -> %d: %.0f B of live heap per tracked (jail, address), the embedded server's per-message state included (VmRSS %.0f B)\n",
			nOffences+nGrow, mib(rss2), mib(heap2), nOffences, nOffences+nGrow, float64(heap2-heap1)/float64(nGrow), float64(rss2-rss1)/float64(nGrow))
	}
	if heapProfile != "" {
		if err := s.profile(heapProfile, "heap?gc=1"); err != nil {
			return err
		}
		fmt.Printf("coordinator heap profile: %s\n", heapProfile)
	}
	return nil
}

// judge has the fleet publish offences lo..hi-1, each of a distinct
// address, and waits until the coordinator has judged them all as counted
// (no ban, no cap: each is a tracked address). It returns how long the
// publishing took, until the last ack.
func (s *sim) judge(fleet []*agent, lo, hi int) (time.Duration, error) {
	if hi > 1<<22 {
		return 0, fmt.Errorf("%d addresses: at most %d fit in 100.64.0.0/10", hi, 1<<22)
	}
	before, err := s.metricLabel("banfleet_coord_offences_total", `outcome="counted"`)
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	if err := publishAll(fleet, hi-lo, func(a *agent, i int) (string, []byte, string) {
		i += lo
		return offenceMsg(a.host, offenceID(i), netip.AddrFrom4([4]byte{100, 64 + byte(i>>16)&63, byte(i >> 8), byte(i)}))
	}); err != nil {
		return 0, err
	}
	published := time.Since(t0)
	return published, lab.WaitFor(10*time.Minute, func() error {
		v, err := s.metricLabel("banfleet_coord_offences_total", `outcome="counted"`)
		if err == nil && v-before < float64(hi-lo) {
			err = fmt.Errorf("%v of %d judged", v-before, hi-lo)
		}
		return err
	})
}

// offenceID is an offence id built as an agent builds it (from the jail,
// the line's place in its file and the line): the same size.
func offenceID(i int) string {
	return publish.OffenceID("sshd", "f1x2k9q7-"+strconv.FormatInt(int64(100*i), 36), []byte(strconv.Itoa(i)))
}

// liveHeap returns the coordinator's live Go heap right after a
// collection (runtime.MemStats.HeapAlloc as /debug/pprof/heap?gc=1 reports
// it), the lowest of a few readings a second apart: stream caches the
// embedded server lets expire are not a cost of what it tracks.
func (s *sim) liveHeap() (int64, error) {
	low := int64(-1)
	for range 6 {
		resp, err := http.Get("http://" + s.pprof + "/debug/pprof/heap?gc=1&debug=1")
		if err != nil {
			return 0, err
		}
		v := int64(-1)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if n, ok := strings.CutPrefix(sc.Text(), "# HeapAlloc = "); ok {
				v, err = strconv.ParseInt(n, 10, 64)
			}
		}
		resp.Body.Close()
		if err == nil {
			err = sc.Err()
		}
		if err == nil && v < 0 {
			err = errors.New("no HeapAlloc in the heap profile")
		}
		if err != nil {
			return 0, fmt.Errorf("coordinator heap: %w", err)
		}
		if low < 0 || v < low {
			low = v
		}
		time.Sleep(time.Second)
	}
	return low, nil
}

// cpuProfile writes a CPU profile of the coordinator of d to file.
func (s *sim) cpuProfile(file string, d time.Duration) error {
	return s.profile(file, fmt.Sprintf("profile?seconds=%d", int(d.Seconds())))
}

// profile writes the coordinator's profile /debug/pprof/<what> to file.
func (s *sim) profile(file, what string) error {
	resp, err := http.Get("http://" + s.pprof + "/debug/pprof/" + what)
	if err != nil {
		return fmt.Errorf("profile %s: %w", what, err)
	}
	defer resp.Body.Close()
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("profile %s: %w", what, err)
	}
	return f.Close()
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// publishAll publishes n messages spread over the agents, async with acks,
// at most 4000 (the client's default) outstanding per publisher.
func publishAll(pubs []*agent, n int, msg func(*agent, int) (subj string, data []byte, msgID string)) error {
	var wg sync.WaitGroup
	var failed atomic.Pointer[error] // the first failure
	per := (n + len(pubs) - 1) / len(pubs)
	sem := make(chan struct{}, 16)
	for p, a := range pubs {
		lo, hi := p*per, min((p+1)*per, n)
		if lo >= hi {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			for i := lo; i < hi; i++ {
				subj, data, id := msg(a, i)
				// A loaded machine may leave the publisher at its limit of
				// outstanding messages for longer than the stall wait.
				if _, err := a.js.PublishAsync(subj, data, jetstream.WithMsgID(id), jetstream.WithStallWait(30*time.Second)); err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
			}
			select {
			case <-a.js.PublishAsyncComplete():
			case <-time.After(60 * time.Second):
				err := errors.New("publish acks: timeout")
				failed.CompareAndSwap(nil, &err)
			}
		}()
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		return *err
	}
	return nil
}

func (s *sim) startCoord(dir, bin string, n int) error {
	var b strings.Builder
	fmt.Fprintf(&b, "name: sim\nnats:\n  listen: %s\n  store_dir: %s\n  users:\n", strings.TrimPrefix(s.url, "nats://"), filepath.Join(dir, "nats"))
	for i := range n {
		h := fmt.Sprintf("s%04d", i)
		s.password[h] = secret()
		fmt.Fprintf(&b, "    %s: {password: %q, role: agent}\n", h, s.password[h])
	}
	s.password["admin"] = secret()
	fmt.Fprintf(&b, "    admin: {password: %q, role: admin}\n", s.password["admin"])
	fmt.Fprintf(&b, "defaults: {maxretry: 3, findtime: 1h, bantime: 1h}\njails: {sshd: {maxretry: 3}}\nlimits: {offence_rate: 1000}\nmetrics: {listen: %q}\nlog: {level: warn}\n", s.metrics)
	cfg := filepath.Join(dir, "coord.yaml")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o600); err != nil {
		return err
	}
	s.coord = exec.Command(bin, "serve", "-c", cfg, "--pprof", s.pprof)
	s.coord.Stdout, s.coord.Stderr = os.Stderr, os.Stderr
	s.coord.Env = []string{"PATH=" + os.Getenv("PATH")}
	return s.coord.Start()
}

func (s *sim) connect(user string) (*nats.Conn, error) {
	opts := []nats.Option{nats.UserInfo(user, s.password[user]), nats.Name("banfleet-agent " + user), nats.MaxReconnects(-1)}
	if user != "admin" {
		opts = append(opts, nats.CustomInboxPrefix(subject.AgentInbox(user)))
	}
	var nc *nats.Conn
	err := lab.WaitFor(30*time.Second, func() error {
		var err error
		nc, err = nats.Connect(s.url, opts...)
		return err
	})
	return nc, err
}

func (s *sim) metric(name string) (float64, error) { return s.metricLabel(name, "") }

// metricLabel sums the series of name whose labels hold label ("": all).
func (s *sim) metricLabel(name, label string) (float64, error) {
	resp, err := http.Get("http://" + s.metrics + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sum, found := 0.0, false
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") || !strings.Contains(line, label) {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			sum, found = sum+v, true
		}
	}
	if !found {
		return 0, fmt.Errorf("metric %s not found", name)
	}
	return sum, sc.Err()
}

// agent is one simulated agent: a connection with its host's login, a
// heartbeat, and a watch of the bans bucket recording when keys arrive.
type agent struct {
	host string
	nc   *nats.Conn
	js   jetstream.JetStream
	w    jetstream.KeyWatcher

	mu     sync.Mutex
	seen   map[string]bool
	signal chan struct{}
}

func (s *sim) newAgent(host string) (*agent, error) {
	nc, err := s.connect(host)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", host, err)
	}
	js, _ := jetstream.New(nc)
	a := &agent{host: host, nc: nc, js: js, seen: map[string]bool{}, signal: make(chan struct{}, 1)}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var kv, bans jetstream.KeyValue
	if err := lab.WaitFor(30*time.Second, func() error {
		var err error
		if kv, err = js.KeyValue(ctx, subject.AgentsBucket); err == nil {
			bans, err = js.KeyValue(ctx, subject.BansBucket)
		}
		return err
	}); err != nil {
		return nil, fmt.Errorf("%s: buckets: %w", host, err)
	}
	hb, _ := wire.Encode(&wire.Heartbeat{Host: host, Version: "fleetsim", Started: time.Now(), Seen: time.Now(), Backend: "none"})
	if _, err := kv.Put(ctx, host, hb); err != nil {
		return nil, fmt.Errorf("%s: heartbeat: %w", host, err)
	}
	w, err := bans.WatchAll(context.Background(), jetstream.UpdatesOnly())
	if err != nil {
		return nil, fmt.Errorf("%s: watch: %w", host, err)
	}
	a.w = w
	go func() {
		for e := range w.Updates() {
			if e == nil || e.Operation() != jetstream.KeyValuePut {
				continue
			}
			a.mu.Lock()
			if _, want := a.seen[e.Key()]; want {
				a.seen[e.Key()] = true
				select {
				case a.signal <- struct{}{}:
				default:
				}
			}
			a.mu.Unlock()
		}
	}()
	return a, nil
}

func (a *agent) expect(key string) {
	a.mu.Lock()
	a.seen[key] = false
	a.mu.Unlock()
}

func (a *agent) wait(key string, deadline time.Time) error {
	for {
		a.mu.Lock()
		ok := a.seen[key]
		a.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-a.signal:
		case <-time.After(time.Until(deadline)):
			return fmt.Errorf("%s never saw %s", a.host, key)
		}
	}
}

func (a *agent) offence(addr netip.Addr, k int) error {
	subj, data, id := offenceMsg(a.host, publish.OffenceID("sshd", "p-"+strconv.Itoa(k), nil), addr)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := a.js.Publish(ctx, subj, data, jetstream.WithMsgID(id))
	return err
}

// offenceMsg is the subject, message and Msg-Id of an sshd offence of host
// for addr, as the agent publishes it.
func offenceMsg(host, id string, addr netip.Addr) (string, []byte, string) {
	o := wire.Offence{ID: id, Host: host, Jail: "sshd", Addr: addr, Time: time.Now(), User: "root",
		Line: "Dec  8 01:00:00 " + host + " sshd[4242]: Failed password for root from " + addr.String() + " port 22 ssh2"}
	data, _ := wire.Encode(&o)
	return subject.Offence(subject.Shard(addr, subject.DefaultShards), host), data, publish.MsgID(&o)
}

func (a *agent) close() {
	if a == nil {
		return
	}
	if a.w != nil {
		_ = a.w.Stop()
	}
	a.nc.Close()
}

func rss(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS")
}

// cpuTime is the user and system CPU time process pid has used.
func cpuTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The fields after the command (which may hold spaces) in parentheses.
	_, rest, ok := strings.Cut(string(data), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0, errors.New("/proc/pid/stat: unexpected format")
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	const hz = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / hz, nil
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func secret() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
