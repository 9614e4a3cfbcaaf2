// Package pkgsource fetches a config's package_sources (stacker §2.5) into
// the cache directory, so the Python bridge can import the code in them:
// local directories are used in place, git repositories are cloned with
// the git binary into <cache>/packages/<uri>-<commit>, S3 archives (.tar.gz,
// .tar, .zip) are unpacked into <cache>/packages/<bucket>-<key>[-<last
// modified>]. A fetched directory is reused on the next run. Fetch returns
// the directories to append to Python's path: each source's paths, or its
// root when it lists none. The package knows nothing of credentials: S3
// access comes in as an interface.
package pkgsource

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/stacker-go/stacker/internal/config"
)

// S3 reads package archives. The CLI gives one built with the default
// target's credentials.
type S3 interface {
	// LastModified is HeadObject's LastModified.
	LastModified(ctx context.Context, bucket, key string, requesterPays bool) (time.Time, error)
	// Get returns the object's body.
	Get(ctx context.Context, bucket, key string, requesterPays bool) (io.ReadCloser, error)
}

// Options for Fetch.
type Options struct {
	ConfigDir string // local sources resolve against it
	CacheDir  string // fetched sources go under CacheDir/packages
	S3        S3     // nil: an s3 source is an error saying so
	Git       string // the git binary, default "git"
}

// Fetch makes every source available and returns the directories to add
// to Python's path, in stacker's order: local, then s3, then git.
func Fetch(ctx context.Context, ps *config.PackageSources, o Options) ([]string, error) {
	if ps == nil {
		return nil, nil
	}
	if o.Git == "" {
		o.Git = "git"
	}
	var out []string
	for _, l := range ps.Local {
		root := l.Source
		if !filepath.IsAbs(root) {
			root = filepath.Join(o.ConfigDir, root)
		}
		if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
			return nil, posErr(l.Pos, "package_sources.local: source %s is not a directory", root)
		}
		dirs, err := sourcePaths(root, l.Paths, l.Pos)
		if err != nil {
			return nil, err
		}
		out = append(out, dirs...)
	}
	for _, s := range ps.S3 {
		root, err := fetchS3(ctx, s, o)
		if err != nil {
			return nil, err
		}
		dirs, err := sourcePaths(root, s.Paths, s.Pos)
		if err != nil {
			return nil, err
		}
		out = append(out, dirs...)
	}
	for _, g := range ps.Git {
		root, err := fetchGit(ctx, g, o)
		if err != nil {
			return nil, err
		}
		dirs, err := sourcePaths(root, g.Paths, g.Pos)
		if err != nil {
			return nil, err
		}
		out = append(out, dirs...)
	}
	return out, nil
}

func posErr(p config.Pos, format string, args ...any) error {
	return &config.Error{Pos: p, Msg: fmt.Sprintf(format, args...)}
}

func sourcePaths(root string, paths []string, pos config.Pos) ([]string, error) {
	if len(paths) == 0 {
		return []string{root}, nil
	}
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		d := filepath.Join(root, p)
		if !within(root, d) {
			return nil, posErr(pos, "package_sources: path %q leaves the source", p)
		}
		out = append(out, d)
	}
	return out, nil
}

func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// dirName turns a URI or key into one safe directory name.
func dirName(s string) string {
	s = strings.TrimSuffix(s, ".git")
	return strings.Trim(unsafeName.ReplaceAllString(s, "_"), "_")
}

// ---- git ----------------------------------------------------------------

var shaRE = regexp.MustCompile(`^[0-9a-f]{40}$`)

func fetchGit(ctx context.Context, g config.GitSource, o Options) (string, error) {
	ref := g.Commit
	if ref == "" {
		ref = g.Tag
	}
	if ref == "" {
		// A branch (or the default branch) moves: ask the remote for its
		// commit on every run, as stacker does.
		head := "HEAD"
		if g.Branch != "" {
			head = "refs/heads/" + g.Branch
		}
		out, err := runGit(ctx, o.Git, "", "ls-remote", g.URI, head)
		if err != nil {
			return "", posErr(g.Pos, "package_sources.git %s: %v", g.URI, err)
		}
		fields := strings.Fields(out)
		if len(fields) == 0 || !shaRE.MatchString(fields[0]) {
			return "", posErr(g.Pos, "package_sources.git: Ref %q not found for repo %s.", head, g.URI)
		}
		ref = fields[0]
	}
	dir := filepath.Join(o.CacheDir, "packages", dirName(g.URI)+"-"+dirName(ref))
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		slog.Debug("package source: cached", "uri", g.URI, "ref", ref, "dir", dir)
		return dir, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", fmt.Errorf("package_sources.git %s: %w", g.URI, err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".clone-")
	if err != nil {
		return "", fmt.Errorf("package_sources.git %s: %w", g.URI, err)
	}
	defer os.RemoveAll(tmp)
	slog.Debug("package source: cloning", "uri", g.URI, "ref", ref, "dir", dir)
	if _, err := runGit(ctx, o.Git, "", "clone", "--quiet", g.URI, tmp); err != nil {
		return "", posErr(g.Pos, "package_sources.git %s: %v", g.URI, err)
	}
	if _, err := runGit(ctx, o.Git, tmp, "checkout", "--quiet", ref); err != nil {
		return "", posErr(g.Pos, "package_sources.git: Ref %q not found for repo %s: %v", ref, g.URI, err)
	}
	if err := os.Rename(tmp, dir); err != nil && !isExist(dir) {
		return "", fmt.Errorf("package_sources.git %s: %w", g.URI, err)
	}
	return dir, nil
}

func isExist(dir string) bool {
	fi, err := os.Stat(dir)
	return err == nil && fi.IsDir()
}

func runGit(ctx context.Context, git, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, git, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.Error
		if errors.As(err, &ee) {
			return "", fmt.Errorf("the git binary is needed for git package sources: %w", err)
		}
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return "", fmt.Errorf("git %s: %s", args[0], msg)
	}
	return string(out), nil
}

// ---- s3 -----------------------------------------------------------------

func fetchS3(ctx context.Context, s config.S3Source, o Options) (string, error) {
	var kind string
	switch {
	case strings.HasSuffix(s.Key, ".tar.gz"), strings.HasSuffix(s.Key, ".tgz"):
		kind = "tar.gz"
	case strings.HasSuffix(s.Key, ".tar"):
		kind = "tar"
	case strings.HasSuffix(s.Key, ".zip"):
		kind = "zip"
	default:
		return "", posErr(s.Pos, "package_sources.s3: Archive type could not be determined for S3 object %q in bucket %s.", s.Key, s.Bucket)
	}
	if o.S3 == nil {
		return "", posErr(s.Pos, "package_sources.s3 s3://%s/%s: no S3 access in this command", s.Bucket, s.Key)
	}
	name := dirName(s.Bucket) + "-" + dirName(strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(s.Key, ".zip"), ".tar"), ".tar.gz"))
	if s.UseLatest {
		lm, err := o.S3.LastModified(ctx, s.Bucket, s.Key, s.RequesterPays)
		if err != nil {
			return "", posErr(s.Pos, "package_sources.s3 s3://%s/%s: %v", s.Bucket, s.Key, err)
		}
		name += "-" + lm.UTC().Format("20060102T150405Z")
	}
	dir := filepath.Join(o.CacheDir, "packages", name)
	if isExist(dir) {
		slog.Debug("package source: cached", "s3", s.Bucket+"/"+s.Key, "dir", dir)
		return dir, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	body, err := o.S3.Get(ctx, s.Bucket, s.Key, s.RequesterPays)
	if err != nil {
		return "", posErr(s.Pos, "package_sources.s3 s3://%s/%s: %v", s.Bucket, s.Key, err)
	}
	defer body.Close()
	data, err := io.ReadAll(io.LimitReader(body, maxArchive+1))
	if err != nil {
		return "", fmt.Errorf("package_sources.s3 s3://%s/%s: %w", s.Bucket, s.Key, err)
	}
	if len(data) > maxArchive {
		return "", posErr(s.Pos, "package_sources.s3 s3://%s/%s: archive over %d bytes", s.Bucket, s.Key, maxArchive)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".unpack-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if err := Unpack(kind, data, tmp); err != nil {
		return "", posErr(s.Pos, "package_sources.s3 s3://%s/%s: %v", s.Bucket, s.Key, err)
	}
	if err := os.Rename(tmp, dir); err != nil && !isExist(dir) {
		return "", err
	}
	return dir, nil
}

// maxArchive bounds a package archive (and what it unpacks to).
const maxArchive = 512 << 20

// Unpack extracts a tar.gz, tar or zip archive into dir. Entries that would
// land outside dir, links and special files are refused.
func Unpack(kind string, data []byte, dir string) error {
	switch kind {
	case "zip":
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return fmt.Errorf("reading zip: %w", err)
		}
		var total int64
		for _, f := range zr.File {
			if f.FileInfo().IsDir() {
				if err := mkdirIn(dir, f.Name); err != nil {
					return err
				}
				continue
			}
			if !f.Mode().IsRegular() {
				return fmt.Errorf("zip entry %q is not a regular file", f.Name)
			}
			rc, err := f.Open()
			if err != nil {
				return err
			}
			n, err := writeIn(dir, f.Name, rc, maxArchive-total)
			rc.Close()
			if err != nil {
				return err
			}
			total += n
		}
		return nil
	case "tar", "tar.gz":
		var r io.Reader = bytes.NewReader(data)
		if kind == "tar.gz" {
			gz, err := gzip.NewReader(r)
			if err != nil {
				return fmt.Errorf("reading gzip: %w", err)
			}
			defer gz.Close()
			r = gz
		}
		tr := tar.NewReader(r)
		var total int64
		for {
			h, err := tr.Next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("reading tar: %w", err)
			}
			switch h.Typeflag {
			case tar.TypeDir:
				if err := mkdirIn(dir, h.Name); err != nil {
					return err
				}
			case tar.TypeReg:
				n, err := writeIn(dir, h.Name, tr, maxArchive-total)
				if err != nil {
					return err
				}
				total += n
			case tar.TypeXGlobalHeader, tar.TypeXHeader:
			default:
				return fmt.Errorf("tar entry %q is not a regular file or directory", h.Name)
			}
		}
	}
	return fmt.Errorf("unknown archive type %q", kind)
}

func target(dir, name string) (string, error) {
	p := filepath.Join(dir, filepath.FromSlash(name))
	if filepath.IsAbs(filepath.FromSlash(name)) || !within(dir, p) {
		return "", fmt.Errorf("archive entry %q leaves the directory", name)
	}
	return p, nil
}

func mkdirIn(dir, name string) error {
	p, err := target(dir, name)
	if err != nil {
		return err
	}
	return os.MkdirAll(p, 0o755)
}

func writeIn(dir, name string, r io.Reader, budget int64) (int64, error) {
	p, err := target(dir, name)
	if err != nil {
		return 0, err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return 0, err
	}
	f, err := os.Create(p)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, io.LimitReader(r, budget+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, err
	}
	if n > budget {
		return n, fmt.Errorf("archive unpacks to over %d bytes", maxArchive)
	}
	return n, nil
}
