package builtin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"

	"github.com/stacker-go/stacker/hooks"
)

// PathRunCommand is stacker's command hook.
const PathRunCommand = "stacker.hooks.command.run_command"

func init() { hooks.Register(PathRunCommand, RunCommand) }

// runCommandArgs are the arguments run_command takes: its own, the
// subprocess.Popen keyword arguments it supports, and the targeting keys.
var runCommandArgs = []string{"command", "capture", "interactive", "ignore_status", "quiet", "stdin", "env",
	"cwd", "shell", "executable", "profile", "region"}

// RunCommand is stacker.hooks.command.run_command: it runs a command and
// returns {returncode, stdout, stderr} (stdout and stderr only with
// capture) when it exits 0 or ignore_status is set; otherwise it logs
// "Command failed with returncode N" and returns nil (a failed hook).
//
// command is a list (argv) or a string; a string is run through /bin/sh
// with shell: true, and is otherwise the program's path (as Popen does).
// stdin is /dev/null unless interactive (the terminal) or stdin (a string)
// is given. env is merged over the process environment. cwd is the working
// directory.
func RunCommand(ctx context.Context, in *hooks.Input) (any, error) {
	a := args(in.Args)
	if err := a.unknownArgs(PathRunCommand, runCommandArgs...); err != nil {
		return nil, err
	}
	capture, quiet := a.truthy("capture"), a.truthy("quiet")
	if quiet && capture {
		//lint:ignore ST1005 stacker 1.7's exact message
		return nil, fmt.Errorf("Class %q is improperly configured: Cannot enable `quiet` and `capture` options simultaneously", PathRunCommand)
	}
	argv, display, err := commandLine(a)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	if exe, err := a.str("executable"); err != nil {
		return nil, err
	} else if exe != "" {
		cmd.Path = exe
	}
	if cmd.Dir, err = a.str("cwd"); err != nil {
		return nil, err
	}
	if a.has("env") {
		env, ok := a["env"].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("argument env must be a mapping, got %T", a["env"])
		}
		cmd.Env = mergeEnv(os.Environ(), env)
	}
	var stdout, stderr bytes.Buffer
	switch {
	case quiet:
		// nil: the null device
	case capture:
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
	default:
		cmd.Stdout, cmd.Stderr = in.Stdout, in.Stderr
	}
	stdinText, err := a.str("stdin")
	if err != nil {
		return nil, err
	}
	switch {
	case a.truthy("interactive"):
		cmd.Stdin = in.Stdin
	case stdinText != "":
		cmd.Stdin = strings.NewReader(stdinText)
	}
	in.UI.Infof("Running command: %s", display)
	err = cmd.Run()
	status := 0
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.Exited():
		status = ee.ExitCode()
	case errors.As(err, &ee):
		status = -1 // killed by a signal; Popen gives -signal
		if ws, ok := signalOf(ee); ok {
			status = -ws
		}
	default:
		return nil, fmt.Errorf("run %s: %w", display, err)
	}
	if status == 0 || a.truthy("ignore_status") {
		out := map[string]any{"returncode": status}
		if capture {
			out["stdout"] = stdout.String()
			out["stderr"] = stderr.String()
		}
		return out, nil
	}
	in.UI.Infof("Command failed with returncode %d", status)
	return nil, nil
}

// commandLine turns the command argument into argv and its log form.
func commandLine(a args) (argv []string, display string, err error) {
	v, ok := a["command"]
	if !ok || v == nil {
		return nil, "", errors.New("run_command() missing 1 required argument: 'command'")
	}
	shell := a.truthy("shell")
	switch t := v.(type) {
	case string:
		if t == "" {
			return nil, "", errors.New("argument command is empty")
		}
		if shell {
			return []string{"/bin/sh", "-c", t}, t, nil
		}
		return []string{t}, t, nil
	default:
		list, ok := strList(v)
		if !ok || len(list) == 0 {
			return nil, "", fmt.Errorf("argument command must be a string or a non-empty list of strings, got %v", v)
		}
		if shell {
			// Popen(list, shell=True) runs the first element as the script
			// and the rest as its positional parameters.
			return append([]string{"/bin/sh", "-c"}, list...), pyList(list), nil
		}
		return list, pyList(list), nil
	}
}

// mergeEnv returns base with the entries of over set (over wins).
func mergeEnv(base []string, over map[string]any) []string {
	m := map[string]string{}
	for _, kv := range base {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	for k, v := range over {
		m[k] = fmt.Sprint(v)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k + "=" + m[k]
	}
	return out
}
