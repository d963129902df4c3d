package journal

import "testing"

// TestFixtures keeps testdata/e2e-*.export in step with fixtureBatches
// (run with -update to rewrite them, then rerun testdata/gen_golden.py).
func TestFixtures(t *testing.T) {
	for i := range fixtureBatches() {
		fixtureExport(t, i)
	}
}
