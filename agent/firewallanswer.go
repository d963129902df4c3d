package agent

import (
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/banfleet/banfleet/agent/firewall"
	"github.com/banfleet/banfleet/shared/netaddr"
	"github.com/banfleet/banfleet/shared/wire"
)

// partRoom is what a part keeps free of the server's max payload for its
// fields other than the entries and the message's own overhead.
const partRoom = 4 << 10

// answerFirewall answers a firewall request (coord bans --cluster, coord
// unban): a FirewallQuery with parts (a digest, or the elements of some
// shards), an empty request with the whole FirewallState as coord asked
// before digests.
func (a *Agent) answerFirewall(nc *nats.Conn, m *nats.Msg) {
	if m.Reply == "" {
		return
	}
	if len(m.Data) == 0 {
		a.answerWhole(nc, m)
		return
	}
	pw := &partWriter{nc: nc, reply: m.Reply, host: a.cfg.Host, max: int(nc.MaxPayload()) - partRoom}
	final := wire.FirewallPart{Backend: a.cfg.Firewall.Backend}
	final.Behind, _, _ = a.enf.Lag()
	q, err := wire.DecodeFirewallQuery(m.Data)
	if err != nil {
		final.Error = fmt.Sprintf("firewall query refused: %v", err)
	} else {
		err = a.walkFirewall(q, &final, pw.add)
		if err != nil {
			final.Error = err.Error()
		}
	}
	if err := pw.finish(&final); err != nil {
		a.log.Warn("firewall request not answered", "err", err)
	}
}

// walkFirewall walks the firewall once for q: a digest query's digest (and
// its local bans, or every element when there are at most q.List), a
// shards query's elements of those shards (at most q.Max). Each element to
// send goes to emit once the walk is over (the firewall is not held while
// the answer is sent).
func (a *Agent) walkFirewall(q *wire.FirewallQuery, final *wire.FirewallPart, emit func(wire.FirewallEntry) error) error {
	d := wire.NewFirewallDigest(q.Bits)
	var shards []bool
	if len(q.Shards) > 0 {
		shards = make([]bool, 1<<q.Bits)
		for _, s := range q.Shards {
			shards[s] = true
		}
	}
	anyLocal := a.enf.Local() > 0
	var out []wire.FirewallEntry
	all := shards == nil && q.List > 0 // every element while there are at most q.List
	err := a.fw.Walk(func(e firewall.Entry) {
		addr := netaddr.Canonical(e.Addr)
		h := wire.FirewallHash(e.Jail, addr)
		// The enforcer takes the backend's lock after its own, never the
		// other way: asking it from inside the walk is safe.
		local := anyLocal && a.enf.LocalOnly(e.Jail, addr)
		fe := wire.FirewallEntry{Jail: e.Jail, Addr: addr, ExpiresIn: e.Timeout.Seconds(), Local: local}
		if shards != nil {
			if !shards[d.Shard(h)] {
				return
			}
			final.Count++
			if q.Max > 0 && len(out) >= q.Max {
				final.Cut = true
				return
			}
			out = append(out, fe)
			return
		}
		if !local {
			d.Add(h)
			final.Count++
		}
		switch {
		case all && len(out) < q.List, local:
			out = append(out, fe)
		case all:
			// More than q.List: the local bans only, from here on.
			all = false
			out = keepLocal(out)
		}
	})
	if err != nil {
		return fmt.Errorf("firewall not read: %w", err)
	}
	if shards == nil {
		final.Digest = d.Bytes()
		final.Listed = all
	}
	for _, e := range out {
		if err := emit(e); err != nil {
			return err
		}
	}
	return nil
}

// keepLocal keeps the local bans of es.
func keepLocal(es []wire.FirewallEntry) []wire.FirewallEntry {
	out := es[:0]
	for _, e := range es {
		if e.Local {
			out = append(out, e)
		}
	}
	return out
}

// partWriter sends a firewall answer in parts, each under the server's
// max payload.
type partWriter struct {
	nc    *nats.Conn
	reply string
	host  string
	max   int // bytes of entries a part may carry
	part  int // parts sent
	total int // entries sent
	buf   []wire.FirewallEntry
	size  int // the JSON size of buf's entries
}

// add queues e, sending the queued entries as a part first when e would
// not fit in it.
func (w *partWriter) add(e wire.FirewallEntry) error {
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if w.size+len(data)+1 > w.max && len(w.buf) > 0 {
		if err := w.send(&wire.FirewallPart{}); err != nil {
			return err
		}
	}
	w.buf = append(w.buf, e)
	w.size += len(data) + 1
	return nil
}

// send sends p with the queued entries.
func (w *partWriter) send(p *wire.FirewallPart) error {
	w.part++
	p.Host, p.Part, p.Entries = w.host, w.part, w.buf
	w.total += len(w.buf)
	if p.Final {
		p.Parts, p.Total = w.part, w.total
	}
	data, err := wire.EncodeFirewall(p)
	if err != nil {
		return err
	}
	w.buf, w.size = nil, 0
	if err := w.nc.Publish(w.reply, data); err != nil {
		return fmt.Errorf("firewall answer part %d: %w", w.part, err)
	}
	return nil
}

// finish sends the final part with what is still queued. A final part too
// large for the server (a digest bigger than its max payload) goes without
// them, saying so.
func (w *partWriter) finish(final *wire.FirewallPart) error {
	final.Final = true
	if len(final.Digest)*4/3+w.size > w.max && len(w.buf) > 0 {
		if err := w.send(&wire.FirewallPart{}); err != nil {
			return err
		}
	}
	if len(final.Digest)*4/3 > w.max {
		final.Error = fmt.Sprintf("a digest of %d shards exceeds the server's max payload (%d bytes)", len(final.Digest)/12, w.max+partRoom)
		final.Digest, final.Listed = nil, false
	}
	if err := w.send(final); err != nil {
		return err
	}
	return w.nc.Flush()
}

// answerWhole answers an empty firewall request (a coord that predates
// digests) with every element in one FirewallState, or with an error when
// that would exceed the server's max payload.
func (a *Agent) answerWhole(nc *nats.Conn, m *nats.Msg) {
	st := wire.FirewallState{Host: a.cfg.Host, Backend: a.cfg.Firewall.Backend, Entries: []wire.FirewallEntry{}}
	st.Behind, _, _ = a.enf.Lag()
	anyLocal := a.enf.Local() > 0
	size, limit := 0, int(nc.MaxPayload())-partRoom
	err := a.fw.Walk(func(e firewall.Entry) {
		if size > limit {
			return
		}
		addr := netaddr.Canonical(e.Addr)
		fe := wire.FirewallEntry{Jail: e.Jail, Addr: addr, ExpiresIn: e.Timeout.Seconds(), Local: anyLocal && a.enf.LocalOnly(e.Jail, addr)}
		st.Entries = append(st.Entries, fe)
		size += 48 + len(e.Jail) + len(addr.String()) // about its JSON
	})
	if err != nil {
		st.Error = err.Error()
	}
	data, err := wire.Encode(&st)
	if err != nil {
		a.log.Error("firewall state not encodable", "err", err)
		return
	}
	if len(data) > limit {
		n := len(st.Entries)
		st.Entries = []wire.FirewallEntry{}
		st.Error = fmt.Sprintf("the firewall holds %d elements or more, too many for one answer (server max payload %d bytes): a newer coord asks for a digest", n, nc.MaxPayload())
		if data, err = wire.Encode(&st); err != nil {
			return
		}
	}
	if err := m.Respond(data); err != nil {
		a.log.Warn("firewall request not answered", "err", err)
	}
}
