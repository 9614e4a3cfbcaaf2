//go:build linux

package main

import (
	"io"
	"os/exec"

	"github.com/stacker-go/stacker/internal/pty"
)

// runOnTTY runs cmd with its stderr on a new 160x50 pseudo-terminal and
// copies what the terminal shows to out.
func runOnTTY(cmd *exec.Cmd, out io.Writer) error {
	ptmx, tty, err := pty.Open(160, 50)
	if err != nil {
		return err
	}
	defer ptmx.Close()
	cmd.Stderr = tty
	if err := cmd.Start(); err != nil {
		tty.Close()
		return err
	}
	tty.Close() // the child holds its own; reads end (EIO) once it exits
	done := make(chan struct{})
	go func() { io.Copy(out, ptmx); close(done) }()
	err = cmd.Wait()
	<-done
	return err
}
