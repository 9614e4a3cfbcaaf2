// Package lookup lets a team add its own lookup types to its build of
// stacker, as package blueprint lets it add blueprints. A handler
// registered here under a name (by convention "company.Name") is used by a
// config that maps a lookup type to that name:
//
//	lookups:
//	  vault: mycompany.Vault
//
// after which ${vault secret/db} in a stack's variables calls the handler
// with "secret/db". Built-in lookups (output, xref, file, ...) need no
// registration.
package lookup

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"

	ilookup "github.com/stacker-go/stacker/internal/lookup"
)

// Env is what a handler may see of the stack whose variables are being
// resolved. Handlers must not keep it after they return.
type Env struct {
	// Stack is the config name of the stack (not its CloudFormation name).
	Stack string
	// Environment is the config's environment (the environment file plus
	// -e KEY=VALUE), not the process environment.
	Environment map[string]any
	// ConfigDir is the directory of the config file, which relative paths
	// in lookups resolve against (the working directory for stdin).
	ConfigDir string
	// Offline is true when no AWS call may be made (build --dump): a
	// handler that needs AWS should return a visible placeholder such as
	// "<mytype value>" instead.
	Offline bool
	// AWS returns an aws.Config with the stack's own credentials (its
	// profile, role chain and account); region "" means the stack's region.
	// It is nil offline.
	AWS func(ctx context.Context, region string) (aws.Config, error)
	// Outputs returns the outputs of another stack of the same config, by
	// config name. It is nil offline. A handler that reads outputs does
	// not add a dependency: use requires in the config to order the stacks.
	Outputs func(ctx context.Context, stack string) (map[string]string, error)
}

// Handler resolves one lookup: value is the text after the type (nested
// lookups in it already resolved). A handler returns a string, or any
// value YAML could hold (a list, a mapping, a number) when the lookup is a
// variable's whole value. Its error is shown with the stack, variable and
// lookup it came from. Handlers run concurrently for different stacks.
type Handler func(ctx context.Context, value string, env *Env) (any, error)

// Register makes h available to configs under name. Call it from an init
// function of your own main package (see examples/custom-lookup).
//
// Register panics when name is empty, h is nil or name is already
// registered: those are programming errors, found as soon as the binary
// starts.
func Register(name string, h Handler) {
	var ih ilookup.Handler
	if h != nil {
		ih = ilookup.HandlerFunc(func(ctx context.Context, value string, env *ilookup.Env) (any, error) {
			return h(ctx, value, publicEnv(env))
		})
	}
	if err := ilookup.RegisterCustom(name, ih); err != nil {
		panic("lookup.Register: " + err.Error())
	}
}

// Names returns the names registered with Register, sorted.
func Names() []string { return ilookup.CustomNames() }

func publicEnv(env *ilookup.Env) *Env {
	if env == nil {
		return &Env{}
	}
	return &Env{
		Stack:       env.Stack,
		Environment: env.Environment,
		ConfigDir:   env.ConfigDir,
		Offline:     env.Offline,
		AWS:         env.AWS,
		Outputs:     env.Outputs,
	}
}
