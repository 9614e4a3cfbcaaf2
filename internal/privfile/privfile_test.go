package privfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteIsPrivateAndWhole(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	for _, content := range []string{`{"a":1}`, `{"a":2}`} {
		if err := Write(dir, "x.json", []byte(content)); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, "x.json"))
		if err != nil || string(b) != content {
			t.Fatalf("read %q, %v; want %q", b, err, content)
		}
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, "x.json"): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %o, want %o", path, got, want)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("%d files left, want only x.json", len(entries))
	}
}

func TestWriteTightensAnOpenDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Write(dir, "x.json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %o, want 700", fi.Mode().Perm())
	}
}

func TestClear(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a.json", "b.json", ".tmp-123", "keep.txt"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub.json"), 0o700); err != nil {
		t.Fatal(err)
	}
	n, err := Clear(dir)
	if err != nil || n != 2 {
		t.Fatalf("Clear = %d, %v; want 2 removed", n, err)
	}
	entries, _ := os.ReadDir(dir)
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if len(left) != 2 || left[0] != "keep.txt" || left[1] != "sub.json" {
		t.Errorf("left %v, want keep.txt and the directory sub.json", left)
	}
	if n, err := Clear(filepath.Join(dir, "missing")); n != 0 || err != nil {
		t.Errorf("Clear of a missing directory = %d, %v", n, err)
	}
}
