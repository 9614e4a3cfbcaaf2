//go:build unix && !linux

package pybridge

import "syscall"

// setDeathSignal: only Linux has a parent-death signal; elsewhere the
// Python side exits when its stdin closes.
func setDeathSignal(*syscall.SysProcAttr) {}
