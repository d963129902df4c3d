package date

import (
	"testing"
	"time"
)

var benchNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func benchFind(b *testing.B, pattern string, line string, wantOK bool) {
	b.Helper()
	loc, err := time.LoadLocation("Europe/Zurich")
	if err != nil {
		loc = posixZone(b, f2bTZ)
	}
	d, err := New(Options{Pattern: pattern, Location: loc, Year: 2026})
	if err != nil {
		b.Fatal(err)
	}
	in := []byte(line)
	now := benchNow.In(loc)
	// first line: templates are searched in Fail2Ban's order and reordered
	_, _, _, ok := d.Find(in, now)
	if ok != wantOK {
		b.Fatalf("Find(%q) ok = %v", line, ok)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d.Find(in, now)
	}
}

const (
	benchSyslog = "Nov 26 06:35:46 host sshd[1234]: Failed password for invalid user admin from 192.0.2.1 port 52014 ssh2"
	benchISO    = "2026-11-26T06:35:46.123456+00:00 host sshd[1234]: Failed password for invalid user admin from 192.0.2.1 port 52014 ssh2"
	benchApache = `192.0.2.1 - - [26/Nov/2026:06:35:46 +0000] "GET /wp-login.php HTTP/1.1" 404 196 "-" "Mozilla/5.0"`
)

func BenchmarkFindSyslog(b *testing.B) {
	b.Run("default", func(b *testing.B) { benchFind(b, "", benchSyslog, true) })
	b.Run("ln-beg", func(b *testing.B) { benchFind(b, "{^LN-BEG}", benchSyslog, true) })
	b.Run("padded-day", func(b *testing.B) {
		benchFind(b, "", "Nov  6 06:35:46 host sshd[1234]: Connection closed by 192.0.2.1 port 52014 [preauth]", true)
	})
}

func BenchmarkFindISO(b *testing.B) {
	b.Run("default", func(b *testing.B) { benchFind(b, "", benchISO, true) })
	b.Run("ln-beg", func(b *testing.B) { benchFind(b, "{^LN-BEG}", benchISO, true) })
}

func BenchmarkFindApache(b *testing.B) {
	b.Run("default", func(b *testing.B) { benchFind(b, "", benchApache, true) })
	b.Run("apache-filter", func(b *testing.B) { benchFind(b, "^[^\\[]*\\[({DATE})\n{^LN-BEG}", benchApache, true) })
}

func BenchmarkFindNoDate(b *testing.B) {
	b.Run("sshd-message", func(b *testing.B) {
		benchFind(b, "", "Connection closed by authenticating user root 192.0.2.1 port 52014 [preauth]", false)
	})
	b.Run("with-colons", func(b *testing.B) {
		benchFind(b, "", "error: kex_exchange_identification: read: Connection reset by peer (192.0.2.1:52014)", false)
	})
	b.Run("ln-beg", func(b *testing.B) {
		benchFind(b, "{^LN-BEG}", "Connection closed by authenticating user root 192.0.2.1 port 52014 [preauth]", false)
	})
}
