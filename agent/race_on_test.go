//go:build race

package agent_test

// raceEnabled: the race detector slows the coordinator and the agent several
// times over, so properties that hold only while they keep up with the test
// (a flood judged live, a handshake still pending) are not checked.
const raceEnabled = true
