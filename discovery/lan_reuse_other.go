//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package discovery

import "syscall"

// reuseGroupPort does nothing on this platform: only one member per host can
// bind the group port.
func reuseGroupPort(_, _ string, _ syscall.RawConn) error { return nil }
