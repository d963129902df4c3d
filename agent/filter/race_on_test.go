//go:build race

package filter

// raceEnabled: the race detector makes sync.Pool drop items, so the regexp
// package's pooled matchers allocate; allocation counts are not meaningful.
const raceEnabled = true
