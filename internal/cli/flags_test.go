package cli

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// parse runs one command's flag parsing with a run function that captures
// the options instead of running.
func parse(t *testing.T, command string, args []string, env map[string]string) (any, error) {
	t.Helper()
	var got any
	stdio := IO{In: strings.NewReader(""), Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}}
	// The environment comes from the factory, never from the process.
	f := NewFactory(stdio)
	f.Getenv = func(k string) string { return env[k] }
	var cmd *cobra.Command
	switch command {
	case "build":
		cmd = newBuildCmdWith(f, func(_ context.Context, _ *Factory, o *BuildOptions) error { got = *o; return nil })
	case "destroy":
		cmd = newDestroyCmdWith(f, func(_ context.Context, _ *Factory, o *DestroyOptions) error { got = *o; return nil })
	case "diff":
		cmd = newDiffCmdWith(f, func(_ context.Context, _ *Factory, o *DiffOptions) error { got = *o; return nil })
	case "info":
		cmd = newInfoCmdWith(f, func(_ context.Context, _ *Factory, o *InfoOptions) error { got = *o; return nil })
	case "graph":
		cmd = newGraphCmdWith(f, func(_ context.Context, _ *Factory, o *GraphOptions) error { got = *o; return nil })
	default:
		t.Fatalf("unknown command %s", command)
	}
	if args == nil {
		args = []string{} // nil makes cobra read os.Args
	}
	cmd.SetArgs(args)
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	err := cmd.ExecuteContext(context.Background())
	return got, err
}

// common returns the CommonOptions a command fills for config path p
// with no flags: the command's flag groups, read rate 4 and write rate 2
// where it has --read-rate and --write-rate, Stdin set.
func common(p string, flags sharedFlags) CommonOptions {
	o := CommonOptions{ConfigPath: p, flags: flags, Stdin: strings.NewReader("")}
	if flags.readRate {
		o.ReadRate, o.WriteRate = defaultReadRate, defaultWriteRate
	}
	return o
}

func TestFlagParsing(t *testing.T) {
	clearStackerEnv(t)
	tests := []struct {
		name    string
		cmd     string
		args    []string
		env     map[string]string
		want    func() any
		wantErr string
	}{
		{name: "build defaults", cmd: "build", args: []string{"c.yaml"},
			want: func() any { return BuildOptions{Progress: autoProgress, Common: common("c.yaml", buildFlags)} }},
		{name: "environment file then config", cmd: "graph", args: []string{"dev.env", "c.yaml"},
			want: func() any {
				c := common("c.yaml", offlineFlags)
				c.EnvFile = "dev.env"
				return GraphOptions{Common: c, Format: "dot"}
			}},
		{name: "every shared flag", cmd: "build",
			args: []string{"-e", "a=1", "--env", "b=x=y", "-e", "c=", "-r", "eu-west-1", "-p", "prod", "-vv",
				"-i", "--replacements-only", "--recreate-failed", "--mfa-code", "123456", "--no-credential-cache",
				"--read-rate", "2.5", "-"},
			want: func() any {
				return BuildOptions{Progress: autoProgress, Common: CommonOptions{ConfigPath: "-", Env: []string{"a=1", "b=x=y", "c="},
					Region: "eu-west-1", Profile: "prod", Verbose: 2, Interactive: true, ReplacementsOnly: true,
					RecreateFailed: true, MFACode: "123456", NoCredentialCache: true, ReadRate: 2.5, WriteRate: defaultWriteRate, flags: buildFlags,
					Stdin: strings.NewReader("")}}
			},
			wantErr: "--interactive reads answers from stdin"},
		{name: "build flags", cmd: "build",
			args: []string{"-o", "--force", "vpc", "--force", "db", "--stacks", "app", "--targets", "all", "-j", "3", "-t", "c.yaml"},
			want: func() any {
				return BuildOptions{Progress: autoProgress, Common: common("c.yaml", buildFlags), Outline: true, Force: []string{"vpc", "db"},
					Stacks: []string{"app", "all"}, MaxParallel: 3, Tail: true}
			}},
		{name: "build dump", cmd: "build", args: []string{"--dump", "out", "c.yaml"},
			want: func() any {
				return BuildOptions{Progress: autoProgress, Common: common("c.yaml", buildFlags), Dump: "out", DumpSet: true}
			}},
		{name: "build --no-deploy-cache", cmd: "build", args: []string{"--no-deploy-cache", "c.yaml"},
			want: func() any {
				return BuildOptions{Progress: autoProgress, Common: common("c.yaml", buildFlags), NoDeployCache: true}
			}},
		{name: "build STACKER_NO_DEPLOY_CACHE=1", cmd: "build", args: []string{"c.yaml"}, env: map[string]string{"STACKER_NO_DEPLOY_CACHE": "1"},
			want: func() any {
				return BuildOptions{Progress: autoProgress, Common: common("c.yaml", buildFlags), NoDeployCache: true}
			}},
		{name: "build --no-deploy-cache=false wins over the environment", cmd: "build", args: []string{"--no-deploy-cache=false", "c.yaml"},
			env:  map[string]string{"STACKER_NO_DEPLOY_CACHE": "1"},
			want: func() any { return BuildOptions{Progress: autoProgress, Common: common("c.yaml", buildFlags)} }},
		{name: "build STACKER_NO_DEPLOY_CACHE not a bool", cmd: "build", args: []string{"c.yaml"}, env: map[string]string{"STACKER_NO_DEPLOY_CACHE": "yes"},
			wantErr: `STACKER_NO_DEPLOY_CACHE="yes": want 1, true, 0 or false`},
		{name: "build dump empty dir is an error", cmd: "build", args: []string{"-d", "", "c.yaml"},
			wantErr: `--dump needs a directory`},
		{name: "negative -j", cmd: "build", args: []string{"-j", "-2", "c.yaml"}, wantErr: "-j/--max-parallel -2"},
		{name: "destroy flags", cmd: "destroy", args: []string{"-f", "--stacks", "vpc", "-j", "1", "-t", "c.yaml"},
			want: func() any {
				return DestroyOptions{Progress: autoProgress, Common: common("c.yaml", awsRunFlags), Force: true, Stacks: []string{"vpc"}, MaxParallel: 1, Tail: true}
			}},
		{name: "destroy negative -j", cmd: "destroy", args: []string{"-j", "-1", "c.yaml"}, wantErr: "must be 0"},
		{name: "diff flags", cmd: "diff", args: []string{"--force", "vpc", "--stacks", "app", "-j", "2", "c.yaml"},
			want: func() any {
				return DiffOptions{Progress: autoProgress, Common: common("c.yaml", diffFlags), Force: []string{"vpc"}, Stacks: []string{"app"}, MaxParallel: 2}
			}},
		{name: "diff --json", cmd: "diff", args: []string{"--json", "c.yaml"},
			want: func() any {
				return DiffOptions{Progress: autoProgress, Common: common("c.yaml", diffFlags), JSON: true}
			}},
		{name: "diff --json and --progress json both write stdout", cmd: "diff", args: []string{"--json", "--progress", "json", "c.yaml"},
			wantErr: "--json and --progress json both write stdout"},
		{name: "diff has no --targets", cmd: "diff", args: []string{"--targets", "app", "c.yaml"}, wantErr: "unknown flag: --targets"},
		{name: "info flags", cmd: "info", args: []string{"--stacks", "vpc", "--json", "c.yaml"},
			want: func() any {
				return InfoOptions{Common: common("c.yaml", awsRunFlags), Stacks: []string{"vpc"}, JSON: true}
			}},
		{name: "graph flags", cmd: "graph", args: []string{"-f", "mermaid", "--reduce", "c.yaml"},
			want: func() any {
				return GraphOptions{Common: common("c.yaml", offlineFlags), Format: "mermaid", Reduce: true}
			}},
		{name: "graph bad format", cmd: "graph", args: []string{"-f", "png", "c.yaml"}, wantErr: `-f/--format "png"`},
		{name: "graph has no AWS flags", cmd: "graph", args: []string{"--mfa-code", "1", "c.yaml"}, wantErr: "unknown flag: --mfa-code"},
		{name: "destroy has no provider modes", cmd: "destroy", args: []string{"-i", "c.yaml"}, wantErr: "unknown shorthand flag: 'i'"},
		{name: "info has no --recreate-failed", cmd: "info", args: []string{"--recreate-failed", "c.yaml"}, wantErr: "unknown flag: --recreate-failed"},
		{name: "diff has no --replacements-only", cmd: "diff", args: []string{"--replacements-only", "c.yaml"}, wantErr: "unknown flag: --replacements-only"},
		{name: "graph has no default region", cmd: "graph", args: []string{"-r", "us-east-1", "c.yaml"}, wantErr: "unknown shorthand flag: 'r'"},
		{name: "bad -e", cmd: "diff", args: []string{"-e", "x", "c.yaml"}, wantErr: `-e "x" does not match KEY=VALUE format`},
		{name: "missing config", cmd: "info", args: nil, wantErr: "missing config argument"},
		{name: "env file from stdin", cmd: "info", args: []string{"-", "c.yaml"}, wantErr: "environment file cannot be read from stdin"},
		{name: "AWS flags from the environment", cmd: "info", args: []string{"c.yaml"},
			env: map[string]string{envMFACode: "654321", envNoCredCache: "1", envReadRate: "10"},
			want: func() any {
				c := common("c.yaml", awsRunFlags)
				c.MFACode, c.NoCredentialCache, c.ReadRate = "654321", true, 10
				return InfoOptions{Common: c}
			}},
		{name: "flags win over the environment", cmd: "info", args: []string{"--read-rate", "1", "--mfa-code", "111111", "c.yaml"},
			env: map[string]string{envMFACode: "654321", envReadRate: "10"},
			want: func() any {
				c := common("c.yaml", awsRunFlags)
				c.MFACode, c.ReadRate = "111111", 1
				return InfoOptions{Common: c}
			}},
		{name: "bad read rate in the environment", cmd: "info", args: []string{"c.yaml"},
			env: map[string]string{envReadRate: "fast"}, wantErr: `STACKER_READ_RATE="fast"`},
		{name: "negative read rate", cmd: "build", args: []string{"--read-rate", "-1", "c.yaml"}, wantErr: "--read-rate -1"},
		{name: "write rate from the environment", cmd: "destroy", args: []string{"c.yaml"}, env: map[string]string{envWriteRate: "12"},
			want: func() any {
				c := common("c.yaml", awsRunFlags)
				c.WriteRate = 12
				return DestroyOptions{Common: c, Progress: autoProgress}
			}},
		{name: "zero write rate", cmd: "build", args: []string{"--write-rate", "0", "c.yaml"}, wantErr: "--write-rate 0: must be a positive number"},
		{name: "in-progress fail", cmd: "build", args: []string{"--in-progress", "fail", "c.yaml"},
			want: func() any {
				return BuildOptions{Common: common("c.yaml", buildFlags), InProgress: "fail", Progress: ProgressFlags{Progress: "auto"}}
			}},
		{name: "unknown in-progress", cmd: "build", args: []string{"--in-progress", "skip", "c.yaml"}, wantErr: `--in-progress "skip": must be "wait" or "fail"`},
		{name: "empty in-progress", cmd: "build", args: []string{"--in-progress=", "c.yaml"}, wantErr: `--in-progress needs "wait" or "fail"`},
		{name: "destroy has no --in-progress", cmd: "destroy", args: []string{"--in-progress", "fail", "c.yaml"}, wantErr: "unknown flag: --in-progress"},
		{name: "progress and timeline", cmd: "destroy", args: []string{"--progress", "json", "--timeline", "run.html", "c.yaml"},
			want: func() any {
				return DestroyOptions{Common: common("c.yaml", awsRunFlags), Progress: ProgressFlags{Progress: "json", Timeline: "run.html"}}
			}},
		{name: "progress from the environment", cmd: "diff", args: []string{"c.yaml"}, env: map[string]string{"STACKER_PROGRESS": "plain"},
			want: func() any {
				return DiffOptions{Common: common("c.yaml", diffFlags), Progress: ProgressFlags{Progress: "plain"}}
			}},
		{name: "--progress wins over the environment", cmd: "build", args: []string{"--progress", "tty", "c.yaml"}, env: map[string]string{"STACKER_PROGRESS": "plain"},
			want: func() any {
				return BuildOptions{Common: common("c.yaml", buildFlags), Progress: ProgressFlags{Progress: "tty"}}
			}},
		{name: "unknown progress", cmd: "build", args: []string{"--progress", "fancy", "c.yaml"}, wantErr: `--progress "fancy": want auto, tty, plain or json`},
		{name: "unknown progress in the environment", cmd: "build", args: []string{"c.yaml"}, env: map[string]string{"STACKER_PROGRESS": "x"}, wantErr: `STACKER_PROGRESS="x"`},
		{name: "timeline of another kind", cmd: "build", args: []string{"--timeline", "run.png", "c.yaml"}, wantErr: `--timeline "run.png": the file name must end in .svg or .html`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parse(t, tt.cmd, tt.args, tt.env)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				var ee *ExitError
				if strings.HasPrefix(tt.wantErr, "unknown") {
					return // cobra's own error; Run maps it to exit 2
				}
				if !errors.As(err, &ee) || ee.Code != ExitUsage {
					t.Errorf("err = %#v, want an ExitError with code %d", err, ExitUsage)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want()
			if !reflect.DeepEqual(got, want) {
				t.Errorf("options\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

var autoProgress = ProgressFlags{Progress: "auto"}

func TestExitCodesOfCobraErrors(t *testing.T) {
	clearStackerEnv(t)
	for _, args := range [][]string{{"build", "--nope", "c.yaml"}, {"nope"}, {"build", "-j", "x", "c.yaml"}} {
		code, _, stderr := runCLI(t, "", args...)
		if code != ExitUsage || !strings.HasPrefix(stderr, "error: ") {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
}

func TestParseEnvFlag(t *testing.T) {
	tests := []struct {
		in, key, value string
		ok             bool
	}{
		{"a=b", "a", "b", true},
		{"a=b=c", "a", "b=c", true},
		{"a=", "a", "", true},
		{"a", "", "", false},
		{"=b", "", "", false},
		{"a b=c", "", "", false},
		{"", "", "", false},
	}
	for _, tt := range tests {
		k, v, err := parseEnvFlag(tt.in)
		if (err == nil) != tt.ok || k != tt.key || v != tt.value {
			t.Errorf("parseEnvFlag(%q) = %q, %q, %v", tt.in, k, v, err)
		}
	}
}

// FuzzParseEnvFlag checks -e parsing never panics and round-trips.
func FuzzParseEnvFlag(f *testing.F) {
	for _, s := range []string{"a=b", "a=b=c", "=", "a=", "x", " =y", "K\n=V", "ключ=значение"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, v, err := parseEnvFlag(s)
		if err != nil {
			if !strings.Contains(err.Error(), "KEY=VALUE") {
				t.Fatalf("unclear error %v", err)
			}
			return
		}
		if k == "" || k+"="+v != s {
			t.Fatalf("parseEnvFlag(%q) = %q, %q", s, k, v)
		}
	})
}

// FuzzPositionals checks positional and -e handling never panics and
// always yields an options struct or a usage error.
func FuzzPositionals(f *testing.F) {
	f.Add("c.yaml", "", "a=b")
	f.Add("dev.env", "c.yaml", "k=v")
	f.Add("-", "", "=")
	f.Add("-", "c.yaml", "x")
	f.Add("", "", "")
	f.Fuzz(func(t *testing.T, a, b, e string) {
		args := []string{"-e", e}
		for _, p := range []string{a, b} {
			if p != "" {
				args = append(args, p)
			}
		}
		var o GraphOptions
		cmd := newGraphCmdWith(NewFactory(IO{In: strings.NewReader(""), Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}}),
			func(_ context.Context, _ *Factory, got *GraphOptions) error { o = *got; return nil })
		cmd.SetArgs(args)
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&bytes.Buffer{})
		err := cmd.ExecuteContext(context.Background())
		if err != nil {
			return
		}
		if o.Common.ConfigPath == "" {
			t.Fatalf("accepted %q without a config path", args)
		}
	})
}

// TestHelpGolden keeps every command's --help in testdata/help: each lists
// only the flags its command uses, each default once.
func TestHelpGolden(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"build", "--help"}, {"destroy", "--help"}, {"diff", "--help"}, {"info", "--help"},
		{"graph", "--help"}, {"doctor", "--help"}, {"demo", "--help"}, {"cache", "--help"},
		{"sandbox", "--help"}, {"sandbox", "serve", "--help"}, {"sandbox", "totp", "--help"},
	} {
		name := strings.Join(append([]string{"stacker"}, args[:len(args)-1]...), "-")
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, "", args...)
			if code != ExitOK || stderr != "" {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			for _, line := range strings.Split(stdout, "\n") {
				if strings.Count(line, "default") > 1 {
					t.Errorf("default shown twice: %q", line)
				}
			}
			golden(t, filepath.Join("testdata", "help", name+".golden"), []byte(stdout))
		})
	}
}

func TestRootVersion(t *testing.T) {
	code, stdout, _ := runCLI(t, "", "--version")
	if code != ExitOK || stdout != "stacker "+Version+"\n" {
		t.Errorf("--version: exit %d, %q", code, stdout)
	}
	if code, _, stderr := runCLI(t, "", "-v"); code != ExitUsage || !strings.Contains(stderr, "unknown shorthand flag: 'v'") {
		t.Errorf("root -v: exit %d, %q; want a usage error (-v is verbose, on commands)", code, stderr)
	}
}
