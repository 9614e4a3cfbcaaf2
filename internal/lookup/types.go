// Package lookup owns the ${type data} mini-language: parsing, the handler
// registry, the built-in handlers, dependency extraction and resolution.
// AWS handlers get an aws.Config for the consuming stack's target through
// Env.AWS; the package never builds credentials itself.
package lookup

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Env is what a handler may see while resolving one stack's variables.
type Env struct {
	// Stack is the config name of the stack whose variables are resolved.
	Stack string
	// Environment is the config environment (env file plus -e), not os env.
	Environment map[string]any
	// ConfigDir is the directory file:// paths resolve against.
	ConfigDir string
	// Outputs returns the outputs of a stack in this config, by config name.
	// It is nil offline.
	Outputs func(ctx context.Context, stack string) (map[string]string, error)
	// FQN turns a stack name into its CloudFormation name (rxref).
	FQN func(name string) string
	// HookData is the data hooks stored under their data_key.
	HookData map[string]map[string]any
	// Offline makes output and hook_data render visible placeholders
	// such as "<output vpc::VpcId>" instead of failing.
	Offline bool
	// AWS gives an aws.Config with the consuming stack's credentials; region
	// "" means the stack's region. Nil offline: AWS handlers then fail with a
	// clear message.
	AWS func(ctx context.Context, region string) (aws.Config, error)
	// Target names the credentials AWS uses (a profile, an account...); it
	// keys the xref/rxref output cache. "" falls back to Stack.
	Target string
	// Cache shares xref/rxref outputs between resolutions of one run; nil
	// means a cache per Resolve call.
	Cache *Cache
}

// Handler resolves one lookup type.
type Handler interface {
	Handle(ctx context.Context, data string, env *Env) (any, error)
}

// DependencyHandler is implemented by handlers whose lookups create graph
// edges (output). It returns the config names of the stacks depended on.
type DependencyHandler interface {
	Dependencies(data string) ([]string, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, data string, env *Env) (any, error)

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, data string, env *Env) (any, error) {
	return f(ctx, data, env)
}
