package crossaccount

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stacker-go/stacker/internal/sandbox"
)

// TestDemoBinary runs `stacker demo` as a built binary: exit 0, the stacks
// shown in their own accounts, no secret printed, nothing left behind.
func TestDemoBinary(t *testing.T) {
	bin := stackerBin(t)
	tmp := t.TempDir()
	cmd := exec.Command(bin, "demo")
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp, "AWS_CONFIG_FILE=/nonexistent", "AWS_PROFILE=", "AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("stacker demo: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	t.Log(out)
	for _, want := range []string{
		"arn:aws:cloudformation:us-east-1:111111111111:stack/stacker-bucket/",
		"arn:aws:cloudformation:us-east-1:222222222222:stack/vpc/",
		"arn:aws:cloudformation:us-east-1:333333333333:stack/vpc/",
		"Done in", "Try next:",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	all := out + stderr.String()
	for _, acct := range []string{"111111111111", "222222222222", "333333333333"} {
		if k := sandbox.DefaultAccessKey(acct); strings.Contains(all, k.Secret) {
			t.Errorf("demo output contains the %s admin secret", acct)
		}
	}
	for _, marker := range []string{"SecretAccessKey", "AWS_SESSION_TOKEN=", "AWS_SECRET_ACCESS_KEY=", "secret-key"} {
		if strings.Contains(all, marker) {
			t.Errorf("demo output contains %q", marker)
		}
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("demo left %d entries in TMPDIR", len(left))
	}
}
