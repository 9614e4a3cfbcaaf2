package deploy

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stacker-go/stacker/hooks"
	"github.com/stacker-go/stacker/internal/config"
	"github.com/stacker-go/stacker/internal/hookrun"
	"github.com/stacker-go/stacker/internal/target"
)

// hookRunner returns the runner of this run's hooks: their AWS clients
// come from the run's target factory (with its call counting), their
// lines and prompts go through the run's console.
func (r *run) hookRunner() *hookrun.Runner {
	return &hookrun.Runner{
		Console: r.con,
		Context: &hooks.Context{
			Namespace:          r.cfg.Namespace,
			NamespaceDelimiter: r.cfg.NamespaceDelimiter,
			Environment:        r.cfg.Environment,
			ConfigDir:          r.cfg.Dir,
			BucketName:         r.cfg.BucketName(),
			BucketRegion:       r.cfg.StackerBucketRegion,
			HookData:           map[string]map[string]any{},
			FQN:                r.cfg.FQN,
		},
		AWS:      r.hookAWS,
		Fallback: r.o.HookFallback,
		Stdin:    r.con.In,
		Stdout:   r.con.Out,
		Stderr:   r.con.ErrOut,
	}
}

// hookAWS is the aws.Config of a hook's target, from the run's factory:
// its credentials, call counting and the API budget of the target's
// (account, region), shared with the stacks there.
func (r *run) hookAWS(ctx context.Context, k target.Key) (aws.Config, error) {
	return r.o.Targets.AWSConfig(ctx, k)
}

// preflightHooks resolves the credentials of every enabled hook's target
// (MFA prompts included) before anything runs, as PreflightConfig does
// for stacks.
func preflightHooks(ctx context.Context, t Targets, lists ...[]config.Hook) error {
	var keys []target.Key
	for _, list := range lists {
		for _, h := range list {
			if h.Enabled {
				keys = append(keys, hookrun.HookTarget(h))
			}
		}
	}
	if len(keys) == 0 {
		return nil
	}
	return t.Preflight(ctx, keys)
}
