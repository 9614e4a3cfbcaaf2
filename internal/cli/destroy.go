package cli

import (
	"context"

	"github.com/spf13/cobra"
	"github.com/stacker-go/stacker/internal/deploy"
	"github.com/stacker-go/stacker/internal/event"
	"github.com/stacker-go/stacker/internal/hookrun"
)

// DestroyOptions are the flags of `stacker destroy`.
type DestroyOptions struct {
	Common      CommonOptions
	Force       bool     // without it destroy only prints the plan
	Stacks      []string // these plus everything that depends on them
	MaxParallel int
	Tail        bool
	Progress    ProgressFlags
}

func newDestroyCmd(f *Factory) *cobra.Command { return newDestroyCmdWith(f, runDestroy) }

func newDestroyCmdWith(f *Factory, runF func(context.Context, *Factory, *DestroyOptions) error) *cobra.Command {
	o := &DestroyOptions{}
	cmd := &cobra.Command{
		Use:   "destroy [environment] config",
		Short: "Delete the stacks of a config, dependants first",
		Long: `Delete the stacks of the config, dependants first.

Without --force it only prints the plan (no AWS calls, no hooks).`,
		Args: positionalArgs,
		RunE: o.Common.runE(f, func(cmd *cobra.Command) error {
			if err := o.Progress.complete(cmd, f.getenv); err != nil {
				return err
			}
			return checkMaxParallel(o.MaxParallel)
		},
			func(ctx context.Context) error { return runF(ctx, f, o) }),
	}
	addCommonFlags(cmd, &o.Common, awsRunFlags)
	fl := cmd.Flags()
	fl.BoolVarP(&o.Force, "force", "f", false, "really delete (without it, only print the plan)")
	addStacksFlag(cmd, &o.Stacks, true, "only this stack or target and everything that depends on it")
	fl.IntVarP(&o.MaxParallel, "max-parallel", "j", 0, "at most `N` stacks in flight (0 = no limit)")
	fl.BoolVarP(&o.Tail, "tail", "t", false, "print stack events while stacks are deleted")
	addProgressFlags(cmd, &o.Progress)
	return cmd
}

func runDestroy(ctx context.Context, f *Factory, o *DestroyOptions) error {
	cfg, reg, g, err := o.Common.load(ctx, f, loadSpec{stacks: o.Stacks, selection: withDependants})
	if err != nil {
		return err
	}
	if !o.Force {
		printPlan(f.IO, "Destroy stacks", "_destroy_stack", g.Reverse(), `To execute this plan, run with "--force" flag.`)
		return nil
	}
	if err := checkHooks(ctx, cfg, reg, g, hookrun.PreDestroy, hookrun.PostDestroy); err != nil {
		return err
	}
	do, err := o.Common.deployOptions(ctx, f, cfg, reg, g, hookrun.PreDestroy, hookrun.PostDestroy) // g not reversed: deploy.Destroy walks it dependants first
	if err != nil {
		return err
	}
	do.MaxParallel, do.Tail = o.MaxParallel, o.Tail
	return runErr(ctx, o.Progress.run(ctx, f, do, o.Common.Verbose > 0, o.Tail, event.Destroy, deploy.Destroy))
}
