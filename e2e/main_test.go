package e2e

import (
	"fmt"
	"os"
	"testing"

	"github.com/banfleet/banfleet/e2e/lab"
)

func TestMain(m *testing.M) {
	// Invoked through a symlink named like a banfleet binary, the test
	// binary plays a fake daemon (see fake_test.go).
	if code, ok := runFake(os.Args); ok {
		os.Exit(code)
	}
	code := m.Run()
	if err := lab.RemoveBuild(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: remove built binaries: %v\n", err)
		code = 1
	}
	// Every lab must have removed its namespaces, pass or fail.
	left, err := lab.OwnNamespaces()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		code = 1
	}
	if len(left) > 0 {
		fmt.Fprintf(os.Stderr, "e2e: lab namespaces left behind: %v\n", left)
		code = 1
	}
	os.Exit(code)
}
