package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stacker-go/stacker/internal/sandbox/sandboxtest"
)

// TestBasicExampleAgainstSandbox runs examples/basic through the whole CLI
// (build, info --json, diff, destroy) against the in-process sandbox over
// HTTP with the real AWS SDK.
func TestBasicExampleAgainstSandbox(t *testing.T) {
	clearStackerEnv(t)
	sb := sandboxtest.Start(t)
	for _, kv := range sb.Env(t) {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, v)
		}
	}
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv(envNoCredCache, "1")
	flags := []string{"-p", "sandbox-master", "-r", "us-east-1"}
	run := func(args ...string) (int, string, string) {
		return runCLI(t, "", append(args, append(flags, basic)...)...)
	}

	// info lists stacks in config order, as stacker does, not in plan
	// order (here the reverse: app needs vpc).
	orderCfg := filepath.Join(t.TempDir(), "order.yaml")
	if err := os.WriteFile(orderCfg, []byte("namespace: order\nstacks:\n  - name: app\n    template_path: t.yaml\n    requires: [vpc]\n  - name: vpc\n    template_path: t.yaml\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "", append([]string{"info"}, append(flags, orderCfg)...)...)
	if want := "Outputs for stacks: order\nStack \"order-app\" does not exist.\nStack \"order-vpc\" does not exist.\n"; code != ExitOK || stdout != want {
		t.Errorf("info: exit %d, stdout %q, want %q\n%s", code, stdout, want, stderr)
	}

	code, _, stderr = run("build")
	t.Logf("build:\n%s", stderr)
	if code != ExitOK {
		t.Fatalf("build: exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"Using default AWS provider mode", "network: complete (creating new stack)", "app: complete (creating new stack)"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("build stderr lacks %q:\n%s", want, stderr)
		}
	}

	code, stdout, stderr = run("info", "--json", "--stacks", "network")
	t.Logf("info:\n%s", stdout)
	if code != ExitOK {
		t.Fatalf("info: exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "VpcId") || strings.Contains(stdout, "ParameterName") {
		t.Errorf("info --json --stacks network = %s", stdout)
	}
	if !json.Valid([]byte(stdout)) {
		t.Errorf("info --json is not JSON: %s", stdout)
	}

	code, _, stderr = run("diff")
	if code != ExitOK {
		t.Fatalf("diff: exit %d\n%s", code, stderr)
	}

	code, _, stderr = run("build")
	if code != ExitOK || !strings.Contains(stderr, "app: skipped (nochange)") {
		t.Fatalf("second build: exit %d\n%s", code, stderr)
	}

	code, _, stderr = run("destroy", "--force")
	if code != ExitOK {
		t.Fatalf("destroy: exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "network: complete (stack destroyed)") {
		t.Errorf("destroy stderr:\n%s", stderr)
	}
}
