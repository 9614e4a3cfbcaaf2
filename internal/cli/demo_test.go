package cli

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemoLeavesTheProcessAlone runs the demo in process with a hostile
// environment: its runs see only the demo's environment (never the
// process's AWS_PROFILE or endpoint), and the process's environment and
// working directory are the same afterwards, and nothing is written in the
// user's home (no cached credentials, no deploy records of the sandbox's
// short-lived stacks).
func TestDemoLeavesTheProcessAlone(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CACHE_HOME", "")
	hostile := map[string]string{
		"AWS_PROFILE": "no-such-profile", "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
		"AWS_CONFIG_FILE": "/nonexistent/config", "AWS_ACCESS_KEY_ID": "AKIAPROCESS", "AWS_SECRET_ACCESS_KEY": "processsecret",
		"AWS_SESSION_TOKEN": "", "AWS_REGION": "eu-west-1", envMFACode: "000000",
	}
	for k, v := range hostile {
		t.Setenv(k, v)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code := Run(context.Background(), []string{"demo"}, IO{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	if code != ExitOK {
		t.Fatalf("demo: exit %d\n%s\n%s", code, out.String(), errOut.String())
	}
	for _, want := range []string{"prod   vpc             CREATE_COMPLETE  account 222222222222", "stage  vpc             CREATE_COMPLETE  account 333333333333"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
	for k, v := range hostile {
		if got := os.Getenv(k); got != v {
			t.Errorf("after the demo %s = %q, want %q (untouched)", k, got, v)
		}
	}
	if now, _ := os.Getwd(); now != wd {
		t.Errorf("working directory %q, want %q (untouched)", now, wd)
	}
	_ = filepath.WalkDir(home, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			t.Errorf("the demo wrote %s in the user's home", p)
		}
		return nil
	})
}
