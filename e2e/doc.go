// Package e2e holds banfleet's end-to-end tests. They run on the fleet lab
// (package lab): hosts made of network namespaces with real sshd, real
// nftables and the real banfleet binaries. They need root and a few
// programs; without them the tests skip, or fail when BANFLEET_E2E=1 (CI).
package e2e
