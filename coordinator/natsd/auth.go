package natsd

import (
	"github.com/nats-io/nats-server/v2/server"

	"github.com/banfleet/banfleet/shared/subject"
)

// AgentPermissions are what the agent of host may do: publish offences
// under its own host token only (the subject is its identity), write its
// own heartbeat, watch the bans bucket, read the fleet's exemption list,
// answer requests addressed to it. Nothing else: no stream or bucket administration, no
// other host's subjects.
func AgentPermissions(host string) *server.Permissions {
	allow := []string{
		subject.OffencePrefix + ".*." + host,
		"$KV." + subject.AgentsBucket + "." + host,
		"$JS.API.INFO",
		"$JS.API.STREAM.INFO.KV_" + subject.AgentsBucket,
		// The fleet bucket: one key, read with Get (no consumers: a push
		// consumer's deliver subject is the creator's choice).
		"$JS.API.STREAM.INFO.KV_" + subject.FleetBucket,
		"$JS.API.DIRECT.GET.KV_" + subject.FleetBucket + ".$KV." + subject.FleetBucket + "." + subject.ExemptKey,
	}
	allow = append(allow, readBucket(subject.BansBucket)...)
	return &server.Permissions{
		Publish: &server.SubjectPermission{Allow: allow},
		// Its own inboxes only (the agent's inbox prefix is
		// subject.AgentInbox(host)): replies to other clients, health
		// answers and JetStream API replies included, are not its to read.
		Subscribe: &server.SubjectPermission{Allow: []string{
			subject.AgentInbox(host) + ".>",
			subject.AgentRequest(host, ">"),
			subject.ExemptUpdates,
		}},
		// Replies to requests (coord bans --cluster) go to the asker's
		// inbox: a firewall answer comes in parts, each under the
		// server's max payload (wire.FirewallPart).
		Response: &server.ResponsePermission{MaxMsgs: maxAnswerParts},
	}
}

// maxAnswerParts bounds the messages an agent may send in answer to one
// request: a firewall answer of a million elements takes a few dozen parts.
const maxAnswerParts = 4096

// readBucket is what reading and watching a KV bucket takes: its stream's
// info, ordered consumers on it, direct gets and flow control.
func readBucket(bucket string) []string {
	stream := "KV_" + bucket
	return []string{
		"$JS.API.STREAM.INFO." + stream,
		"$JS.API.CONSUMER.CREATE." + stream,
		"$JS.API.CONSUMER.CREATE." + stream + ".>",
		"$JS.API.CONSUMER.INFO." + stream + ".>",
		"$JS.API.CONSUMER.DELETE." + stream + ".>",
		"$JS.API.CONSUMER.MSG.NEXT." + stream + ".>",
		"$JS.API.DIRECT.GET." + stream, // by sequence: an agent checks a revision its watch skipped
		"$JS.API.DIRECT.GET." + stream + ".>",
		"$JS.FC." + stream + ".>",
	}
}

// Users builds the server's users: agents with AgentPermissions, admins
// (and the coordinator's own connection) with every permission.
func Users(agents, admins map[string]string) []*server.User {
	var out []*server.User
	for name, pw := range agents {
		out = append(out, &server.User{Username: name, Password: pw, Permissions: AgentPermissions(name)})
	}
	for name, pw := range admins {
		out = append(out, &server.User{Username: name, Password: pw})
	}
	return out
}
