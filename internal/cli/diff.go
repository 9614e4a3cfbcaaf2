package cli

import (
	"context"

	"github.com/spf13/cobra"
	"github.com/stacker-go/stacker/internal/deploy"
	"github.com/stacker-go/stacker/internal/event"
)

// DiffOptions are the flags of `stacker diff`.
type DiffOptions struct {
	Common      CommonOptions
	Force       []string // diff these locked stacks too
	Stacks      []string // these plus their dependencies
	MaxParallel int
	Progress    ProgressFlags
}

func newDiffCmd(f *Factory) *cobra.Command { return newDiffCmdWith(f, runDiff) }

func newDiffCmdWith(f *Factory, runF func(context.Context, *Factory, *DiffOptions) error) *cobra.Command {
	o := &DiffOptions{}
	cmd := &cobra.Command{
		Use:   "diff [environment] config",
		Short: "Show what build would change, through change sets",
		Args:  positionalArgs,
		RunE: o.Common.runE(f, func(cmd *cobra.Command) error {
			if err := o.Progress.complete(cmd, f.getenv); err != nil {
				return err
			}
			return checkMaxParallel(o.MaxParallel)
		},
			func(ctx context.Context) error { return runF(ctx, f, o) }),
	}
	addCommonFlags(cmd, &o.Common, diffFlags)
	fl := cmd.Flags()
	fl.StringArrayVar(&o.Force, "force", nil, "diff the locked stack `NAME` too (repeatable)")
	addStacksFlag(cmd, &o.Stacks, false, "only this stack or target and its dependencies")
	fl.IntVarP(&o.MaxParallel, "max-parallel", "j", 0, "at most `N` stacks in flight (0 = no limit)")
	addProgressFlags(cmd, &o.Progress)
	return cmd
}

func runDiff(ctx context.Context, f *Factory, o *DiffOptions) error {
	cfg, reg, g, err := o.Common.load(ctx, f, loadSpec{force: o.Force, stacks: o.Stacks, selection: withDeps, renders: true})
	if err != nil {
		return err
	}
	do, err := o.Common.deployOptions(ctx, f, cfg, reg, g)
	if err != nil {
		return err
	}
	do.Force, do.MaxParallel = o.Force, o.MaxParallel
	return runErr(ctx, o.Progress.run(ctx, f, do, o.Common.Verbose > 0, false, event.Diff, deploy.Diff))
}
