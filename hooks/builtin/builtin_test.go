package builtin

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stacker-go/stacker/hooks"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// fakeUI records lines and answers prompts from a script.
type fakeUI struct {
	mu       sync.Mutex
	lines    []string
	answers  []string
	asked    []string
	terminal bool
}

func (u *fakeUI) Infof(format string, args ...any) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.lines = append(u.lines, fmt.Sprintf(format, args...))
}

func (u *fakeUI) Prompt(label string) (string, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.terminal {
		return "", hooks.ErrNoTerminal
	}
	u.asked = append(u.asked, label)
	if len(u.answers) == 0 {
		return "", fmt.Errorf("unexpected prompt %q", label)
	}
	a := u.answers[0]
	u.answers = u.answers[1:]
	return a, nil
}

func (u *fakeUI) CanPrompt() bool { return u.terminal }

func input(a map[string]any, ui *fakeUI) *hooks.Input {
	return &hooks.Input{
		Args:    a,
		Context: &hooks.Context{Namespace: "ns", BucketName: "stacker-ns", ConfigDir: "testdata"},
		Target:  "default",
		AWS:     func(context.Context) (aws.Config, error) { return aws.Config{Region: "us-east-1"}, nil },
		UI:      ui,
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./hooks/builtin -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s mismatch:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestRunCommand(t *testing.T) {
	tests := []struct {
		name    string
		args    map[string]any
		want    any
		wantErr string
		lines   []string
		stdout  string
	}{
		{
			name:  "captures stdout and stderr of a list command",
			args:  map[string]any{"command": []any{"sh", "-c", "printf out; printf err >&2"}, "capture": true},
			want:  map[string]any{"returncode": 0, "stdout": "out", "stderr": "err"},
			lines: []string{"Running command: ['sh', '-c', 'printf out; printf err >&2']"},
		},
		{
			name:   "without capture the output goes to the run's stdout",
			args:   map[string]any{"command": "echo hi $X", "shell": true, "env": map[string]any{"X": "there"}},
			want:   map[string]any{"returncode": 0},
			lines:  []string{"Running command: echo hi $X"},
			stdout: "hi there\n",
		},
		{
			name:  "a failing command logs its status and fails the hook",
			args:  map[string]any{"command": []any{"sh", "-c", "exit 3"}},
			want:  nil,
			lines: []string{"Running command: ['sh', '-c', 'exit 3']", "Command failed with returncode 3"},
		},
		{
			name:  "ignore_status returns the status",
			args:  map[string]any{"command": []any{"sh", "-c", "exit 3"}, "ignore_status": true, "quiet": true},
			want:  map[string]any{"returncode": 3},
			lines: []string{"Running command: ['sh', '-c', 'exit 3']"},
		},
		{
			name:  "stdin feeds the command",
			args:  map[string]any{"command": []any{"cat"}, "stdin": "fed", "capture": true},
			want:  map[string]any{"returncode": 0, "stdout": "fed", "stderr": ""},
			lines: []string{"Running command: ['cat']"},
		},
		{
			name:    "quiet and capture conflict",
			args:    map[string]any{"command": "true", "quiet": true, "capture": true},
			wantErr: `Class "stacker.hooks.command.run_command" is improperly configured: Cannot enable ` + "`quiet` and `capture`" + ` options simultaneously`,
		},
		{
			name:    "an unknown argument is refused",
			args:    map[string]any{"command": "true", "colour": true},
			wantErr: "stacker.hooks.command.run_command got unexpected argument(s) colour",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ui := &fakeUI{}
			in := input(tt.args, ui)
			var out bytes.Buffer
			in.Stdout, in.Stderr = &out, &out
			got, err := RunCommand(context.Background(), in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == nil && got != nil {
				t.Fatalf("result %#v, want nil", got)
			}
			if tt.want != nil && !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("result %#v, want %#v", got, tt.want)
			}
			if !reflect.DeepEqual(ui.lines, tt.lines) {
				t.Errorf("lines %q, want %q", ui.lines, tt.lines)
			}
			if out.String() != tt.stdout {
				t.Errorf("stdout %q, want %q", out.String(), tt.stdout)
			}
		})
	}
}
