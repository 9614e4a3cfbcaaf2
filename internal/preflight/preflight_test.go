package preflight

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stacker-go/stacker/internal/config"
	"github.com/stacker-go/stacker/internal/lookup"
	"github.com/stacker-go/stacker/internal/target"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// template declares one parameter of each kind of constraint.
const templateText = `AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Env:
    Type: String
    AllowedValues: [dev, prod]
  Name:
    Type: String
    AllowedPattern: "[a-z]+"
    MinLength: 2
    MaxLength: 8
  Count:
    Type: Number
    MinValue: 1
    MaxValue: 5
  Secret:
    Type: String
    NoEcho: true
    AllowedPattern: "[0-9]+"
  Roles:
    Type: CommaDelimitedList
    Default: a
Resources:
  Handle:
    Type: AWS::CloudFormation::WaitConditionHandle
`

const good = `Env: dev
      Name: abc
      Count: "3"
      Secret: "42"`

// project writes stacker.yaml (with stacks appended) and the template.
func project(t *testing.T, stacks string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "templates"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "templates", "t.yaml"), []byte(templateText), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "stacker.yaml")
	if err := os.WriteFile(path, []byte("namespace: pf\nstacker_bucket: \"\"\nstacks:\n"+stacks), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(config.LoadOptions{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func stack(name, vars string) string {
	return fmt.Sprintf("  - name: %s\n    template_path: templates/t.yaml\n    variables:\n      %s\n", name, vars)
}

// report renders what a check found the way the CLI prints it, with the
// temporary directory replaced.
func report(cfg *config.Config, rep *Report, err error) string {
	var b strings.Builder
	for _, w := range rep.Warnings {
		fmt.Fprintln(&b, "WARNING:", w)
	}
	if err != nil {
		var ps *Problems
		if !errors.As(err, &ps) {
			fmt.Fprintf(&b, "not *Problems: %T\n", err)
		}
		for _, e := range ps.Errors {
			fmt.Fprintln(&b, "error:", e.Error())
		}
	}
	return strings.ReplaceAll(b.String(), cfg.Dir+string(filepath.Separator), "")
}

func TestChecks(t *testing.T) {
	tests := []struct {
		name    string
		stacks  string
		offline bool
		exists  *bool // nil: unknown (warning for missing parameters)
	}{
		{"all good", stack("a", good), false, ptr(false)},
		{"missing template", "  - name: a\n    template_path: templates/nope.yaml\n", false, nil},
		{"missing template offline", "  - name: a\n    template_path: templates/nope.yaml\n", true, nil},
		{"required parameter missing, stack new", stack("a", "Env: dev"), false, ptr(false)},
		{"required parameter missing, stack exists", stack("a", "Env: dev"), false, ptr(true)},
		{"required parameter missing, existence unknown", stack("a", "Env: dev"), true, nil},
		{"allowed values", stack("a", strings.Replace(good, "Env: dev", "Env: qa", 1)), false, ptr(false)},
		{"pattern", stack("a", strings.Replace(good, "Name: abc", "Name: ABC", 1)), false, ptr(false)},
		{"min length", stack("a", strings.Replace(good, "Name: abc", "Name: a", 1)), false, ptr(false)},
		{"max length", stack("a", strings.Replace(good, "Name: abc", "Name: abcdefghij", 1)), false, ptr(false)},
		{"not a number", stack("a", strings.Replace(good, `Count: "3"`, "Count: many", 1)), false, ptr(false)},
		{"min value", stack("a", strings.Replace(good, `Count: "3"`, `Count: "0"`, 1)), false, ptr(false)},
		{"max value", stack("a", strings.Replace(good, `Count: "3"`, `Count: "9"`, 1)), false, ptr(false)},
		{"NoEcho value never shown", stack("a", strings.Replace(good, `Secret: "42"`, "Secret: hunter2", 1)), false, ptr(false)},
		{"misspelt variable warns with did you mean", stack("a", good+"\n      Rolez: x"), false, ptr(false)},
		{"lookup of this run deferred", stack("a", good) + stack("b", "Env: ${output a::X}"), false, ptr(false)},
		{"every problem listed", stack("a", "Env: qa") + "  - name: b\n    template_path: templates/gone.yaml\n", false, ptr(false)},
	}
	var out bytes.Buffer
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := project(t, tt.stacks)
			var names []string
			for _, st := range cfg.Stacks {
				names = append(names, st.Name)
			}
			o := Options{Config: cfg, Lookups: cfg.Registry(), Stacks: names, Offline: tt.offline,
				Env: func(st *config.Stack) *lookup.Env {
					env := cfg.LookupEnv(st)
					env.Offline = tt.offline
					return env
				}}
			if tt.exists != nil {
				ex := *tt.exists
				o.Exists = func(context.Context, *config.Stack) (bool, error) { return ex, nil }
			}
			rep := Run(context.Background(), o)
			got := report(cfg, rep, rep.Err())
			if len(rep.Deferred) > 0 {
				got += fmt.Sprintf("deferred: %v\n", rep.Deferred)
			}
			if got == "" {
				got = "(no problems)\n"
			}
			fmt.Fprintf(&out, "== %s\n%s", tt.name, got)
		})
	}
	golden(t, "checks.golden", out.Bytes())
}

func ptr[T any](v T) *T { return &v }

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("differs from %s (run with -update to accept):\n%s", path, got)
	}
}

// profiles is a fake ProfileSource.
type profiles struct {
	known   []string
	flag    string
	env     string
	readErr error
}

func (p profiles) ProfileOrigin(k target.Key) (string, string) {
	switch {
	case k.Profile != "":
		return k.Profile, "stack"
	case p.flag != "":
		return p.flag, "--profile"
	case p.env != "":
		return p.env, target.EnvProfile
	}
	return "", ""
}
func (p profiles) KnownProfiles() ([]string, error) { return p.known, p.readErr }
func (p profiles) ProfileFiles() []string           { return []string{"/h/.aws/config", "/h/.aws/credentials"} }

// hookProfiles are build hooks (after a stack list) with profile args:
// one unknown, one known, one unknown but disabled.
const hookProfiles = `pre_build:
  - path: stacker.hooks.keypair.ensure_keypair_exists
    args:
      keypair: deploy
      profile: sandbox-stag
      region: eu-west-1
  - path: stacker.hooks.command.run_command
    args: {command: "true", profile: sandbox-master}
post_build:
  - path: stacker.hooks.command.run_command
    enabled: false
    args: {command: "true", profile: nowhere}
`

// hookDefault is a build hook without a profile arg: it uses the default.
const hookDefault = `post_build:
  - path: stacker.hooks.command.run_command
    args: {command: "true", region: eu-west-1}
`

func TestProfiles(t *testing.T) {
	known := []string{"sandbox-master", "sandbox-prod", "sandbox-stage"}
	withProfiles := stack("a", good) + "    profile: sandbox-prd\n" + stack("b", good) + "    profile: sandbox-stage\n" + stack("c", good)
	tests := []struct {
		name   string
		stacks string
		src    profiles
		bucket string
	}{
		{"all known", stack("a", good) + "    profile: sandbox-prod\n", profiles{known: known, flag: "sandbox-master"}, ""},
		{"no profile anywhere is not this check's business", stack("a", good), profiles{known: known}, ""},
		{"a stack's own profile, at its key", withProfiles, profiles{known: known, flag: "sandbox-prod"}, ""},
		{"--profile, naming its stacks", withProfiles, profiles{known: known, flag: "sandbox-prd"}, ""},
		{"AWS_PROFILE and the template bucket", stack("a", good), profiles{known: known, env: "prod"}, "my-bucket"},
		{"nothing close", stack("a", good), profiles{known: known, flag: "zzz"}, ""},
		{"unreadable files", stack("a", good), profiles{readErr: errors.New("read AWS config file: permission denied")}, ""},
		{"a hook's own profile, at its arg (disabled hooks skipped)", stack("a", good) + "    profile: sandbox-prod\n" + hookProfiles, profiles{known: known}, ""},
		{"--profile, naming the hooks that use it", stack("a", good) + "    profile: sandbox-stage\n" + hookDefault, profiles{known: known, flag: "sandbox-prd"}, ""},
	}
	var out bytes.Buffer
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := project(t, tt.stacks)
			if tt.bucket != "" {
				cfg.StackerBucket = &tt.bucket
			}
			var names []string
			for _, st := range cfg.Stacks {
				names = append(names, st.Name)
			}
			err := Profiles(cfg, names, tt.src, append(cfg.PreBuild, cfg.PostBuild...)...)
			got := report(cfg, &Report{}, err)
			if got == "" {
				got = "(no problems)\n"
			}
			fmt.Fprintf(&out, "== %s\n%s", tt.name, got)
		})
	}
	golden(t, "profiles.golden", out.Bytes())
}
