package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/internal/testutil/f2bref"
)

func TestParseFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"-lines", "10", "-format", "classic", "-fail2ban=false"}, &bytes.Buffer{})
	require.NoError(t, err)
	require.Equal(t, 10, cfg.Lines)
	require.Equal(t, "classic", cfg.Format.String())
	require.Equal(t, tristate{set: true, on: false}, cfg.Fail2Ban)

	cfg, err = parseFlags([]string{"-fail2ban"}, &bytes.Buffer{})
	require.NoError(t, err)
	require.Equal(t, tristate{set: true, on: true}, cfg.Fail2Ban)

	for _, bad := range [][]string{{"-format", "rfc5424"}, {"-lines", "0"}, {"-runs", "0"}, {"extra"}} {
		_, err := parseFlags(bad, &bytes.Buffer{})
		require.Error(t, err, "%q", bad)
	}
}

func TestNum(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -45000: "-45,000"} {
		require.Equal(t, want, num(n))
	}
}

// TestRunSmall runs the whole benchmark on a small log: with Fail2Ban when a
// tree is found (required under BANFLEET_E2E=1), and checks that the JSON
// report holds both sides and that every difference is classified.
func TestRunSmall(t *testing.T) {
	withF2B := true
	if _, err := f2bref.Find(); err != nil {
		if os.Getenv("BANFLEET_E2E") == "1" {
			t.Fatal(err)
		}
		withF2B = false
	}
	cfg, err := parseFlags([]string{"-lines", "20000", "-runs", "1", "-json", "-fail2ban=" + map[bool]string{true: "true", false: "false"}[withF2B]}, &bytes.Buffer{})
	require.NoError(t, err)
	var out, log bytes.Buffer
	require.NoError(t, Run(context.Background(), cfg, &out, &log))
	var rep report
	require.NoError(t, json.Unmarshal(out.Bytes(), &rep), out.String())
	require.Equal(t, 20000, rep.Banfleet.Lines)
	require.Positive(t, rep.Banfleet.Verdicts["failed"])
	require.Positive(t, rep.Banfleet.PeakRSSBytes)
	if !withF2B {
		return
	}
	require.NotNil(t, rep.Comparison)
	require.Zero(t, rep.Comparison.Banfleet.Injected, "banfleet never blames an injected address")
	n := 0
	for _, c := range rep.Comparison.ByClass {
		n += c
	}
	require.Equal(t, len(rep.Comparison.Diffs), n)

	var text bytes.Buffer
	require.NoError(t, rep.text(&text))
	require.Contains(t, text.String(), "banfleet / fail2ban")
}

// TestRunLog runs the benchmark on a log it did not generate: Fail2Ban's
// own sshd sample log (with Fail2Ban when a tree is found).
func TestRunLog(t *testing.T) {
	tr, err := f2bref.Find()
	if err != nil {
		if os.Getenv("BANFLEET_E2E") == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	// Fail2Ban's own sshd sample log, without its one line whose address
	// Fail2Ban reports as written, "192.030.0.6" (not an address to Go:
	// authlog.RunFail2Ban refuses the record).
	data, err := os.ReadFile(filepath.Join(tr.SampleLogs, "sshd"))
	require.NoError(t, err)
	var kept []byte
	for l := range strings.Lines(string(data)) {
		if !strings.Contains(l, "192.030.0.6") {
			kept = append(kept, l...)
		}
	}
	log := filepath.Join(t.TempDir(), "sshd.log")
	require.NoError(t, os.WriteFile(log, kept, 0o600))
	_, err = parseFlags([]string{"-log", filepath.Join(t.TempDir(), "nosuch.log")}, &bytes.Buffer{})
	require.ErrorContains(t, err, "nosuch.log")

	cfg, err := parseFlags([]string{"-log", log, "-runs", "1", "-json", "-fail2ban"}, &bytes.Buffer{})
	require.NoError(t, err)
	var out, stderr bytes.Buffer
	require.NoError(t, Run(context.Background(), cfg, &out, &stderr), stderr.String())
	var rep report
	require.NoError(t, json.Unmarshal(out.Bytes(), &rep), out.String())
	require.Equal(t, log, rep.Log.File)
	require.Equal(t, bytes.Count(kept, []byte("\n")), rep.Banfleet.Lines)
	require.Positive(t, rep.Banfleet.Verdicts["failed"])
	require.NotNil(t, rep.Comparison)
	require.False(t, rep.Comparison.Truth)
	require.Positive(t, rep.Comparison.Fail2Ban.Failures)
	require.Equal(t, len(rep.Comparison.Diffs), rep.Comparison.ByClass[classReal])

	var text bytes.Buffer
	require.NoError(t, rep.text(&text))
	require.Contains(t, text.String(), "no ground truth")
	require.NotContains(t, text.String(), "vs ground truth")
}
