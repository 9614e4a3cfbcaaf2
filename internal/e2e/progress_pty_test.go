//go:build linux

package e2e

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stacker-go/stacker/internal/pty"

	"github.com/stacker-go/stacker/internal/sandbox/sandboxtest"
)

// openPTY returns the controller and the terminal side of a new pty of
// the given width (40 rows).
func openPTY(t *testing.T, cols int) (*os.File, *os.File) {
	t.Helper()
	ptmx, tty, err := pty.Open(cols, 40)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ptmx.Close(); tty.Close() })
	return ptmx, tty
}

// TestLiveViewOnATerminal builds against the sandbox with stderr on a
// pseudo-terminal: auto picks the live view, which draws rows in place
// and erases them, scrolls finished stacks up as stacker's lines and ends
// with the summary and no view left.
func TestLiveViewOnATerminal(t *testing.T) {
	env := sandboxtest.Start(t)
	dir := writeProject(t, sandboxConfig)
	ptmx, tty := openPTY(t, 100)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, Binary(t), "build", "-p", "sandbox-prod", "-r", "us-east-1", "stacker.yaml")
	cmd.Dir = dir
	cmd.Env = append(env.Env(t), "HOME="+dir, "STACKER_NO_CREDENTIAL_CACHE=1", "STACKER_STACK_POLL_TIME=1", "TERM=xterm")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close() // the child holds it; EOF (EIO) on ptmx once it exits
	var screen bytes.Buffer
	done := make(chan struct{})
	go func() { io.Copy(&screen, ptmx); close(done) }()
	err := cmd.Wait()
	<-done
	out := screen.String()
	t.Logf("terminal:\n%q", out)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	for _, want := range []string{
		"\033[J",                    // the view is erased before lines scroll up
		"build: 0 of 2 stacks done", // its footer
		"good: complete (creating new stack)",
		"bad: complete (creating new stack)",
		"Summary: build of 2 stacks in ",
		": 2 created",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal lacks %q", want)
		}
	}
	// Nothing of the view is left after the summary.
	if tail := out[strings.LastIndex(out, "Summary: "):]; strings.Contains(tail, "stacks done") {
		t.Errorf("the view was drawn after the summary: %q", tail)
	}
	// Every row fits the terminal.
	for _, l := range strings.Split(out, "\n") {
		if i := strings.LastIndex(l, "\033[J"); i >= 0 {
			l = l[i+3:]
		}
		l = strings.TrimSuffix(strings.TrimSuffix(l, "\r"), "\033[K")
		if n := len([]rune(l)); n >= 100 && !strings.HasPrefix(l, "[") {
			t.Errorf("row of %d columns on a 100-column terminal: %q", n, l)
		}
	}
}
