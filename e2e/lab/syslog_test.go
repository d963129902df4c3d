package lab

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRsyslogConfig: the configuration each host's rsyslogd runs is valid
// for the machine's rsyslogd (its own check, -N1) in both formats.
func TestRsyslogConfig(t *testing.T) {
	rsyslogd, err := lookTool("rsyslogd")
	if err != nil {
		if os.Getenv("BANFLEET_E2E") == "1" {
			t.Fatal("rsyslogd missing: apt-get install -y rsyslog")
		}
		t.Skip("rsyslogd missing: apt-get install -y rsyslog")
	}
	for _, f := range []LogFormat{LogFormatISO, LogFormatClassic} {
		t.Run(f.String(), func(t *testing.T) {
			dir := t.TempDir()
			h := &Host{Name: "h1", Dir: dir, LogPath: filepath.Join(dir, "auth.log"), Format: f}
			require.NoError(t, os.MkdirAll(h.syslogDir(), 0o755))
			conf := filepath.Join(dir, "rsyslog.conf")
			require.NoError(t, os.WriteFile(conf, []byte(rsyslogConfig(h)), 0o644))
			out, err := exec.Command(rsyslogd, "-N1", "-f", conf).CombinedOutput()
			require.NoError(t, err, "%s", out)
			require.Contains(t, rsyslogConfig(h), f.template())
		})
	}
	require.NotEqual(t, LogFormatISO.template(), LogFormatClassic.template())
}
