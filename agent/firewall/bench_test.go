package firewall

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// BenchmarkReconcile100k measures one Reconcile of 100k elements (half IPv4,
// half IPv6, one jail) in a throwaway namespace: from an empty table, and
// again when everything is already there (a dump of 100k elements plus a
// batch that refreshes all their timeouts).
func BenchmarkReconcile100k(b *testing.B) {
	ns := newNS(b)
	n := newBackend(b, ns)
	want := manyEntries("big", 100_000, time.Hour)

	b.Run("empty", func(b *testing.B) {
		for range b.N {
			b.StopTimer()
			if _, _, err := n.Reconcile(nil); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			added, _, err := n.Reconcile(want)
			if err != nil {
				b.Fatal(err)
			}
			if added != len(want) {
				b.Fatalf("added %d, want %d", added, len(want))
			}
		}
		b.ReportMetric(float64(len(want))*float64(b.N)/b.Elapsed().Seconds(), "elems/s")
	})
	b.Run("present", func(b *testing.B) {
		if _, _, err := n.Reconcile(want); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for range b.N {
			if added, removed, err := n.Reconcile(want); err != nil || added+removed != 0 {
				b.Fatalf("added %d, removed %d, err %v", added, removed, err)
			}
		}
		b.ReportMetric(float64(len(want))*float64(b.N)/b.Elapsed().Seconds(), "elems/s")
	})
}

// BenchmarkApply measures small Apply calls, as the agent makes them for
// live bans: each adds size fresh IPv4 addresses and deletes the previous
// call's, on top of 10k existing bans.
func BenchmarkApply(b *testing.B) {
	ns := newNS(b)
	n := newBackend(b, ns)
	if err := n.Apply(manyEntries("sshd", 10_000, time.Hour), nil); err != nil {
		b.Fatal(err)
	}
	for _, size := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			var prev []Entry
			for i := range b.N {
				add := make([]Entry, size)
				for j := range add {
					k := i*size + j
					add[j] = Entry{Jail: "sshd", Addr: netip.AddrFrom4([4]byte{172, 16 + byte(k>>16), byte(k >> 8), byte(k)}), Timeout: time.Hour}
				}
				if err := n.Apply(add, prev); err != nil {
					b.Fatal(err)
				}
				prev = add
			}
		})
	}
}
