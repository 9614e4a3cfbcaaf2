package pybridge

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// files holds the bridge script and the stacker compatibility package.
//
//go:embed python/stacker_bridge.py all:python/compat
var files embed.FS

// extract writes the embedded Python files to a new temporary directory
// (removed by Close).
func extract() (string, error) {
	dir, err := os.MkdirTemp("", "stacker-pybridge-")
	if err != nil {
		return "", fmt.Errorf("python bridge: %w", err)
	}
	err = fs.WalkDir(files, "python", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("python", filepath.FromSlash(p))
		dst := filepath.Join(dir, rel)
		if d.IsDir() {
			if d.Name() == "__pycache__" {
				return fs.SkipDir
			}
			return os.MkdirAll(dst, 0o755)
		}
		b, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("python bridge: extracting its files: %w", err)
	}
	return dir, nil
}
