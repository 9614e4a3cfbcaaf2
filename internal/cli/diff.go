package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/stacker-go/stacker/internal/deploy"
)

// DiffOptions are the flags of `stacker diff`.
type DiffOptions struct {
	Common      CommonOptions
	Force       []string // diff these locked stacks too
	Stacks      []string // these plus their dependencies
	MaxParallel int
}

func newDiffCmd(stdio IO) *cobra.Command { return newDiffCmdWith(stdio, runDiff) }

func newDiffCmdWith(stdio IO, runF func(context.Context, IO, *DiffOptions) error) *cobra.Command {
	o := &DiffOptions{}
	cmd := &cobra.Command{
		Use:   "diff [environment] config",
		Short: "Show what build would change, through change sets",
		Args:  positionalArgs,
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
	f.StringArrayVar(&o.Force, "force", nil, "diff this locked stack too (repeatable)")
	addStacksFlag(cmd, &o.Stacks, false, "only this stack or target and its dependencies")
	f.IntVarP(&o.MaxParallel, "max-parallel", "j", 0, "at most N stacks in flight (0 = no limit)")
	return cmd
}

func runDiff(ctx context.Context, stdio IO, o *DiffOptions) error {
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
	if err := checkForce(cfg, o.Force); err != nil {
		return usageErr(err)
	}
	g, err = g.Select(o.Stacks, false)
	if err != nil {
		return usageErr(fmt.Errorf("--stacks: %w", err))
	}
	warnNoStacks(stdio, cfg)
	console := o.Common.newConsole(stdio)
	err = deploy.Diff(ctx, deploy.Options{
		Config:           cfg,
		Graph:            g,
		Lookups:          reg,
		Targets:          o.Common.Targets(console),
		Console:          console,
		Force:            o.Force,
		MaxParallel:      o.MaxParallel,
		Interactive:      o.Common.Interactive,
		ReplacementsOnly: o.Common.ReplacementsOnly,
		RecreateFailed:   o.Common.RecreateFailed || o.Common.Interactive,
		ReadRate:         o.Common.ReadRate,
		Out:              stdio.Out,
		ErrOut:           stdio.ErrOut,
		In:               stdio.In,
	})
	return runErr(ctx, err)
}
