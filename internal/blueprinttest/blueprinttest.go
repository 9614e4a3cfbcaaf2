// Package blueprinttest has helpers for blueprint tests: the golden summary
// of a rendered template and where to find cfn-lint. It registers nothing.
package blueprinttest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/stacker-go/stacker/blueprint"
)

// Summary is a rendered template's body followed by what stacker extracts
// from it (format, parameters with their values, outputs): the text the
// blueprint golden files hold.
func Summary(t *blueprint.Template) string {
	var b strings.Builder
	b.Write(t.Body)
	b.WriteString("\n--- format: " + t.Format + "\n--- parameters:\n")
	for _, p := range t.Parameters {
		b.WriteString("  " + p.Name + " (" + p.Type + ") = " + t.ParameterValues[p.Name] + "\n")
	}
	b.WriteString("--- outputs: " + strings.Join(t.Outputs, ", ") + "\n")
	return b.String()
}

// CFNLint finds cfn-lint: $STACKER_CFN_LINT, then PATH, then pyenv's
// shims. It returns "" when there is none.
func CFNLint() string {
	if p := os.Getenv("STACKER_CFN_LINT"); p != "" {
		return p
	}
	if p, err := exec.LookPath("cfn-lint"); err == nil {
		return p
	}
	home, _ := os.UserHomeDir()
	for _, p := range []string{filepath.Join(home, ".pyenv/shims/cfn-lint"), "/root/.pyenv/shims/cfn-lint"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}
