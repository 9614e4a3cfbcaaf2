package cli

import (
	"context"

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
		RunE: o.Common.runE(stdio, func(*cobra.Command) error { return checkMaxParallel(o.MaxParallel) },
			func(ctx context.Context) error { return runF(ctx, stdio, o) }),
	}
	addCommonFlags(cmd, &o.Common, true)
	f := cmd.Flags()
	f.StringArrayVar(&o.Force, "force", nil, "diff this locked stack too (repeatable)")
	addStacksFlag(cmd, &o.Stacks, false, "only this stack or target and its dependencies")
	f.IntVarP(&o.MaxParallel, "max-parallel", "j", 0, "at most N stacks in flight (0 = no limit)")
	return cmd
}

func runDiff(ctx context.Context, stdio IO, o *DiffOptions) error {
	cfg, reg, g, err := o.Common.load(stdio, loadSpec{force: o.Force, stacks: o.Stacks, selection: withDeps})
	if err != nil {
		return err
	}
	do := o.Common.deployOptions(stdio, cfg, reg, g)
	do.Force, do.MaxParallel = o.Force, o.MaxParallel
	return runErr(ctx, deploy.Diff(ctx, do))
}
