//go:build linux

// Package pty opens Linux pseudo-terminals, for the tests and benchmarks
// that run the stacker binary on a terminal (the live view, questions, MFA
// prompts).
package pty

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Open returns the controller and the terminal side of a new pty, sized
// cols x rows when both are positive. Close both when done; a child given
// the terminal side holds its own copy.
func Open(cols, rows int) (ptmx, tty *os.File, err error) {
	ptmx, err = os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open /dev/ptmx: %w", err)
	}
	fail := func(what string, err error) (*os.File, *os.File, error) {
		ptmx.Close()
		if tty != nil {
			tty.Close()
		}
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		return fail("unlock pty", err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		return fail("pty number", err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return fail("open pty", err)
	}
	if cols > 0 && rows > 0 {
		if err := unix.IoctlSetWinsize(int(tty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: uint16(rows), Col: uint16(cols)}); err != nil {
			return fail("set pty size", err)
		}
	}
	return ptmx, tty, nil
}
