// Package benchutil is what the bench/ commands share: building the
// stacker binary they run, and reading a finished process's peak memory.
package benchutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// RepoRoot is the directory of the stacker module's go.mod (the benchmarks
// run from inside the module).
func RepoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("run from inside the stacker module")
	}
	return filepath.Dir(mod), nil
}

// BuildStacker builds ./cmd/stacker of the module into dir/stacker and
// returns its path; the compiler's output goes to stderr.
func BuildStacker(dir string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "stacker")
	build := exec.Command("go", "build", "-o", bin, "./cmd/stacker")
	build.Dir = root
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("build stacker: %w", err)
	}
	return bin, nil
}

// PeakRSSKiB is a finished process's peak resident memory in KiB (Linux's
// unit for ru_maxrss), 0 where the platform does not say.
func PeakRSSKiB(ps *os.ProcessState) int64 {
	if ps == nil {
		return 0
	}
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return int64(ru.Maxrss)
	}
	return 0
}
