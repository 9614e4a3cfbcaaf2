package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCachePathAndClear(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "creds")
	t.Setenv("STACKER_CREDENTIAL_CACHE_DIR", dir)
	deployed := filepath.Join(t.TempDir(), "deployed")
	t.Setenv("STACKER_DEPLOY_CACHE_DIR", deployed)
	for _, f := range []string{"creds/mfa-1.json", "creds/role-2.json", "creds/keep.txt", "deployed/111111111111_us-east-1_ns-vpc.json", "deployed/keep.txt"} {
		d := dir
		if strings.HasPrefix(f, "deployed/") {
			d = deployed
		}
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, filepath.Base(f)), []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var out, errOut bytes.Buffer
	if code := Run(context.Background(), []string{"cache", "path"}, IO{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}); code != ExitOK {
		t.Fatalf("cache path: exit %d: %s", code, errOut.String())
	}
	if want := dir + "\n" + deployed + "\n"; out.String() != want {
		t.Errorf("cache path = %q, want %q", out.String(), want)
	}
	out.Reset()
	errOut.Reset()
	if code := Run(context.Background(), []string{"cache", "clear"}, IO{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}); code != ExitOK {
		t.Fatalf("cache clear: exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(errOut.String(), "removed 2 cached credential(s)") || !strings.Contains(errOut.String(), "removed 1 deploy record(s) from "+deployed) {
		t.Errorf("cache clear said %q", errOut.String())
	}
	for _, d := range []string{dir, deployed} {
		left, _ := os.ReadDir(d)
		if len(left) != 1 || left[0].Name() != "keep.txt" {
			t.Errorf("left in %s after clear: %v", d, left)
		}
	}
	if code := Run(context.Background(), []string{"cache"}, IO{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}); code != ExitUsage {
		t.Errorf("bare cache: exit %d, want %d", code, ExitUsage)
	}
}
