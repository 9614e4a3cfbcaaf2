package cli

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"github.com/stacker-go/stacker/internal/target"
	"github.com/stacker-go/stacker/internal/ui"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// clearStackerEnv keeps the caller's STACKER_* variables out of a test.
func clearStackerEnv(t *testing.T) {
	t.Helper()
	for _, k := range []string{envMFACode, envNoCredCache, envReadRate, ui.EnvProgress} {
		t.Setenv(k, "")
	}
	// Builds keep their deploy records in the test's directory, never in
	// the user's cache.
	t.Setenv(target.EnvNoDeployCache, "")
	t.Setenv(target.EnvDeployCache, t.TempDir())
}

// runCLI runs the whole CLI as the binary would and returns the exit code
// and both streams.
func runCLI(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Run(context.Background(), args, IO{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut})
	return code, out.String(), errOut.String()
}

func transcript(code int, stdout, stderr string) []byte {
	return []byte(fmt.Sprintf("exit: %d\n--- stdout\n%s--- stderr\n%s", code, stdout, stderr))
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/cli -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s mismatch:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

const (
	basic   = "../../examples/basic/stacker.yaml"
	bats    = "testdata/configs/bats.yaml"
	targets = "testdata/configs/targets.yaml"
)

// TestGolden runs offline commands end to end and compares exit code,
// stdout and stderr with testdata/golden/<name>.golden.
func TestGolden(t *testing.T) {
	clearStackerEnv(t)
	tests := []struct {
		name  string
		stdin string
		args  []string
	}{
		{"version", "", []string{"--version"}},
		{"graph-basic-dot", "", []string{"graph", basic}},
		{"graph-basic-json", "", []string{"graph", "-f", "json", basic}},
		{"graph-basic-mermaid", "", []string{"graph", "--format", "mermaid", basic}},
		{"graph-bats-dot", "", []string{"graph", bats}},
		{"graph-bats-json", "", []string{"graph", "-f", "json", bats}},
		{"graph-targets-dot", "", []string{"graph", targets}},
		{"graph-targets-dot-reduce", "", []string{"graph", "--reduce", targets}},
		{"graph-targets-json-reduce", "", []string{"graph", "--reduce", "-f", "json", targets}},
		{"graph-targets-mermaid", "", []string{"graph", "-f", "mermaid", targets}},
		{"graph-targets-mermaid-reduce", "", []string{"graph", "-f", "mermaid", "--reduce", targets}},
		{"graph-stdin", "namespace: x\nstacks:\n  - name: a\n    template_path: t.json\n  - name: b\n    template_path: t.json\n    requires: [a]\n", []string{"graph", "-"}},
		{"outline-basic", "", []string{"build", "--outline", basic}},
		{"outline-bats", "", []string{"build", "-o", bats}},
		{"outline-targets", "", []string{"build", "-o", targets}},
		{"outline-stacks", "", []string{"build", "-o", "--stacks", "bastion1", "--targets", "app2", bats}},
		{"destroy-plan", "", []string{"destroy", bats}},
		{"destroy-plan-stacks", "", []string{"destroy", "--stacks", "bastion1", bats}},
		{"destroy-plan-targets", "", []string{"destroy", targets}},
		{"usage-no-args", "", []string{"build"}},
		{"usage-too-many-args", "", []string{"graph", "a", "b", "c"}},
		{"usage-bad-env", "", []string{"build", "-o", "-e", "novalue", basic}},
		{"usage-bad-env-empty-key", "", []string{"graph", "-e", "=x", basic}},
		{"usage-bad-format", "", []string{"graph", "-f", "png", basic}},
		{"graph-svg", "", []string{"graph", "-f", "svg", basic}},
		{"usage-negative-j", "", []string{"build", "-j", "-1", basic}},
		{"usage-empty-dump", "", []string{"build", "-d", "", basic}},
		{"usage-dump-and-outline", "", []string{"build", "-d", "x", "-o", basic}},
		{"usage-unknown-flag", "", []string{"graph", "--nope", basic}},
		{"usage-unknown-command", "", []string{"deploy", basic}},
		{"usage-unknown-stacks", "", []string{"build", "-o", "--stacks", "netwrok", basic}},
		{"usage-unknown-force", "", []string{"build", "-o", "--force", "ap", basic}},
		{"usage-bad-read-rate", "", []string{"info", "--read-rate", "0", basic}},
		{"usage-interactive-stdin", "", []string{"build", "-i", "-"}},
		{"usage-missing-config-file", "", []string{"graph", "testdata/configs/nope.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tt.stdin, tt.args...)
			golden(t, filepath.Join("testdata", "golden", tt.name+".golden"), transcript(code, stdout, stderr))
			if strings.HasPrefix(tt.name, "usage-") {
				if code != ExitUsage {
					t.Errorf("exit code %d, want %d", code, ExitUsage)
				}
				assertOneCleanError(t, stderr)
			}
		})
	}
}

// assertOneCleanError checks a usage failure prints exactly one error line
// and no Go trace.
func assertOneCleanError(t *testing.T, stderr string) {
	t.Helper()
	var errLines int
	for _, line := range strings.Split(strings.TrimSuffix(stderr, "\n"), "\n") {
		if strings.HasPrefix(line, "error: ") {
			errLines++
		}
	}
	if errLines != 1 {
		t.Errorf("want exactly one error line, got:\n%s", stderr)
	}
	for _, bad := range []string{"goroutine ", "panic", ".go:"} {
		if strings.Contains(stderr, bad) {
			t.Errorf("stderr contains %q:\n%s", bad, stderr)
		}
	}
}

// TestBrokenConfigs runs every testdata/broken/*.yaml through `build
// --outline` and `graph`: exit code 2, error lines only, no trace.
func TestBrokenConfigs(t *testing.T) {
	clearStackerEnv(t)
	files, err := filepath.Glob("testdata/broken/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no broken configs: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, "", "build", "--outline", file)
			golden(t, strings.TrimSuffix(file, ".yaml")+".golden", transcript(code, stdout, stderr))
			if code != ExitUsage {
				t.Errorf("exit code %d, want %d", code, ExitUsage)
			}
			for _, line := range strings.Split(strings.TrimSuffix(stderr, "\n"), "\n") {
				if !strings.HasPrefix(line, "error: ") && !strings.HasPrefix(line, "WARNING: ") {
					t.Errorf("unexpected stderr line %q", line)
				}
			}
			for _, bad := range []string{"goroutine ", "panic", ".go:"} {
				if strings.Contains(stderr, bad) {
					t.Errorf("stderr contains %q:\n%s", bad, stderr)
				}
			}
			code2, _, stderr2 := runCLI(t, "", "graph", file)
			if code2 != code || stderr2 != stderr {
				t.Errorf("graph disagrees with build --outline: exit %d\n%s", code2, stderr2)
			}
		})
	}
}

var hashRE = regexp.MustCompile(`-[0-9a-f]{8,}\.(json|yaml)`)

// TestDump renders examples/basic and the targets config into a temp dir.
func TestDump(t *testing.T) {
	clearStackerEnv(t)
	for _, cfg := range []struct{ name, path string }{{"basic", basic}, {"targets", targets}} {
		t.Run(cfg.name, func(t *testing.T) {
			dir := t.TempDir()
			code, stdout, stderr := runCLI(t, "", "build", "--dump", dir, cfg.path)
			stderr = strings.ReplaceAll(stderr, dir, "DIR")
			if code != ExitOK {
				t.Fatalf("exit %d\n%s", code, stderr)
			}
			golden(t, filepath.Join("testdata", "golden", "dump-"+cfg.name+".golden"), transcript(code, stdout, stderr))
			var files []string
			filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					rel, _ := filepath.Rel(dir, p)
					files = append(files, hashRE.ReplaceAllString(filepath.ToSlash(rel), "-HASH.$1"))
				}
				return nil
			})
			golden(t, filepath.Join("testdata", "golden", "dump-"+cfg.name+"-files.golden"), []byte(strings.Join(files, "\n")+"\n"))
		})
	}
}

// TestPreflightConfigs runs every testdata/preflight/*.yaml through `build
// --outline` and `build --dump`: both run the same offline checks, so they
// agree on the exit code and the error and warning lines.
func TestPreflightConfigs(t *testing.T) {
	clearStackerEnv(t)
	files, err := filepath.Glob("testdata/preflight/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no preflight configs: %v", err)
	}
	problems := func(stderr string) string {
		var out []string
		for _, l := range strings.Split(stderr, "\n") {
			if strings.HasPrefix(l, "error: ") || strings.HasPrefix(l, "WARNING: ") {
				out = append(out, l)
			}
		}
		return strings.Join(out, "\n")
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, "", "build", "--outline", file)
			wd, _ := os.Getwd()
			golden(t, strings.TrimSuffix(file, ".yaml")+".golden", transcript(code, stdout, strings.ReplaceAll(stderr, wd, "$PWD")))
			for _, bad := range []string{"goroutine ", "panic", ".go:"} {
				if strings.Contains(stderr, bad) {
					t.Errorf("stderr contains %q:\n%s", bad, stderr)
				}
			}
			code2, _, stderr2 := runCLI(t, "", "build", "--dump", t.TempDir(), file)
			if code != ExitOK && (code2 != code || problems(stderr2) != problems(stderr)) {
				t.Errorf("--dump disagrees with --outline: exit %d\n%s", code2, stderr2)
			}
		})
	}
}
