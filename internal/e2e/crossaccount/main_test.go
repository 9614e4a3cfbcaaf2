package crossaccount

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
	binOut  []byte
)

// stackerBin builds the stacker binary once for the package's tests.
func stackerBin(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "stacker-e2e-bin-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "stacker")
		binOut, binErr = exec.Command("go", "build", "-o", binPath, "github.com/stacker-go/stacker/cmd/stacker").CombinedOutput()
	})
	if binErr != nil {
		t.Fatalf("go build: %v\n%s", binErr, binOut)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}
