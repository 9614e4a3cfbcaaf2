// Package python tests the Python bridge end to end: the built stacker
// binary renders a config whose blueprints, lookups and package sources
// are Python code (written against stacker's duck-typed contract, so no
// troposphere is needed).
package python

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binOut  []byte
)

// stackerBin builds the stacker binary once for the package's tests.
func stackerBin(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "stacker-python-e2e-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "stacker")
		binOut, binErr = exec.Command("go", "build", "-o", binPath, "github.com/stacker-go/stacker/cmd/stacker").CombinedOutput()
	})
	if binErr != nil {
		t.Fatalf("building stacker: %v\n%s", binErr, binOut)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

func run(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(stackerBin(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errOut.String()}
}

// project copies testdata/project into a temp dir with the config's last
// stack replaced, when classPath is set, by one using that class.
func project(t *testing.T, classPath string) string {
	t.Helper()
	dir := t.TempDir()
	err := filepath.Walk("testdata/project", func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("testdata/project", p)
		dst := filepath.Join(dir, rel)
		if fi.IsDir() {
			if fi.Name() == "__pycache__" {
				return filepath.SkipDir
			}
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	if classPath != "" {
		cfg := filepath.Join(dir, "stacker.yaml")
		b, _ := os.ReadFile(cfg)
		s := strings.Replace(string(b), "class_path: vendoredbp.Queue", "class_path: "+classPath, 1)
		if err := os.WriteFile(cfg, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func readDumped(t *testing.T, dir, fqn, name string) map[string]any {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(dir, "stack_templates", fqn, name+"-*.json"))
	if len(matches) != 1 {
		t.Fatalf("dumped templates for %s: %v", name, matches)
	}
	b, err := os.ReadFile(matches[0])
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", matches[0], err)
	}
	return doc
}

func TestDumpRendersPythonBlueprints(t *testing.T) {
	proj := project(t, "")
	out := t.TempDir()
	r := run(t, nil, "build", "--dump", out, filepath.Join(proj, "staging.env"), filepath.Join(proj, "stacker.yaml"))
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	app := readDumped(t, out, "py-demo-app", "app")
	outputs, _ := app["Outputs"].(map[string]any)
	want := map[string]string{
		"Extra":   `{"from": "legacy", "namespace": "py-demo", "value": "abc"}`, // an old-style Python lookup
		"Fqn":     "py-demo-app",
		"Env":     "staging",
		"Enabled": "True",
	}
	for k, w := range want {
		o, _ := outputs[k].(map[string]any)
		if o == nil || o["Value"] != w {
			t.Errorf("output %s = %v, want %q", k, outputs[k], w)
		}
	}
	if res, _ := app["Resources"].(map[string]any); len(res) != 3 {
		t.Errorf("Count 3 should give 3 resources: %v", app["Resources"])
	}
	if app["Description"] != "rendered by Python" {
		t.Errorf("description: %v", app["Description"])
	}
	if m, _ := json.Marshal(app["Mappings"]); string(m) != `{"AmiMap":{"us-east-1":{"NAT":"ami-123"}}}` {
		t.Errorf("mappings: %s", m)
	}
	// The package_sources local path made vendoredbp importable.
	q := readDumped(t, out, "py-demo-vendored", "vendored")
	if b, _ := json.Marshal(q["Resources"]); !strings.Contains(string(b), `"QueueName":"jobs"`) {
		t.Errorf("vendored: %s", b)
	}
	for _, line := range []string{`Writing stack "app" -> `, `Writing stack "vendored" -> `} {
		if !strings.Contains(r.stderr, line) {
			t.Errorf("stderr lacks %q:\n%s", line, r.stderr)
		}
	}
}

func TestDumpShowsTheParametersOfPythonBlueprints(t *testing.T) {
	// A new-style Python lookup's value reaches the stack as a parameter.
	proj := project(t, "")
	out := t.TempDir()
	r := run(t, []string{"STACKER_PYTHON="}, "build", "--dump", out, "-v", filepath.Join(proj, "staging.env"), filepath.Join(proj, "stacker.yaml"))
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "python bridge: interpreter") || !strings.Contains(r.stderr, "from=\"python3 on PATH\"") {
		t.Errorf("-v does not say which interpreter:\n%s", r.stderr)
	}
	if strings.Count(r.stderr, "python bridge: started") != 1 {
		t.Errorf("the interpreter must start once:\n%s", r.stderr)
	}
}

func TestPythonErrorNamesTheStackClassAndLine(t *testing.T) {
	proj := project(t, "myblueprints.Broken")
	cfg := filepath.Join(proj, "stacker.yaml")
	env := filepath.Join(proj, "staging.env")
	r := run(t, nil, "build", "--dump", t.TempDir(), env, cfg)
	// The offline preflight renders every stack before anything is written:
	// a blueprint that raises is reported there, at the stack's line (exit 2).
	if r.code != 2 {
		t.Fatalf("exit %d, want 2\n%s", r.code, r.stderr)
	}
	want := `stack "vendored": Python blueprint myblueprints.Broken: KeyError: 'no such key' (at ` + filepath.Join(proj, "lib", "myblueprints.py") + ":49)"
	if !strings.Contains(r.stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
	}
	if strings.Contains(r.stderr, "Traceback") {
		t.Errorf("traceback shown without -v:\n%s", r.stderr)
	}
	if strings.Contains(r.stderr, "Writing stack") {
		t.Errorf("a template was written although the preflight failed:\n%s", r.stderr)
	}
	r = run(t, nil, "build", "--dump", t.TempDir(), "-v", env, cfg)
	if !strings.Contains(r.stderr, "Traceback (most recent call last)") {
		t.Errorf("no traceback with -v:\n%s", r.stderr)
	}
}

func TestUnimportableClassIsAConfigError(t *testing.T) {
	proj := project(t, "nosuchmodule.Thing")
	r := run(t, nil, "build", "--outline", filepath.Join(proj, "staging.env"), filepath.Join(proj, "stacker.yaml"))
	if r.code != 2 {
		t.Fatalf("exit %d, want 2\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"stacker.yaml:28:5: stack \"vendored\": class_path nosuchmodule.Thing is not a Go blueprint, and Python cannot load it: module nosuchmodule not found on Python's path",
		`sys_path "./lib" (relative to ` + proj} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	r = run(t, []string{"STACKER_PYTHON=/nonexistent/python3"}, "build", "--outline", filepath.Join(proj, "staging.env"), filepath.Join(proj, "stacker.yaml"))
	if r.code != 2 || !strings.Contains(r.stderr, `Python interpreter "/nonexistent/python3" (from STACKER_PYTHON) not found`) {
		t.Errorf("missing interpreter: exit %d\n%s", r.code, r.stderr)
	}
	// graph never needs Python.
	if r := run(t, []string{"STACKER_PYTHON=/nonexistent/python3"}, "graph", filepath.Join(proj, "staging.env"), filepath.Join(proj, "stacker.yaml")); r.code != 0 {
		t.Errorf("graph: exit %d\n%s", r.code, r.stderr)
	}
}

// TestInterruptLeavesNoPython sends SIGINT to stacker while a Python
// blueprint is busy: exit 130 and the Python process is gone.
func TestInterruptLeavesNoPython(t *testing.T) {
	proj := project(t, "myblueprints.Sleepy")
	pidfile := filepath.Join(t.TempDir(), "pid")
	cmd := exec.Command(stackerBin(t), "build", "--dump", t.TempDir(), filepath.Join(proj, "staging.env"), filepath.Join(proj, "stacker.yaml"))
	cmd.Env = append(os.Environ(), "SLEEPY_PIDFILE="+pidfile)
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	deadline := time.Now().Add(60 * time.Second)
	for pid == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		if b, err := os.ReadFile(pidfile); err == nil {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
	}
	if pid == 0 {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the blueprint never started\n%s", errOut.String())
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("stacker did not stop on SIGINT\n%s", errOut.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("exit %d, want 130\n%s", code, errOut.String())
	}
	deadline = time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if syscall.Kill(pid, 0) != nil || zombie(pid) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("python %d still running after stacker exited", pid)
	syscall.Kill(pid, syscall.SIGKILL)
}

func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	f := strings.Fields(string(b))
	return len(f) > 2 && f[2] == "Z"
}
