// Package e2e holds the end-to-end harness: it builds the stacker binary
// once, starts moto_server on a free loopback port and runs the CLI
// against it with fake static keys, the way a user would.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// EnvRequireMoto makes a missing moto_server a failure instead of a skip (CI sets it).
const EnvRequireMoto = "STACKER_REQUIRE_MOTO"

// Harness is a running moto_server plus the built binary.
type Harness struct {
	URL    string // http://localhost:<port> (moto parses 127.0.0.1 TemplateURLs as bucket "127")
	Bin    string
	cmd    *exec.Cmd
	err    error
	skip   string
	closed bool
}

var (
	once   sync.Once
	shared *Harness
)

// MotoPath finds moto_server: the pyenv shim, then PATH.
func MotoPath() (string, error) {
	for _, p := range []string{"/root/.pyenv/shims/moto_server"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return exec.LookPath("moto_server")
}

// Start returns the shared harness (built and started on first use). A
// missing moto_server skips the test unless STACKER_REQUIRE_MOTO=1.
func Start(t testing.TB) *Harness {
	t.Helper()
	once.Do(func() { shared = start(t) })
	if shared.skip != "" {
		if os.Getenv(EnvRequireMoto) == "1" {
			t.Fatalf("%s and %s=1", shared.skip, EnvRequireMoto)
		}
		t.Skip(shared.skip)
	}
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared
}

// Stop stops moto and removes the binary (TestMain calls it).
func Stop() {
	if binTmp != "" {
		os.RemoveAll(binTmp)
	}
	if shared == nil || shared.closed {
		return
	}
	shared.closed = true
	if shared.cmd != nil && shared.cmd.Process != nil {
		_ = shared.cmd.Process.Kill()
		_ = shared.cmd.Wait()
	}
}

var (
	binOnce sync.Once
	binPath string
	binTmp  string
	binErr  error
)

// Binary builds the stacker binary once per test process.
func Binary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		binTmp, binErr = os.MkdirTemp("", "stacker-e2e-")
		if binErr != nil {
			return
		}
		root, err := moduleRoot()
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(binTmp, "stacker")
		build := exec.Command("go", "build", "-o", binPath, "./cmd/stacker")
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func start(t testing.TB) *Harness {
	h := &Harness{}
	moto, err := MotoPath()
	if err != nil {
		h.skip = "moto_server not found (looked for /root/.pyenv/shims/moto_server and moto_server on PATH)"
		return h
	}
	h.Bin = Binary(t)
	port, err := freePort()
	if err != nil {
		h.err = err
		return h
	}
	h.cmd = exec.Command(moto, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	h.cmd.Stdout, h.cmd.Stderr = nil, nil
	h.cmd.Env = append(os.Environ(), "MOTO_ALLOW_NONEXISTENT_REGION=true")
	if err := h.cmd.Start(); err != nil {
		h.err = fmt.Errorf("start moto_server: %w", err)
		return h
	}
	h.URL = fmt.Sprintf("http://localhost:%d", port)
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(h.URL + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			h.err = fmt.Errorf("moto_server did not answer on %s: %v", h.URL, err)
			return h
		}
		time.Sleep(100 * time.Millisecond)
	}
	// moto imports its CloudFormation and S3 backends on first use (seconds
	// on a busy machine); pay that once here, not in the first test.
	for _, body := range []string{"Action=DescribeStacks&Version=2010-05-15", "Action=ListExports&Version=2010-05-15"} {
		req, _ := http.NewRequest(http.MethodPost, h.URL+"/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/cloudformation/aws4_request, SignedHeaders=host, Signature=0")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}
	if resp, err := http.Get(h.URL + "/"); err == nil {
		resp.Body.Close()
	}
	return h
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the module")
	}
	return filepath.Dir(mod), nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Env is the environment the CLI runs with: the endpoint, fake static
// keys, a region, no shared config files and no credential cache.
func (h *Harness) Env(dir string) []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"AWS_ENDPOINT_URL=" + h.URL,
		"AWS_ACCESS_KEY_ID=testing",
		"AWS_SECRET_ACCESS_KEY=testing",
		"AWS_REGION=us-east-1",
		"AWS_CONFIG_FILE=" + filepath.Join(dir, "aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "aws-credentials"),
		"STACKER_NO_CREDENTIAL_CACHE=1",
		"STACKER_STACK_POLL_TIME=1",
		"NO_COLOR=1",
	}
}

// Result of one CLI run.
type Result struct {
	Code           int
	Stdout, Stderr string
}

// Lines returns the stderr lines with the "[<time>] " prefix removed.
func (r Result) Lines() []string {
	var out []string
	for _, l := range strings.Split(strings.TrimRight(r.Stderr, "\n"), "\n") {
		if strings.HasPrefix(l, "[") {
			if i := strings.Index(l, "] "); i > 0 {
				l = l[i+2:]
			}
		}
		out = append(out, l)
	}
	return out
}

// Run runs the binary in dir with extra environment entries.
func (h *Harness) Run(t testing.TB, dir string, extraEnv []string, args ...string) Result {
	t.Helper()
	return RunBinary(t, h.Bin, dir, append(h.Env(dir), extraEnv...), args...)
}

// RunBinary runs bin in dir with exactly env.
func RunBinary(t testing.TB, bin, dir string, env []string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	began := time.Now()
	err := cmd.Run()
	t.Logf("stacker %s: %v", strings.Join(args, " "), time.Since(began).Round(time.Millisecond))
	res := Result{Stdout: stdout.String(), Stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.Code = ee.ExitCode()
	default:
		t.Fatalf("run %v: %v", args, err)
	}
	return res
}
