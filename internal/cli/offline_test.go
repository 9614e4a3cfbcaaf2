package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stacker-go/stacker/internal/config"
	"github.com/stacker-go/stacker/internal/graph"
)

// TestDumpErrorNamesTheStackOnce: a stack that fails to render while
// dumping is one "error: stack "x": ..." line, not the stack name twice.
func TestDumpErrorNamesTheStackOnce(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "stacker.yaml")
	os.WriteFile(filepath.Join(dir, "ok.yaml"), []byte("Resources:\n  H: {Type: \"AWS::CloudFormation::WaitConditionHandle\"}\n"), 0o644)
	os.WriteFile(cfgPath, []byte(`namespace: t
stacker_bucket: ""
stacks:
  - name: good
    template_path: ok.yaml
  - name: broken
    template_path: gone.yaml
  - name: badvar
    template_path: ok.yaml
    variables:
      X: ${envvar NO_SUCH_VARIABLE_FOR_THIS_TEST}
`), 0o644)
	cfg, err := config.Load(config.LoadOptions{Path: cfgPath, Stdin: strings.NewReader("")})
	if err != nil {
		t.Fatal(err)
	}
	g, err := graph.FromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var errOut bytes.Buffer
	err = dumpTemplates(context.Background(), IO{Out: &bytes.Buffer{}, ErrOut: &errOut}, cfg, cfg.Registry(), g, filepath.Join(dir, "out"))
	if err == nil {
		t.Fatal("dump of a missing template succeeded")
	}
	lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
	var errs []string
	for _, l := range lines {
		if strings.HasPrefix(l, "error: ") {
			errs = append(errs, l)
			if strings.Count(l, `stack "`) != 1 {
				t.Errorf("the stack is named %d times: %s", strings.Count(l, `stack "`), l)
			}
		}
	}
	all := strings.Join(errs, "\n")
	if len(errs) != 2 || !strings.Contains(all, `stacker.yaml:6:5: stack "broken": could not find template gone.yaml`) ||
		!strings.Contains(all, `error: stack "badvar": resolve variables: variable X: `) {
		t.Errorf("errors:\n%s", strings.Join(lines, "\n"))
	}
}
