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
//   - the coordinator's memory (VmRSS) with the fleet connected, and per
//     tracked (jail, address) after the throughput run.
//
//     go run ./e2e/cmd/fleetsim -agents 1000
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
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

	"github.com/banfleet/banfleet/e2e/lab"
	"github.com/banfleet/banfleet/shared/subject"
	"github.com/banfleet/banfleet/shared/wire"
)

func main() {
	agents := flag.Int("agents", 1000, "simulated agents (each its own connection and login)")
	bans := flag.Int("bans", 100, "bans measured for propagation")
	offences := flag.Int("offences", 200_000, "offences for the throughput run (distinct addresses)")
	coordBin := flag.String("coord", "", "coord binary (default: built from this module)")
	flag.Parse()
	if err := run(*agents, *bans, *offences, *coordBin); err != nil {
		log.Fatalf("fleetsim: %v", err)
	}
}

type sim struct {
	url      string
	metrics  string
	password map[string]string
	coord    *exec.Cmd
}

func run(nAgents, nBans, nOffences int, coordBin string) error {
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
	s := &sim{url: "nats://" + freeAddr(), metrics: freeAddr(), password: map[string]string{}}
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
	before, err := s.metric("banfleet_coord_offences_total")
	if err != nil {
		return err
	}
	t0 := time.Now()
	if err := publishAll(fleet, nOffences, func(a *agent, i int) (string, []byte) {
		return offenceMsg(a.host, fmt.Sprintf("%s-t%d", a.host, i), netip.AddrFrom4([4]byte{100, 64 + byte(i>>16)&63, byte(i >> 8), byte(i)}))
	}); err != nil {
		return err
	}
	if err := lab.WaitFor(120*time.Second, func() error {
		v, err := s.metric("banfleet_coord_offences_total")
		if err == nil && v-before < float64(nOffences) {
			err = fmt.Errorf("%v of %d judged", v-before, nOffences)
		}
		return err
	}); err != nil {
		return err
	}
	coordRate := float64(nOffences) / time.Since(t0).Seconds()

	// Raw JetStream on the same server: the same number of messages into a
	// stream nobody consumes, published the same way (admin's connection,
	// async with acks).
	if _, err := ajs.CreateStream(context.Background(), jetstream.StreamConfig{Name: "RAWBENCH", Subjects: []string{"rawbench.>"}, Storage: jetstream.FileStorage}); err != nil {
		return err
	}
	payload := make([]byte, 200)
	t1 := time.Now()
	if err := publishAll([]*agent{{js: ajs}}, nOffences, func(_ *agent, i int) (string, []byte) {
		return "rawbench." + strconv.Itoa(i%16), payload
	}); err != nil {
		return err
	}
	rawRate := float64(nOffences) / time.Since(t1).Seconds()
	_ = ajs.DeleteStream(context.Background(), "RAWBENCH")
	fmt.Printf("throughput, %d offences: coordinator %.0f offences/s judged, raw JetStream %.0f msgs/s stored: %.0f %%\n",
		nOffences, coordRate, rawRate, 100*coordRate/rawRate)

	rssAfter, _ := rss(s.coord.Process.Pid)
	fmt.Printf("coordinator memory (VmRSS): idle %.1f MiB, with %d agents %.1f MiB, after %d tracked addresses %.1f MiB (%.0f bytes per address, the embedded NATS server's share included)\n",
		mib(rssIdle), nAgents, mib(rssFleet), nOffences, mib(rssAfter), float64(rssAfter-rssFleet)/float64(nOffences))
	return nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// publishAll publishes n messages spread over the agents, async with acks,
// at most 4096 outstanding per publisher.
func publishAll(pubs []*agent, n int, msg func(*agent, int) (string, []byte)) error {
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
				subj, data := msg(a, i)
				if _, err := a.js.PublishAsync(subj, data); err != nil {
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
	s.coord = exec.Command(bin, "serve", "-c", cfg)
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

func (s *sim) metric(name string) (float64, error) {
	resp, err := http.Get("http://" + s.metrics + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sum, found := 0.0, false
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
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
	subj, data := offenceMsg(a.host, fmt.Sprintf("%s-p%d", a.host, k), addr)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := a.js.Publish(ctx, subj, data)
	return err
}

// offenceMsg is the subject and message of an sshd offence of host for addr.
func offenceMsg(host, id string, addr netip.Addr) (string, []byte) {
	o := wire.Offence{ID: id, Host: host, Jail: "sshd", Addr: addr, Time: time.Now(), Line: "Failed password for root from " + addr.String() + " port 22 ssh2"}
	data, _ := wire.Encode(&o)
	return subject.Offence(subject.Shard(addr, subject.DefaultShards), host), data
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
