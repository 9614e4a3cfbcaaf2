// Package hooks is the public API for hooks: Go functions that run before
// or after a build or destroy (stacker's pre_build, post_build, pre_destroy
// and post_destroy). A config names a hook by a dotted path
// (stacker.hooks.command.run_command); a team adds its own by calling
// Register from an init function in its own binary (see app.Main), exactly
// as blueprints are added with blueprint.Register.
//
// A hook gets its arguments, the run's context and an aws.Config for its
// target, and returns stacker's result: a mapping (stored under the hook's
// data_key for ${hook_data key::field} lookups and blueprints), another
// truthy value (success without data), or a falsy value (nil, false, 0,
// "", an empty map or list: the hook failed). An error is "the hook threw
// an exception".
package hooks

import (
	"context"
	"errors"
	"io"
	"sort"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Func is a Go hook.
type Func func(ctx context.Context, in *Input) (any, error)

// Input is what a hook runs with.
type Input struct {
	// Path is the dotted path the config named.
	Path string
	// Args are the hook's args, with only ${env} substitution applied (as
	// in stacker: lookups are not resolved in hook args). The targeting
	// keys profile and region are kept, so hooks that take them (keypair)
	// still see them.
	Args map[string]any
	// Context is the run's context (namespace, environment, bucket, hook
	// data stored by earlier hooks).
	Context *Context
	// Target names the credentials the hook runs with ("default",
	// "prod/eu-west-1"), for messages.
	Target string
	// AWS returns the aws.Config of the hook's target: the config's default
	// target (--profile, --region) unless the hook's args name a profile or
	// a region. It is built once per target and run, shared with stacks.
	AWS func(ctx context.Context) (aws.Config, error)
	// UI prints log lines and asks questions.
	UI UI
	// Stdin, Stdout and Stderr are the run's streams, for hooks that run
	// programs (run_command). Nil means none (os.DevNull).
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// Context is stacker's hook context: what a hook may know about the run.
type Context struct {
	Namespace          string
	NamespaceDelimiter string
	// Environment is the config environment (env file plus -e).
	Environment map[string]any
	// ConfigDir is the directory of the config file (the CWD for stdin);
	// relative paths in hook args resolve against it.
	ConfigDir string
	// BucketName is the stacker bucket ("" when templates go inline).
	BucketName string
	// BucketRegion is stacker_bucket_region ("" when unset).
	BucketRegion string
	// HookData is the data stored by the hooks that ran before this one,
	// by data_key. Hooks must not modify it.
	HookData map[string]map[string]any
	// FQN turns a stack name into its CloudFormation name.
	FQN func(name string) string
}

// UI is how a hook talks to a person. Lines and prompts are serialized
// with the run's status output.
type UI interface {
	// Infof prints one timestamped line on stderr, like stacker's INFO
	// log lines.
	Infof(format string, args ...any)
	// Prompt asks a question and reads one line. It returns ErrNoTerminal
	// when no person can answer (stdin is not a terminal).
	Prompt(label string) (string, error)
	// CanPrompt reports whether Prompt can ask a person.
	CanPrompt() bool
}

// ErrNoTerminal is returned by UI.Prompt when stdin is not a terminal.
var ErrNoTerminal = errors.New("no terminal to prompt on")

var registry = struct {
	sync.RWMutex
	m map[string]Func
}{m: map[string]Func{}}

// Register adds a hook under a dotted path (the value a config gives as a
// hook's path). Call it from an init function.
//
// Register panics when the path is empty, fn is nil or the path is
// already registered: those are programming errors found the first time
// the binary starts.
func Register(path string, fn Func) {
	if path == "" {
		panic("hooks.Register: empty path")
	}
	if fn == nil {
		panic("hooks.Register: nil function for " + path)
	}
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.m[path]; dup {
		panic("hooks.Register: path " + path + " registered twice")
	}
	registry.m[path] = fn
}

// Lookup returns the hook registered under path.
func Lookup(path string) (Func, bool) {
	registry.RLock()
	defer registry.RUnlock()
	fn, ok := registry.m[path]
	return fn, ok
}

// Names returns every registered path, sorted.
func Names() []string {
	registry.RLock()
	defer registry.RUnlock()
	out := make([]string, 0, len(registry.m))
	for k := range registry.m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
