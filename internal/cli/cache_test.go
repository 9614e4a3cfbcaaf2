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
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"mfa-1.json", "role-2.json", "keep.txt"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var out, errOut bytes.Buffer
	if code := Run(context.Background(), []string{"cache", "path"}, IO{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}); code != ExitOK {
		t.Fatalf("cache path: exit %d: %s", code, errOut.String())
	}
	if strings.TrimSpace(out.String()) != dir {
		t.Errorf("cache path = %q, want %q", out.String(), dir)
	}
	out.Reset()
	errOut.Reset()
	if code := Run(context.Background(), []string{"cache", "clear"}, IO{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}); code != ExitOK {
		t.Fatalf("cache clear: exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(errOut.String(), "removed 2 cached credential(s)") {
		t.Errorf("cache clear said %q", errOut.String())
	}
	left, _ := os.ReadDir(dir)
	if len(left) != 1 || left[0].Name() != "keep.txt" {
		t.Errorf("left after clear: %v", left)
	}
	if code := Run(context.Background(), []string{"cache"}, IO{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}); code != ExitUsage {
		t.Errorf("bare cache: exit %d, want %d", code, ExitUsage)
	}
}
