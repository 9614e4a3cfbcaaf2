//go:build unix

package pybridge

import (
	"os/exec"
	"syscall"
)

// ownProcessGroup makes the Python process lead a new process group, so a
// terminal's Ctrl-C reaches only stacker (which then stops it) and one
// signal to the group ends everything user code started.
func ownProcessGroup(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	setDeathSignal(cmd.SysProcAttr)
}

// killProcessGroup sends SIGKILL to the process group the Python process
// leads (its pid), children included.
func killProcessGroup(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Process.Kill()
}
