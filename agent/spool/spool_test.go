package spool

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/shared/wire"
)

func offence(i int) *wire.Offence {
	return &wire.Offence{ID: fmt.Sprintf("x-%d", i), Host: "h1", Jail: "sshd", Addr: netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}),
		Time: time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC), Line: "Failed password"}
}

// sendAll takes every pending entry as the publisher does and returns their ids.
func sendAll(t *testing.T, s *Spool) []string {
	t.Helper()
	var ids []string
	for {
		o, next, ok, err := s.Next()
		require.NoError(t, err)
		if !ok {
			return ids
		}
		if o != nil {
			ids = append(ids, o.ID)
		}
		s.Done(next)
	}
}

func TestAppendSendReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool.jsonl")
	s, err := Open(path, 0)
	require.NoError(t, err)
	require.False(t, s.Pending())
	for i := range 5 {
		require.NoError(t, s.Append(offence(i)))
	}
	require.True(t, s.Pending())
	require.Equal(t, 5, s.Stats().Entries)
	// Two sent, then a restart.
	for range 2 {
		o, next, ok, err := s.Next()
		require.NoError(t, err)
		require.True(t, ok)
		require.NotNil(t, o)
		s.Done(next)
	}
	require.NoError(t, s.Close())

	s, err = Open(path, 0)
	require.NoError(t, err)
	require.Equal(t, 3, s.Stats().Entries)
	require.Equal(t, []string{"x-2", "x-3", "x-4"}, sendAll(t, s), "the rest, in order, once")
	st := s.Stats()
	require.Zero(t, st.Entries)
	require.Zero(t, st.Bytes)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Zero(t, fi.Size(), "emptied once all is sent")

	// Appends after emptying, then a crash (no Sync, no Close): the
	// recorded offset is 0, so nothing is skipped.
	require.NoError(t, s.Append(offence(7)))
	s2, err := Open(path, 0)
	require.NoError(t, err)
	require.Equal(t, []string{"x-7"}, sendAll(t, s2))
}

func TestTornEntryIsSkipped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool.jsonl")
	s, err := Open(path, 0)
	require.NoError(t, err)
	require.NoError(t, s.Append(offence(1)))
	require.NoError(t, s.Close())
	// A crash in the middle of writing the next one.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"v":1,"id":"x-2","ho`)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	s, err = Open(path, 0)
	require.NoError(t, err)
	require.NoError(t, s.Append(offence(3)), "a new entry after the torn one")
	require.Equal(t, []string{"x-1", "x-3"}, sendAll(t, s))
	require.EqualValues(t, 1, s.Stats().Bad)
}

func TestFull(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "spool.jsonl"), 600)
	require.NoError(t, err)
	n := 0
	for ; n < 100; n++ {
		if err := s.Append(offence(n)); err != nil {
			require.ErrorIs(t, err, ErrFull)
			break
		}
	}
	require.Positive(t, n)
	require.Less(t, n, 100)
	require.Len(t, sendAll(t, s), n, "what it took is all there")
	require.NoError(t, s.Append(offence(0)), "room again once sent")
}

// Handlers append while the publisher sends: each entry exactly once.
func TestConcurrent(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "spool.jsonl"), 0)
	require.NoError(t, err)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 250 {
				require.NoError(t, s.Append(offence(w*250+i)))
			}
		}()
	}
	seen := map[string]bool{}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for {
		ids := sendAll(t, s)
		for _, id := range ids {
			require.False(t, seen[id], "sent twice: %s", id)
			seen[id] = true
		}
		select {
		case <-done:
			for _, id := range sendAll(t, s) {
				seen[id] = true
			}
			require.Len(t, seen, 1000)
			return
		default:
		}
		require.NoError(t, s.Sync())
	}
}
