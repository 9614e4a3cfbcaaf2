// Package privfile keeps the tool's private on-disk caches (credential
// sessions, deploy records): JSON files readable by their owner only
// (0600) in a directory only its owner may enter (0700), each written
// whole or not at all.
package privfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// tmpPrefix starts the name of a file being written (renamed into place
// when complete).
const tmpPrefix = ".tmp-"

// Write replaces dir/name with data: the directory is created (and kept)
// 0700, the file is written 0600 under a temporary name and renamed into
// place, so a reader sees the old content or the new, never a part.
func Write(dir, name string, data []byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, tmpPrefix+"*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, name))
}

// Clear removes the JSON files of dir, and files an interrupted Write left
// behind, and returns how many JSON files it removed. A missing directory
// holds nothing.
func Clear(dir string) (int, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !(strings.HasSuffix(name, ".json") || strings.HasPrefix(name, tmpPrefix)) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return n, err
		}
		if strings.HasSuffix(name, ".json") {
			n++
		}
	}
	return n, nil
}
