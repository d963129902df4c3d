package e2e

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vishvananda/netns"

	"github.com/banfleet/banfleet/agent/enforce"
	"github.com/banfleet/banfleet/agent/firewall"
	"github.com/banfleet/banfleet/coordinator/natsd"
	"github.com/banfleet/banfleet/shared/bans"
	"github.com/banfleet/banfleet/shared/subject"
	"github.com/banfleet/banfleet/shared/wire"
)

// scaleNATSEnv, set to a storage directory, makes TestScaleNATSServer run
// a NATS server (in the child process BenchmarkBucketToKernel starts, so
// that the agent's memory is measured without the server's).
const scaleNATSEnv = "BANFLEET_SCALE_NATS_DIR"

// TestScaleNATSServer is BenchmarkBucketToKernel's NATS server: it prints
// its URL and runs until its standard input closes. Without scaleNATSEnv
// it does nothing.
func TestScaleNATSServer(t *testing.T) {
	dir := os.Getenv(scaleNATSEnv)
	if dir == "" {
		t.Skip("only run by BenchmarkBucketToKernel")
	}
	srv, err := natsd.Start(natsd.Options{Listen: "127.0.0.1:0", StoreDir: dir, Name: "scale"})
	if err != nil {
		t.Fatalf("start nats: %v", err)
	}
	defer srv.Shutdown()
	fmt.Printf("URL %s\n", srv.ClientURL())
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// BenchmarkBucketToKernel measures one agent's enforcer taking a bans
// bucket of BANFLEET_BANS bans (default 1,000,000) into the kernel, reading
// the bucket through a pull consumer (sub-benchmark pull: Options.JetStream)
// or a KV watch (kvwatch; BANFLEET_SCALE_WATCH picks, e.g. "pull"; the
// modes read-last, read-all and read-last-16k measure NATS alone, reading
// the bucket with no enforcer, read_s): from
// the enforcer's start until every ban is written and acknowledged by the
// kernel (applied_s: Synced) and until Lag says the host is complete (no
// revision behind, the kernel's element count, walked, equal to the
// desired one: verified_s). It compares that with `nft -f` loading the same
// elements into a set, and reports the agent's peak RSS (VmHWM, reset after
// the bucket is filled; the NATS server runs in a child process) and its
// peak Go heap (sampled every 50 ms), with no memory limit unless
// GOMEMLIMIT sets one (the agent's daemon sets a soft limit of its own;
// the enforcer is measured without it). Both run in network namespaces
// the benchmark makes and removes.
//
//	BANFLEET_E2E=1 go test -run '^$' -bench BenchmarkBucketToKernel -benchtime 1x -v ./e2e/
func BenchmarkBucketToKernel(b *testing.B) {
	if os.Geteuid() != 0 {
		if os.Getenv("BANFLEET_E2E") == "1" {
			b.Fatal("BenchmarkBucketToKernel needs root for nftables in network namespaces (BANFLEET_E2E=1 forbids skipping)")
		}
		b.Skip("needs root")
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Fatalf("BenchmarkBucketToKernel needs %s: %v", tool, err)
		}
	}
	n := 1_000_000
	if s := os.Getenv("BANFLEET_BANS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 || v > 1<<24 {
			b.Fatalf("BANFLEET_BANS=%q: want 1..16777216", s)
		}
		n = v
	}
	url := startScaleNATS(b)
	nc, err := nats.Connect(url)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(8192))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	st, err := bans.Open(ctx, js, true, 1)
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	addrs := fillScaleBucket(b, js, n)
	b.Logf("bucket filled with %d bans in %v", n, time.Since(t0).Round(time.Millisecond))

	// nft -f with the same elements.
	nftTime := nftLoad(b, addrs)
	b.ReportMetric(nftTime.Seconds(), "nft-f_s")
	addrs = nil

	modes := []string{"pull", "kvwatch"}
	if m := os.Getenv("BANFLEET_SCALE_WATCH"); m != "" {
		modes = strings.Split(m, ",")
	}
	for _, mode := range modes {
		switch mode {
		case "read-last", "read-all", "read-last-16k":
			b.Run(mode, func(b *testing.B) { readBucket(ctx, b, js, n, mode != "read-all", mode == "read-last-16k") })
		default:
			b.Run(mode, func(b *testing.B) { bucketToKernel(ctx, b, js, st, n, nftTime, mode == "pull") })
		}
	}
}

// readBucket measures NATS alone: an ordered pull consumer reading the
// whole bucket (the last value of each key, or every message: the same
// with the bucket's history of one), as the enforcer's pull reader does,
// doing nothing with the messages.
func readBucket(ctx context.Context, b *testing.B, js jetstream.JetStream, n int, lastPerSubject, big bool) {
	for range b.N {
		start := time.Now()
		stream, err := js.Stream(ctx, "KV_"+subject.BansBucket)
		if err != nil {
			b.Fatal(err)
		}
		policy := jetstream.DeliverAllPolicy
		if lastPerSubject {
			policy = jetstream.DeliverLastPerSubjectPolicy
		}
		cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{"$KV." + subject.BansBucket + ".>"}, DeliverPolicy: policy})
		if err != nil {
			b.Fatal(err)
		}
		batch := 4096
		if big {
			batch = 16384
		}
		it, err := cons.Messages(jetstream.PullMaxMessages(batch))
		if err != nil {
			b.Fatal(err)
		}
		got := 0
		for {
			m, err := it.Next()
			if err != nil {
				b.Fatal(err)
			}
			got++
			meta, err := m.Metadata()
			if err != nil {
				b.Fatal(err)
			}
			if meta.NumPending == 0 {
				break
			}
		}
		it.Stop()
		b.ReportMetric(time.Since(start).Seconds(), "read_s")
		b.Logf("read %d of %d messages in %v", got, n, time.Since(start).Round(time.Millisecond))
	}
}

// bucketToKernel runs one enforcer (through a pull consumer or a KV watch)
// on the filled bucket until the kernel is complete.
func bucketToKernel(ctx context.Context, b *testing.B, js jetstream.JetStream, st *bans.Store, n int, nftTime time.Duration, pull bool) {
	var ejs jetstream.JetStream
	if pull {
		ejs = js
	}
	for range b.N {
		fw, done := scaleBackend(b)
		runtime.GC()
		debug.FreeOSMemory()
		resetHWM(b)
		rssBefore := procStatus(b, "VmRSS")
		e := enforce.New(enforce.Options{Backend: fw, JetStream: ejs, Jails: []firewall.JailSpec{{Name: "sshd", Ports: []uint16{22}}}, Host: "h1",
			Reconcile: time.Hour, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), Registry: prometheus.NewRegistry()})
		rctx, stop := context.WithCancel(ctx)
		ran := make(chan struct{})
		b.ResetTimer()
		start := time.Now()
		go func() { _ = e.Run(rctx, st.KV()); close(ran) }()
		var heapPeak uint64
		var ms runtime.MemStats
		var applied time.Duration
		for {
			runtime.ReadMemStats(&ms)
			heapPeak = max(heapPeak, ms.HeapInuse)
			behind, kernel, desired := e.Lag()
			if applied == 0 && e.Synced() && e.Desired() == n {
				applied = time.Since(start)
				b.Logf("every ban written and acknowledged by the kernel after %v", applied.Round(time.Millisecond))
			}
			if behind == 0 && kernel == n && desired == n {
				break
			}
			if time.Since(start) > 20*time.Minute {
				b.Fatalf("not complete after 20 minutes: behind %d, kernel %d, desired %d", behind, kernel, desired)
			}
			time.Sleep(50 * time.Millisecond)
		}
		took := time.Since(start)
		b.StopTimer()
		hwm := procStatus(b, "VmHWM")
		runtime.GC()
		runtime.ReadMemStats(&ms)
		b.ReportMetric(applied.Seconds(), "applied_s")
		b.ReportMetric(took.Seconds(), "verified_s")
		b.ReportMetric(float64(hwm)/(1<<20), "peakRSS_MiB")
		b.ReportMetric(float64(hwm-min(hwm, rssBefore))/(1<<20), "peakRSSgrowth_MiB")
		b.ReportMetric(float64(heapPeak)/(1<<20), "peakHeap_MiB")
		b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "liveHeap_MiB")
		limit := "none"
		if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
			limit = fmt.Sprintf("%d MiB", l>>20)
		}
		b.Logf("agent: %d bans written in %v, verified by a walk of the kernel at %v (nft -f: %v); RSS %d MiB before, peak %d MiB; Go heap peak %d MiB, live after GC %d MiB; GOGC %s, memory limit %s",
			n, applied.Round(time.Millisecond), took.Round(time.Millisecond), nftTime.Round(time.Millisecond), rssBefore>>20, hwm>>20, heapPeak>>20, ms.HeapAlloc>>20,
			cmp.Or(os.Getenv("GOGC"), "100"), limit)
		stop()
		<-ran
		done()
	}
}

// startScaleNATS runs TestScaleNATSServer in a child process and returns
// its URL; the child ends with the benchmark.
func startScaleNATS(b *testing.B) string {
	cmd := exec.Command(os.Args[0], "-test.run", "^TestScaleNATSServer$", "-test.bench", "^$")
	cmd.Env = append(os.Environ(), scaleNATSEnv+"="+b.TempDir())
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	})
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if url, ok := strings.CutPrefix(sc.Text(), "URL "); ok {
			go func() { _, _ = io.Copy(io.Discard, out) }()
			return url
		}
	}
	b.Fatalf("NATS child gave no URL: %v", sc.Err())
	return ""
}

// fillScaleBucket publishes n bans straight to the key subjects with async
// publishes, and returns their addresses.
func fillScaleBucket(b *testing.B, js jetstream.JetStream, n int) []netip.Addr {
	now := time.Now()
	addrs := make([]netip.Addr, n)
	for i := range n {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		addrs[i] = a
		ban := &wire.Ban{V: wire.Version, Addr: a, Jail: "sshd", Ports: []uint16{22}, Reason: wire.Reason{Count: 3, Hosts: []string{"h1", "h2", "h3"}},
			Created: now, Expires: now.Add(6 * time.Hour), By: "coord", Count: 1}
		data, err := wire.Encode(ban)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := js.PublishAsync("$KV."+subject.BansBucket+"."+bans.Key(ban), data, jetstream.WithMsgTTL(6*time.Hour)); err != nil {
			b.Fatalf("publish ban %d: %v", i, err)
		}
		if i%4096 == 4095 {
			select {
			case <-js.PublishAsyncComplete():
			case <-time.After(time.Minute):
				b.Fatal("publishes not acknowledged")
			}
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		b.Fatal("publishes not acknowledged")
	}
	return addrs
}

// scaleNS makes a throwaway network namespace and returns its name and a
// handle; both go when the benchmark ends (or done is called).
func scaleNS(b *testing.B) (string, netns.NsHandle, func()) {
	name := fmt.Sprintf("bfscale-%d-%08x", os.Getpid(), rand.Uint32())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		b.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	h, err := netns.GetFromName(name)
	if err != nil {
		_ = exec.Command("ip", "netns", "del", name).Run()
		b.Fatal(err)
	}
	removed := false
	done := func() {
		if removed {
			return
		}
		removed = true
		_ = h.Close()
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			b.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	}
	b.Cleanup(done)
	self, err := netns.Get()
	if err != nil {
		b.Fatal(err)
	}
	defer self.Close()
	if h.Equal(self) {
		b.Fatal("the benchmark's namespace is the process's own")
	}
	return name, h, done
}

func scaleBackend(b *testing.B) (*firewall.Nftables, func()) {
	_, h, done := scaleNS(b)
	fw, err := firewall.NewNftables(firewall.NftOptions{NetNS: int(h)})
	if err != nil {
		b.Fatal(err)
	}
	return fw, func() { _ = fw.Close(); done() }
}

// nftLoad loads addrs into a timeout set with `nft -f` in a namespace of
// its own and returns how long nft took.
func nftLoad(b *testing.B, addrs []netip.Addr) time.Duration {
	name, _, done := scaleNS(b)
	defer done()
	path := filepath.Join(b.TempDir(), "bans.nft")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintf(w, "table inet bench {\n\tset sshd_v4 {\n\t\ttype ipv4_addr\n\t\tflags timeout\n\t\telements = {\n")
	for i, a := range addrs {
		sep := ","
		if i == len(addrs)-1 {
			sep = ""
		}
		fmt.Fprintf(w, "\t\t\t%s timeout 6h%s\n", a, sep)
	}
	fmt.Fprintf(w, "\t\t}\n\t}\n}\n")
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if out, err := exec.Command("ip", "netns", "exec", name, "nft", "-f", path).CombinedOutput(); err != nil {
		b.Fatalf("nft -f: %v: %s", err, out)
	}
	took := time.Since(start)
	out, err := exec.Command("ip", "netns", "exec", name, "sh", "-c", "nft list set inet bench sshd_v4 | grep -o timeout | wc -l").CombinedOutput()
	if err != nil {
		b.Fatalf("count nft elements: %v: %s", err, out)
	}
	b.Logf("nft -f: %d elements in %v (counted %s)", len(addrs), took.Round(time.Millisecond), strings.TrimSpace(string(out)))
	return took
}

// resetHWM resets the process's peak RSS (VmHWM).
func resetHWM(b *testing.B) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Fatalf("reset peak RSS: %v", err)
	}
}

// procStatus returns a /proc/self/status field in bytes.
func procStatus(b *testing.B, field string) uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				b.Fatalf("%s: %v", field, err)
			}
			return kb << 10
		}
	}
	b.Fatalf("no %s in /proc/self/status", field)
	return 0
}
