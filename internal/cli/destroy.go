package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/stacker-go/stacker/internal/deploy"
)

// DestroyOptions are the flags of `stacker destroy`.
type DestroyOptions struct {
	Common      CommonOptions
	Force       bool     // without it destroy only prints the plan
	Stacks      []string // these plus everything that depends on them
	MaxParallel int
	Tail        bool
}

func newDestroyCmd(stdio IO) *cobra.Command { return newDestroyCmdWith(stdio, runDestroy) }

func newDestroyCmdWith(stdio IO, runF func(context.Context, IO, *DestroyOptions) error) *cobra.Command {
	o := &DestroyOptions{}
	cmd := &cobra.Command{
		Use:   "destroy [environment] config",
		Short: "Delete the stacks of a config, dependants first",
		Long: `Delete the stacks of the config, dependants first.

Without --force it only prints the plan (no AWS calls, no hooks).`,
		Args: positionalArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Common.complete(cmd, args); err != nil {
				return usageErr(err)
			}
			if o.MaxParallel < 0 {
				return usageErr(fmt.Errorf("-j/--max-parallel %d: must be 0 (no limit) or more", o.MaxParallel))
			}
			o.Common.Stdin = stdio.In
			return runF(cmd.Context(), stdio, o)
		},
	}
	addCommonFlags(cmd, &o.Common, true)
	f := cmd.Flags()
	f.BoolVarP(&o.Force, "force", "f", false, "really delete (without it, only print the plan)")
	addStacksFlag(cmd, &o.Stacks, true, "only this stack or target and everything that depends on it")
	f.IntVarP(&o.MaxParallel, "max-parallel", "j", 0, "at most N stacks in flight (0 = no limit)")
	f.BoolVarP(&o.Tail, "tail", "t", false, "print stack events while stacks are deleted")
	return cmd
}

func runDestroy(ctx context.Context, stdio IO, o *DestroyOptions) error {
	o.Common.setupLogging(stdio)
	cfg, reg, err := loadConfig(&o.Common)
	if err != nil {
		return usageErr(err)
	}
	printWarnings(stdio, cfg)
	g, err := buildGraph(cfg, reg)
	if err != nil {
		return usageErr(err)
	}
	g, err = g.Select(o.Stacks, true)
	if err != nil {
		return usageErr(fmt.Errorf("--stacks: %w", err))
	}
	warnNoStacks(stdio, cfg)
	if !o.Force {
		printPlan(stdio, "Destroy stacks", "_destroy_stack", g.Reverse(), `To execute this plan, run with "--force" flag.`)
		return nil
	}
	console := o.Common.newConsole(stdio)
	err = deploy.Destroy(ctx, deploy.Options{
		Config:           cfg,
		Graph:            g, // not reversed: deploy.Destroy walks it dependants first
		Lookups:          reg,
		Targets:          o.Common.Targets(console),
		Console:          console,
		MaxParallel:      o.MaxParallel,
		Tail:             o.Tail,
		RecreateFailed:   o.Common.RecreateFailed || o.Common.Interactive,
		Interactive:      o.Common.Interactive,
		ReplacementsOnly: o.Common.ReplacementsOnly,
		ReadRate:         o.Common.ReadRate,
		Out:              stdio.Out,
		ErrOut:           stdio.ErrOut,
		In:               stdio.In,
	})
	return runErr(ctx, err)
}
