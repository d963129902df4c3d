package fail2ban_test

import (
	"errors"
	"testing"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/v2"
	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/config"
	"github.com/banfleet/banfleet/config/fail2ban"
	"github.com/banfleet/banfleet/internal/testutil/f2bref"
)

// jailConf is a struct with every key the Provider documents.
type jailConf struct {
	Enabled      bool          `koanf:"enabled"`
	Filter       string        `koanf:"filter"`
	Backend      string        `koanf:"backend"`
	Journal      bool          `koanf:"journal"`
	LogPath      []string      `koanf:"logpath"`
	LogPathTail  []string      `koanf:"logpath_tail"`
	Port         []string      `koanf:"port"`
	Protocol     string        `koanf:"protocol"`
	MaxRetry     int           `koanf:"maxretry"`
	FindTime     time.Duration `koanf:"findtime"`
	BanTime      time.Duration `koanf:"bantime"`
	IgnoreIP     []string      `koanf:"ignoreip"`
	UseDNS       string        `koanf:"usedns"`
	PrefRegex    string        `koanf:"prefregex"`
	FailRegex    []string      `koanf:"failregex"`
	IgnoreRegex  []string      `koanf:"ignoreregex"`
	MaxLines     int           `koanf:"maxlines"`
	DatePattern  string        `koanf:"datepattern"`
	JournalMatch [][]string    `koanf:"journalmatch"`
	Increment    string        `koanf:"bantime_increment"`
	Factor       string        `koanf:"bantime_factor"`
	Formula      string        `koanf:"bantime_formula"`
	Multipliers  string        `koanf:"bantime_multipliers"`
	MaxTime      string        `koanf:"bantime_maxtime"`
	RndTime      string        `koanf:"bantime_rndtime"`
	OverallJails string        `koanf:"bantime_overalljails"`
}

// unmarshalStrict decodes like banfleet's config package: unknown keys are
// errors, durations are strings.
func unmarshalStrict(t *testing.T, k *koanf.Koanf, path string, out any) error {
	t.Helper()
	return k.UnmarshalWithConf(path, out, koanf.UnmarshalConf{DecoderConfig: &mapstructure.DecoderConfig{
		DecodeHook:       mapstructure.StringToTimeDurationHookFunc(),
		WeaklyTypedInput: true,
		ErrorUnused:      true,
		Result:           out,
		TagName:          "koanf",
	}})
}

func TestProvider(t *testing.T) {
	dir := "testdata/conf"
	var reported []error
	k := koanf.New(".")
	require.NoError(t, k.Load(fail2ban.NewProvider(dir, fail2ban.WithJailErrors(func(err error) {
		reported = append(reported, err)
	})), nil))
	require.Len(t, reported, 8, "broken jails of testdata/conf")
	for _, e := range reported {
		var je *fail2ban.JailError
		require.True(t, errors.As(e, &je), "%v", e)
	}
	// a YAML file (here a map) loaded after the provider overrides it
	require.NoError(t, k.Load(confmap.Provider(map[string]any{"jails.t-init.maxretry": 9}, "."), nil))

	var jails map[string]jailConf
	require.NoError(t, unmarshalStrict(t, k, "jails", &jails))
	require.Len(t, jails, 11)

	want, err := fail2ban.LoadJails(dir)
	require.Error(t, err)
	for _, j := range want {
		got, ok := jails[j.Name]
		require.True(t, ok, j.Name)
		require.True(t, got.Enabled)
		require.Equal(t, j.FilterSpec, got.Filter)
		require.Equal(t, j.Backend, got.Backend)
		require.Equal(t, j.Journal, got.Journal)
		require.Equal(t, len(j.LogPath), len(got.LogPath))
		require.Equal(t, j.FindTime, got.FindTime)
		require.Equal(t, j.BanTime, got.BanTime)
		require.Equal(t, j.Filter.FailRegex, got.FailRegex)
		require.Equal(t, j.Filter.MaxLines, got.MaxLines)
		if j.Name != "t-init" {
			require.Equal(t, j.MaxRetry, got.MaxRetry)
		}
	}
	ti := jails["t-init"]
	require.Equal(t, 9, ti.MaxRetry, "overridden after the provider")
	require.Equal(t, -time.Second, ti.BanTime, "permanent")
	require.Equal(t, 26*time.Hour, ti.FindTime)
	require.Equal(t, []string{"127.0.0.1/8", "::1", "10.0.0.0/8", "192.0.2.1"}, ti.IgnoreIP)
	n := jails["t-nested"]
	require.Equal(t, []string{"/var/log/nested-a.log", "/var/log/nested-b*.log", "/var/log/nested-c.log"}, n.LogPath)
	require.Equal(t, []string{"/var/log/nested-a.log"}, n.LogPathTail)
	require.Equal(t, []string{"http", "https", "8080"}, n.Port)
	require.Equal(t, [][]string{{"_SYSTEMD_UNIT=jd.service"}, {"_COMM=jd"}, {"_COMM=other"}}, jails["t-journal"].JournalMatch)
	require.Nil(t, jails["t-journal"].LogPath)
	require.Equal(t, "true", jails["t-increment"].Increment)
	require.Equal(t, "5w", jails["t-increment"].MaxTime)

	// without WithJailErrors a broken jail fails the load
	require.ErrorIs(t, koanf.New(".").Load(fail2ban.NewProvider(dir), nil), fail2ban.ErrNotFound)
	_, err = fail2ban.NewProvider(dir).ReadBytes()
	require.ErrorIs(t, err, fail2ban.ErrNoBytes)
}

// TestProviderAgentConfig decodes the Debian configuration into the agent's
// own jail struct, strictly, with the keys that struct knows.
func TestProviderAgentConfig(t *testing.T) {
	tree := f2bref.Require(t)
	k := koanf.New(".")
	require.NoError(t, k.Load(fail2ban.NewProvider(tree.ConfDir,
		fail2ban.WithKeys("enabled", "filter", "logpath", "port", "protocol")), nil))
	var jails map[string]config.AgentJail
	require.NoError(t, unmarshalStrict(t, k, "jails", &jails))
	require.Len(t, jails, 1)
	sshd := jails["sshd"]
	require.True(t, sshd.On())
	require.Equal(t, "sshd[mode=normal]", sshd.Filter)
	require.Equal(t, []string{"/var/log/auth.log"}, sshd.LogPath)
	require.Equal(t, []string{"ssh"}, sshd.Port)
	require.Equal(t, "tcp", sshd.Protocol)
	ports, err := config.ParsePorts(sshd.Port)
	require.NoError(t, err)
	require.Equal(t, []uint16{22}, ports)
}

func TestProviderPrefix(t *testing.T) {
	m, err := fail2ban.NewProvider("testdata/conf", fail2ban.WithPrefix(""), fail2ban.WithKeys("port"),
		fail2ban.WithJailErrors(func(error) {})).Read()
	require.NoError(t, err)
	require.Equal(t, map[string]any{"port": []string{"1000:1010"}}, m["t-own"])
}
