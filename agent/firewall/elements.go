package firewall

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// nftMsgDestroySetElem is NFT_MSG_DESTROYSETELEM (Linux 6.3): it deletes
// an element, and is no error when the element is not there (an element
// the kernel expired meanwhile does not abort the transaction).
const nftMsgDestroySetElem = 0x1e

// elementWriter sends transactions that only change elements of existing
// sets, encoded straight into one buffer and sent with one write on a
// netlink connection of its own: no per-element allocation, and removals
// that tolerate elements gone meanwhile. n.mu guards it.
type elementWriter struct {
	conn       *netlink.Conn // nil until first used, and after an error
	buf        []byte
	rbuf       []byte
	seq        uint32
	lastErrSeq uint32 // of the message the last error answered
	// unsupported: the kernel refused DESTROYSETELEM (older than 6.3);
	// the nftables library's path (delete, and retry without the
	// elements that are gone) is used instead.
	unsupported bool
}

// errDestroyUnsupported reports a kernel without DESTROYSETELEM.
var errDestroyUnsupported = errors.New("kernel has no NFT_MSG_DESTROYSETELEM")

func (w *elementWriter) close() {
	if w.conn != nil {
		_ = w.conn.Close()
		w.conn = nil
	}
}

// commitElements sends p, which must create or fix no set or rule, as one
// transaction; n.mu held.
func (n *Nftables) commitElements(p *plan) error {
	w := &n.elems
	if w.conn == nil {
		c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: n.netns})
		if err != nil {
			return fmt.Errorf("open netlink connection: %w", err)
		}
		if err := tuneSocket(c); err != nil {
			return err
		}
		w.conn = c
	}
	first := w.seq + 1
	b := w.buf[:0]
	b = appendBatchMsg(b, unix.NFNL_MSG_BATCH_BEGIN, w.next())
	msgs := 0
	var destroys [2]uint32 // the sequence numbers of the first and last removal message
	for _, k := range sortedKeys(p.del) {
		for _, ch := range chunk(p.del[k], chunkSize(k.fam)) {
			seq := w.next()
			if destroys[0] == 0 {
				destroys[0] = seq
			}
			destroys[1] = seq
			b = n.appendElemMsg(b, nftMsgDestroySetElem, unix.NLM_F_REQUEST|unix.NLM_F_ACK, seq, k, ch, false)
			msgs++
		}
	}
	for _, k := range sortedKeys(p.add) {
		for _, ch := range chunk(p.add[k], chunkSize(k.fam)) {
			b = n.appendElemMsg(b, unix.NFT_MSG_NEWSETELEM, unix.NLM_F_REQUEST|unix.NLM_F_ACK|unix.NLM_F_CREATE, w.next(), k, ch, true)
			msgs++
		}
	}
	b = appendBatchMsg(b, unix.NFNL_MSG_BATCH_END, w.next())
	w.buf = b
	n.flushes++
	err := w.send(b, first, msgs)
	var errno unix.Errno
	if errors.As(err, &errno) && (errno == unix.EOPNOTSUPP || errno == unix.EINVAL) && w.lastErrSeq >= destroys[0] && w.lastErrSeq <= destroys[1] && destroys[0] != 0 {
		w.unsupported = true
		return errDestroyUnsupported
	}
	if err != nil && !errors.Is(err, unix.ENOENT) {
		w.close() // unread acks may be left
	}
	return err
}

func (w *elementWriter) next() uint32 {
	w.seq++
	if w.seq == 0 {
		w.seq++
	}
	return w.seq
}

// appendBatchMsg appends a batch begin or end message.
func appendBatchMsg(b []byte, typ uint16, seq uint32) []byte {
	b = appendNlmsghdr(b, 16+4, typ, unix.NLM_F_REQUEST, seq)
	return append(b, unix.AF_UNSPEC, unix.NFNETLINK_V0, 0, unix.NFNL_SUBSYS_NFTABLES)
}

func appendNlmsghdr(b []byte, length uint32, typ, flags uint16, seq uint32) []byte {
	b = binary.NativeEndian.AppendUint32(b, length)
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = binary.NativeEndian.AppendUint16(b, flags)
	b = binary.NativeEndian.AppendUint32(b, seq)
	return binary.NativeEndian.AppendUint32(b, 0)
}

// attr appends an attribute header for a payload of n bytes.
func appendAttrHdr(b []byte, typ uint16, n int) []byte {
	b = binary.NativeEndian.AppendUint16(b, uint16(4+n))
	return binary.NativeEndian.AppendUint16(b, typ)
}

func appendStringAttr(b []byte, typ uint16, s string) []byte {
	b = appendAttrHdr(b, typ, len(s)+1)
	b = append(b, s...)
	b = append(b, 0)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// appendElemMsg appends one element message (NEWSETELEM or
// DESTROYSETELEM) for es, all of set k's family.
func (n *Nftables) appendElemMsg(b []byte, msg uint16, flags uint16, seq uint32, k setKey, es []Entry, timeouts bool) []byte {
	start := len(b)
	b = appendNlmsghdr(b, 0, unix.NFNL_SUBSYS_NFTABLES<<8|msg, flags, seq)
	b = append(b, unix.NFPROTO_INET, unix.NFNETLINK_V0, 0, 0)
	b = appendStringAttr(b, unix.NFTA_SET_ELEM_LIST_TABLE, n.table.Name)
	b = appendStringAttr(b, unix.NFTA_SET_ELEM_LIST_SET, k.setName())
	list := len(b)
	b = appendAttrHdr(b, unix.NFTA_SET_ELEM_LIST_ELEMENTS|unix.NLA_F_NESTED, 0)
	for _, e := range es {
		var key []byte
		var a16 [16]byte
		if e.Addr.Is4() {
			a4 := e.Addr.As4()
			key = a4[:]
		} else {
			a16 = e.Addr.As16()
			key = a16[:]
		}
		timeout := kernelTimeout(e.Timeout)
		size := 4 + 4 + 4 + len(key)
		if timeouts && timeout > 0 {
			size += 12
		}
		b = appendAttrHdr(b, unix.NFTA_LIST_ELEM|unix.NLA_F_NESTED, size-4)
		b = appendAttrHdr(b, unix.NFTA_SET_ELEM_KEY|unix.NLA_F_NESTED, 4+len(key))
		b = appendAttrHdr(b, unix.NFTA_DATA_VALUE, len(key))
		b = append(b, key...)
		if timeouts && timeout > 0 {
			b = appendAttrHdr(b, unix.NFTA_SET_ELEM_TIMEOUT, 8)
			b = binary.BigEndian.AppendUint64(b, uint64(timeout/time.Millisecond))
		}
	}
	binary.NativeEndian.PutUint16(b[list:], uint16(len(b)-list))
	binary.NativeEndian.PutUint32(b[start:], uint32(len(b)-start))
	return b
}

// send writes a batch whose begin message has sequence number begin and
// reads the acknowledgements of its msgs messages (those that follow); it
// returns the first error the kernel reported, keeping its sequence number
// in lastErrSeq.
func (w *elementWriter) send(b []byte, begin uint32, msgs int) error {
	w.lastErrSeq = 0
	rc, err := w.conn.SyscallConn()
	if err != nil {
		return err
	}
	var werr error
	if err := rc.Write(func(fd uintptr) bool {
		werr = unix.Sendto(int(fd), b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
		return werr != unix.EAGAIN
	}); err != nil {
		return err
	}
	if werr != nil {
		return fmt.Errorf("send batch: %w", werr)
	}
	if len(w.rbuf) == 0 {
		w.rbuf = make([]byte, 64<<10)
	}
	var ferr error
	for acked := 0; acked < msgs; {
		if err := w.conn.SetReadDeadline(time.Now().Add(walkReadTimeout)); err != nil {
			return err
		}
		var nr int
		var rerr error
		if err := rc.Read(func(fd uintptr) bool {
			nr, _, rerr = unix.Recvfrom(int(fd), w.rbuf, 0)
			return rerr != unix.EAGAIN
		}); err != nil {
			return fmt.Errorf("read acknowledgements: %w", err)
		}
		if rerr != nil {
			return fmt.Errorf("read acknowledgements: %w", rerr)
		}
		replies, err := syscall.ParseNetlinkMessage(w.rbuf[:nr])
		if err != nil {
			return fmt.Errorf("read acknowledgements: %w", err)
		}
		for _, m := range replies {
			if m.Header.Type != unix.NLMSG_ERROR || m.Header.Seq < begin || m.Header.Seq > begin+uint32(msgs) || len(m.Data) < 4 {
				continue // not an answer to this batch
			}
			errno := int32(binary.NativeEndian.Uint32(m.Data[:4]))
			if m.Header.Seq == begin {
				// The batch as a whole failed (no memory, say): no
				// message of it is answered.
				w.lastErrSeq = begin
				return unix.Errno(-errno)
			}
			acked++
			if errno != 0 && ferr == nil {
				ferr = unix.Errno(-errno)
				w.lastErrSeq = m.Header.Seq
			}
		}
	}
	_ = w.conn.SetReadDeadline(time.Time{})
	return ferr
}
