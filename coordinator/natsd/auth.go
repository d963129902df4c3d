package natsd

import (
	"github.com/nats-io/nats-server/v2/server"

	"github.com/banfleet/banfleet/shared/subject"
)

// AgentPermissions are what the agent of host may do: publish offences
// under its own host token only (the subject is its identity), write its
// own heartbeat, watch the bans bucket, answer requests addressed to it.
// Nothing else: no stream or bucket administration, no other host's
// subjects.
func AgentPermissions(host string) *server.Permissions {
	bans := "KV_" + subject.BansBucket
	agents := "KV_" + subject.AgentsBucket
	return &server.Permissions{
		Publish: &server.SubjectPermission{Allow: []string{
			subject.OffencePrefix + ".*." + host,
			"$KV." + subject.AgentsBucket + "." + host,
			"$JS.API.INFO",
			"$JS.API.STREAM.INFO." + bans,
			"$JS.API.STREAM.INFO." + agents,
			"$JS.API.CONSUMER.CREATE." + bans,
			"$JS.API.CONSUMER.CREATE." + bans + ".>",
			"$JS.API.CONSUMER.INFO." + bans + ".>",
			"$JS.API.CONSUMER.DELETE." + bans + ".>",
			"$JS.API.DIRECT.GET." + bans + ".>",
			"$JS.FC." + bans + ".>",
		}},
		Subscribe: &server.SubjectPermission{Allow: []string{
			"_INBOX.>",
			subject.AgentRequest(host, ">"),
		}},
		// Replies to requests (coord bans --cluster) go to the asker's inbox.
		Response: &server.ResponsePermission{MaxMsgs: 1},
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
