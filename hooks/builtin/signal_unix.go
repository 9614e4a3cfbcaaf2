//go:build unix

package builtin

import (
	"os/exec"
	"syscall"
)

// signalOf returns the signal that killed a command.
func signalOf(ee *exec.ExitError) (int, bool) {
	ws, ok := ee.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() {
		return 0, false
	}
	return int(ws.Signal()), true
}
