//go:build !unix

package builtin

import "os/exec"

func signalOf(*exec.ExitError) (int, bool) { return 0, false }
