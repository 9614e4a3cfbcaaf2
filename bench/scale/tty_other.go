//go:build !linux

package main

import (
	"errors"
	"io"
	"os/exec"
)

func runOnTTY(cmd *exec.Cmd, out io.Writer) error {
	return errors.New("-tty needs Linux")
}
