package firewall

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestNone(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	b := NewNone(nil)
	b.now = func() time.Time { return now }

	require.NoError(t, b.Declare(JailSpec{Name: "sshd", Ports: []uint16{22}}))
	require.ErrorIs(t, b.Declare(JailSpec{Name: "bad", Proto: "icmp"}), ErrInvalidSpec)

	require.NoError(t, b.Apply([]Entry{
		e("sshd", "192.0.2.1", time.Minute),
		e("sshd", "2001:db8::1", 0),
		e("web", "192.0.2.1", time.Hour),
	}, []Entry{e("sshd", "192.0.2.99", 0)})) // deleting a missing entry is fine

	got, err := b.List()
	require.NoError(t, err)
	require.Equal(t, []Entry{
		e("sshd", "192.0.2.1", time.Minute),
		e("sshd", "2001:db8::1", 0),
		e("web", "192.0.2.1", time.Hour),
	}, got)

	now = now.Add(time.Minute) // the first ban expires
	got, err = b.List()
	require.NoError(t, err)
	require.Equal(t, []Entry{e("sshd", "2001:db8::1", 0), e("web", "192.0.2.1", 59*time.Minute)}, got)

	added, removed, err := b.Reconcile([]Entry{e("web", "192.0.2.1", 2*time.Hour), e("web", "192.0.2.2", 0)})
	require.NoError(t, err)
	require.Equal(t, 1, added)
	require.Equal(t, 1, removed)
	got, err = b.List()
	require.NoError(t, err)
	require.Equal(t, []Entry{e("web", "192.0.2.1", 2*time.Hour), e("web", "192.0.2.2", 0)}, got)

	require.ErrorIs(t, b.Apply([]Entry{{Jail: "web"}}, nil), ErrInvalidEntry)
	require.NoError(t, b.Close())
	_, err = b.List()
	require.ErrorIs(t, err, ErrClosed)
}
