package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stacker-go/stacker/internal/sandbox"
)

func TestSandboxTOTPPrintsCode(t *testing.T) {
	var out bytes.Buffer
	at := time.Unix(1234567890, 0)
	if err := runSandboxTOTP(context.Background(), IO{Out: &out, ErrOut: io.Discard}, &SandboxTOTPOptions{Seed: sandbox.DefaultMFASeed, At: at}); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), sandbox.TOTP(sandbox.DefaultMFASeed, at)+"\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	err := runSandboxTOTP(context.Background(), IO{Out: &out, ErrOut: io.Discard}, &SandboxTOTPOptions{Seed: "!!"})
	if ee, ok := err.(*ExitError); !ok || ee.Code != ExitUsage {
		t.Errorf("bad seed: %v", err)
	}
}

func TestSandboxCommandFlags(t *testing.T) {
	var got *SandboxServeOptions
	cmd := newSandboxServeCmd(IO{Out: io.Discard, ErrOut: io.Discard}, func(_ context.Context, _ IO, o *SandboxServeOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--listen", "127.0.0.1:0", "--spec", "s.yaml", "--aws-config-out", "c", "--state-dir", "d"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Listen != "127.0.0.1:0" || got.SpecFile != "s.yaml" || got.AWSConfigOut != "c" || got.StateDir != "d" {
		t.Errorf("%+v", got)
	}
	cmd = newSandboxServeCmd(IO{Out: io.Discard, ErrOut: io.Discard}, func(context.Context, IO, *SandboxServeOptions) error { return nil })
	cmd.SetArgs([]string{"--listen", "nonsense"})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	if err := cmd.Execute(); err == nil {
		t.Errorf("bad --listen accepted")
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestSandboxServeReadyLineAndShutdown(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "aws-config")
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- runSandboxServe(ctx, IO{Out: out, ErrOut: io.Discard}, &SandboxServeOptions{Listen: "127.0.0.1:0", AWSConfigOut: cfgPath, StateDir: filepath.Join(dir, "state")})
	}()
	re := regexp.MustCompile(`^sandbox ready: http://127\.0\.0\.1:[0-9]+\n$`)
	deadline := time.Now().Add(10 * time.Second)
	for !re.MatchString(out.String()) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if !re.MatchString(out.String()) {
		t.Fatalf("stdout %q", out.String())
	}
	b, err := os.ReadFile(cfgPath)
	if err != nil || !strings.Contains(string(b), "[profile sandbox-master]") {
		t.Errorf("config: %v %s", err, b)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "state", "sandbox-state.json")); err != nil {
		t.Errorf("no snapshot on shutdown: %v", err)
	}
}
