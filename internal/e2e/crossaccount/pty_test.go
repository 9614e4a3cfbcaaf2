//go:build linux

package crossaccount

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stacker-go/stacker/internal/pty"
)

// openPTY returns the controller and the terminal side of a new pty.
func openPTY(t *testing.T) (*os.File, *os.File) {
	t.Helper()
	ptmx, tty, err := pty.Open(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ptmx.Close(); tty.Close() })
	return ptmx, tty
}

// TestOneMFACodeTypedOnATerminalForTwentyStacks runs the built binary with
// a terminal on stdin: one prompt, one code typed, three accounts, twenty
// stacks. (The code is typed ahead, so the terminal echoes it before the
// prompt turns echo off; echo is the console's business, not tested here.)
func TestOneMFACodeTypedOnATerminalForTwentyStacks(t *testing.T) {
	bin := stackerBin(t)
	s := newScenario(t)
	s.createRoles()
	s.longTermKeys()
	s.useExampleAWSConfig()
	s.edit(".aws/config", "# mfa_serial", "mfa_serial")
	if err := os.WriteFile(s.path("handle.yaml"), []byte(handleTemplate), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.path("twenty.yaml"), []byte(twentyStacks()), 0o644); err != nil {
		t.Fatal(err)
	}
	ptmx, tty := openPTY(t)
	code := s.env.TOTP()
	s.secrets = append(s.secrets, code)
	// Typed ahead: the line waits in the terminal until the prompt reads it.
	if _, err := ptmx.Write([]byte(code + "\n")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "build", "--profile", "master", s.path("twenty.yaml"))
	cmd.Env = os.Environ()
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, &stdout, &stderr
	err := cmd.Run()
	all := stdout.String() + stderr.String()
	fmt.Fprintf(&s.out, "%s", all)
	if err != nil {
		t.Fatalf("stacker build: %v\n%s", err, all)
	}
	if n := strings.Count(all, "Enter MFA code for arn:aws:iam::111111111111:mfa/admin"); n != 1 {
		t.Errorf("prompts = %d, want 1\n%s", n, all)
	}
	for i := 0; i < 20; i++ {
		p := []string{"master", "prod", "stage"}[i%3]
		if s.stack(p, fmt.Sprintf("mfa-%s-%02d", p, i)) == nil {
			t.Errorf("stack %s-%02d missing in %s", p, i, p)
		}
	}
	s.checkNoSecrets()
}
