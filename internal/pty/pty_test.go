//go:build linux

package pty

import (
	"io"
	"testing"

	"golang.org/x/sys/unix"
)

func TestOpenIsATerminalOfItsSize(t *testing.T) {
	ptmx, tty, err := Open(123, 45)
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	defer tty.Close()
	ws, err := unix.IoctlGetWinsize(int(tty.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		t.Fatalf("not a terminal: %v", err)
	}
	if ws.Col != 123 || ws.Row != 45 {
		t.Errorf("size %dx%d, want 123x45", ws.Col, ws.Row)
	}
	if _, err := io.WriteString(tty, "hi\n"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	n, err := ptmx.Read(buf)
	if err != nil || n == 0 {
		t.Fatalf("read %d, %v", n, err)
	}
}
