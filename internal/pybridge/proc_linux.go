package pybridge

import "syscall"

// setDeathSignal asks Linux to kill the Python process if stacker itself
// dies without cleaning up (SIGKILL, a crash).
func setDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
