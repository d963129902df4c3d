//go:build race

package jailfilter_test

// raceEnabled: allocation counts are meaningless under the race detector.
const raceEnabled = true
