//go:build !race

package jailfilter_test

const raceEnabled = false
