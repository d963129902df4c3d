package firewall

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"syscall"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// walkBufSize is the receive buffer of a set dump. The kernel fills each
// dump message up to the largest buffer the socket has received into.
const walkBufSize = 64 << 10

// walkReadTimeout bounds the wait for each message of a set dump.
const walkReadTimeout = 30 * time.Second

// Walk implements Backend. It streams each set's dump from the kernel and
// decodes the elements one by one, without materialising the set: listing a
// million elements costs a 64 KiB buffer, not hundreds of megabytes.
func (n *Nftables) Walk(fn func(Entry)) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return ErrClosed
	}
	if err := n.load(); err != nil {
		return fmt.Errorf("walk: %w", err)
	}
	return n.walkSets(sortedKeys(n.sets), fn)
}

// presentOnly returns the entries of del (normalized) the kernel holds, by
// walking their sets: it costs memory for del, not for the sets.
func (n *Nftables) presentOnly(del []Entry) ([]Entry, error) {
	want := make(map[entryKey]bool, len(del))
	for _, e := range del {
		want[e.key()] = false
	}
	var keys []setKey
	for _, k := range sortedKeys(groupBySet(del)) {
		if n.sets[k] != nil {
			keys = append(keys, k)
		}
	}
	if err := n.walkSets(keys, func(e Entry) {
		if _, ok := want[e.key()]; ok {
			want[e.key()] = true
		}
	}); err != nil {
		return nil, err
	}
	out := del[:0:0]
	for _, e := range del {
		if want[e.key()] {
			out = append(out, e)
		}
	}
	return out, nil
}

// walkSets dumps the sets keys (which must exist) on a connection of its
// own; n.mu held.
func (n *Nftables) walkSets(keys []setKey, fn func(Entry)) error {
	if len(keys) == 0 {
		return nil
	}
	cfg := &netlink.Config{NetNS: n.netns}
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, cfg)
	if err != nil {
		return fmt.Errorf("walk: open netlink connection: %w", err)
	}
	defer c.Close()
	if err := setSockBuf(c, unix.SO_RCVBUFFORCE, c.SetReadBuffer); err != nil {
		return fmt.Errorf("walk: set netlink receive buffer: %w", err)
	}
	buf := make([]byte, walkBufSize)
	for _, k := range keys {
		if err := n.walkSet(c, k, buf, fn); err != nil {
			n.stale = true
			return fmt.Errorf("walk set %s: %w", k.setName(), err)
		}
	}
	return nil
}

// walkSet dumps one set through c, calling fn for each element.
func (n *Nftables) walkSet(c *netlink.Conn, k setKey, buf []byte, fn func(Entry)) error {
	ae := netlink.NewAttributeEncoder()
	ae.String(unix.NFTA_SET_ELEM_LIST_TABLE, n.table.Name)
	ae.String(unix.NFTA_SET_ELEM_LIST_SET, k.setName())
	attrs, err := ae.Encode()
	if err != nil {
		return err
	}
	req := netlink.Message{
		Header: netlink.Header{
			Type:  netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETSETELEM),
			Flags: netlink.Request | netlink.Dump,
		},
		Data: append([]byte{unix.NFPROTO_INET, unix.NFNETLINK_V0, 0, 0}, attrs...),
	}
	sent, err := c.Send(req)
	if err != nil {
		return err
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	defer func() { _ = c.SetReadDeadline(time.Time{}) }()
	for {
		// A deadline for each message, not the whole dump: a million
		// elements take the kernel a minute and more on a busy host.
		if err := c.SetReadDeadline(time.Now().Add(walkReadTimeout)); err != nil {
			return err
		}
		var nr int
		var rerr error
		if err := rc.Read(func(fd uintptr) bool {
			nr, _, rerr = unix.Recvfrom(int(fd), buf, 0)
			return rerr != unix.EAGAIN
		}); err != nil {
			return err
		}
		if rerr != nil {
			return rerr
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:nr])
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if m.Header.Seq != sent.Header.Sequence {
				continue // a late reply to something else
			}
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return nil
			case unix.NLMSG_ERROR:
				if len(m.Data) >= 4 {
					if errno := int32(binary.NativeEndian.Uint32(m.Data[:4])); errno != 0 {
						return unix.Errno(-errno)
					}
				}
				return nil
			}
			if len(m.Data) < 4 {
				continue
			}
			if err := decodeElements(k, m.Data[4:], fn); err != nil {
				return err
			}
		}
	}
}

// decodeElements decodes the elements of one NFT_MSG_NEWSETELEM message.
func decodeElements(k setKey, data []byte, fn func(Entry)) error {
	ad, err := netlink.NewAttributeDecoder(data)
	if err != nil {
		return err
	}
	for ad.Next() {
		if ad.Type() != unix.NFTA_SET_ELEM_LIST_ELEMENTS {
			continue
		}
		ad.Nested(func(list *netlink.AttributeDecoder) error {
			for list.Next() {
				if list.Type() != unix.NFTA_LIST_ELEM {
					continue
				}
				list.Nested(func(el *netlink.AttributeDecoder) error {
					if e, ok := decodeElement(k, el); ok {
						fn(e)
					}
					return nil
				})
			}
			return nil
		})
	}
	return ad.Err()
}

func decodeElement(k setKey, el *netlink.AttributeDecoder) (Entry, bool) {
	var key []byte
	var timeout, expires time.Duration
	var flags uint32
	for el.Next() {
		switch el.Type() {
		case unix.NFTA_SET_ELEM_KEY:
			el.Nested(func(d *netlink.AttributeDecoder) error {
				for d.Next() {
					if d.Type() == unix.NFTA_DATA_VALUE {
						key = d.Bytes()
					}
				}
				return nil
			})
		case unix.NFTA_SET_ELEM_FLAGS:
			flags = binary.BigEndian.Uint32(pad4(el.Bytes()))
		case unix.NFTA_SET_ELEM_TIMEOUT:
			timeout = msDuration(el.Bytes())
		case unix.NFTA_SET_ELEM_EXPIRATION:
			expires = msDuration(el.Bytes())
		}
	}
	if flags&unix.NFT_SET_ELEM_INTERVAL_END != 0 {
		return Entry{}, false
	}
	var addr netip.Addr
	switch {
	case k.fam == v4 && len(key) == 4:
		addr = netip.AddrFrom4([4]byte(key))
	case k.fam == v6 && len(key) == 16:
		addr = netip.AddrFrom16([16]byte(key))
	default:
		return Entry{}, false
	}
	t := expires
	if timeout > 0 && t <= 0 {
		t = time.Millisecond
	}
	return Entry{Jail: k.jail, Addr: addr, Timeout: t}, true
}

func msDuration(b []byte) time.Duration {
	if len(b) != 8 {
		return 0
	}
	return time.Duration(binary.BigEndian.Uint64(b)) * time.Millisecond
}

func pad4(b []byte) []byte {
	if len(b) >= 4 {
		return b[:4]
	}
	return make([]byte, 4)
}
