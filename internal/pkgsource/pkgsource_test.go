package pkgsource

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stacker-go/stacker/internal/config"
)

func TestLocalSources(t *testing.T) {
	cfgDir := t.TempDir()
	os.MkdirAll(filepath.Join(cfgDir, "vendor", "a"), 0o755)
	os.MkdirAll(filepath.Join(cfgDir, "other"), 0o755)
	ps := &config.PackageSources{Local: []config.LocalSource{
		{Source: "vendor", Paths: []string{"a"}},
		{Source: "other"},
	}}
	got, err := Fetch(context.Background(), ps, Options{ConfigDir: cfgDir})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(cfgDir, "vendor", "a"), filepath.Join(cfgDir, "other")}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %v, want %v", got, want)
	}
	_, err = Fetch(context.Background(), &config.PackageSources{Local: []config.LocalSource{{Source: "missing", Pos: config.Pos{File: "s.yaml", Line: 3, Col: 7}}}}, Options{ConfigDir: cfgDir})
	if err == nil || !strings.Contains(err.Error(), "s.yaml:3:7: package_sources.local: source "+filepath.Join(cfgDir, "missing")+" is not a directory") {
		t.Errorf("missing source: %v", err)
	}
	_, err = Fetch(context.Background(), &config.PackageSources{Local: []config.LocalSource{{Source: "vendor", Paths: []string{"../../etc"}}}}, Options{ConfigDir: cfgDir})
	if err == nil || !strings.Contains(err.Error(), "leaves the source") {
		t.Errorf("escaping path: %v", err)
	}
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestGitSources(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("git is needed: %v", err)
	}
	repo := t.TempDir()
	git(t, repo, "init", "-q", "-b", "main")
	os.MkdirAll(filepath.Join(repo, "src"), 0o755)
	os.WriteFile(filepath.Join(repo, "src", "mod.py"), []byte("V = 1\n"), 0o644)
	git(t, repo, "add", ".")
	git(t, repo, "commit", "-qm", "one")
	first := git(t, repo, "rev-parse", "HEAD")
	git(t, repo, "tag", "v1")
	os.WriteFile(filepath.Join(repo, "src", "mod.py"), []byte("V = 2\n"), 0o644)
	git(t, repo, "commit", "-qam", "two")
	second := git(t, repo, "rev-parse", "HEAD")

	cache := t.TempDir()
	fetch := func(g config.GitSource) string {
		t.Helper()
		dirs, err := Fetch(context.Background(), &config.PackageSources{Git: []config.GitSource{g}}, Options{CacheDir: cache})
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dirs[0], "mod.py"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(dirs[0], filepath.Join(cache, "packages")) {
			t.Errorf("%s is not under the cache", dirs[0])
		}
		return strings.TrimSpace(string(b))
	}
	uri := "file://" + repo
	if got := fetch(config.GitSource{URI: uri, Tag: "v1", Paths: []string{"src"}}); got != "V = 1" {
		t.Errorf("tag v1: %s", got)
	}
	if got := fetch(config.GitSource{URI: uri, Commit: first, Paths: []string{"src"}}); got != "V = 1" {
		t.Errorf("commit: %s", got)
	}
	if got := fetch(config.GitSource{URI: uri, Branch: "main", Paths: []string{"src"}}); got != "V = 2" {
		t.Errorf("branch main: %s", got)
	}
	if got := fetch(config.GitSource{URI: uri, Paths: []string{"src"}}); got != "V = 2" {
		t.Errorf("HEAD: %s", got)
	}
	entries, _ := os.ReadDir(filepath.Join(cache, "packages"))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 3 || !strings.Contains(strings.Join(names, " "), second) {
		t.Errorf("cache dirs %v: want one per ref (v1, %s, %s)", names, first, second)
	}
	_, err := Fetch(context.Background(), &config.PackageSources{Git: []config.GitSource{{URI: uri, Branch: "nope", Pos: config.Pos{File: "c.yaml", Line: 9, Col: 3}}}}, Options{CacheDir: cache})
	if err == nil || !strings.Contains(err.Error(), `c.yaml:9:3: package_sources.git: Ref "refs/heads/nope" not found for repo `+uri) {
		t.Errorf("unknown branch: %v", err)
	}
}

type fakeS3 struct {
	objects map[string][]byte
	gets    int
}

func (f *fakeS3) LastModified(_ context.Context, bucket, key string, _ bool) (time.Time, error) {
	return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), nil
}

func (f *fakeS3) Get(_ context.Context, bucket, key string, _ bool) (io.ReadCloser, error) {
	f.gets++
	return io.NopCloser(bytes.NewReader(f.objects[bucket+"/"+key])), nil
}

func tarGz(t *testing.T, files map[string]string) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range files {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func zipOf(t *testing.T, files map[string]string) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		w, _ := zw.Create(name)
		w.Write([]byte(body))
	}
	zw.Close()
	return buf.Bytes()
}

func TestS3Sources(t *testing.T) {
	s3 := &fakeS3{objects: map[string][]byte{
		"b/pkgs/bp.tar.gz": tarGz(t, map[string]string{"lib/bp.py": "X = 1\n"}),
		"b/pkgs/bp.zip":    zipOf(t, map[string]string{"bp2.py": "Y = 2\n"}),
	}}
	cache := t.TempDir()
	ps := &config.PackageSources{S3: []config.S3Source{
		{Bucket: "b", Key: "pkgs/bp.tar.gz", UseLatest: true, Paths: []string{"lib"}},
		{Bucket: "b", Key: "pkgs/bp.zip"},
	}}
	dirs, err := Fetch(context.Background(), ps, Options{CacheDir: cache, S3: s3})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(dirs[0], "b-pkgs_bp-20260102T030405Z/lib") {
		t.Errorf("use_latest dir: %s", dirs[0])
	}
	for i, f := range []string{"bp.py", "bp2.py"} {
		if _, err := os.Stat(filepath.Join(dirs[i], f)); err != nil {
			t.Error(err)
		}
	}
	if _, err := Fetch(context.Background(), ps, Options{CacheDir: cache, S3: s3}); err != nil || s3.gets != 2 {
		t.Errorf("second run should reuse the cache: %v, %d gets", err, s3.gets)
	}
	_, err = Fetch(context.Background(), &config.PackageSources{S3: []config.S3Source{{Bucket: "b", Key: "x.rar"}}}, Options{CacheDir: cache, S3: s3})
	if err == nil || !strings.Contains(err.Error(), `Archive type could not be determined for S3 object "x.rar" in bucket b.`) {
		t.Errorf("unknown archive: %v", err)
	}
}

func TestUnpackRefusesEntriesOutsideTheDirectory(t *testing.T) {
	for _, tt := range []struct {
		kind string
		data []byte
	}{
		{"tar.gz", tarGz(t, map[string]string{"../evil.py": "x"})},
		{"zip", zipOf(t, map[string]string{"../../evil.py": "x"})},
	} {
		dir := t.TempDir()
		err := Unpack(tt.kind, tt.data, filepath.Join(dir, "out"))
		if err == nil || !strings.Contains(err.Error(), "leaves the directory") {
			t.Errorf("%s: %v", tt.kind, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "evil.py")); err == nil {
			t.Errorf("%s: wrote outside", tt.kind)
		}
	}
}
