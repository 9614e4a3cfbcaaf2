package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/stacker-go/stacker/internal/deploy"
	"github.com/stacker-go/stacker/internal/event"
	"github.com/stacker-go/stacker/internal/ui"
)

// DiffOptions are the flags of `stacker diff`.
type DiffOptions struct {
	Common      CommonOptions
	Force       []string // diff these locked stacks too
	Stacks      []string // these plus their dependencies
	MaxParallel int
	JSON        bool // the plan as one JSON document on stdout
	Progress    ProgressFlags
}

func newDiffCmd(f *Factory) *cobra.Command { return newDiffCmdWith(f, runDiff) }

func newDiffCmdWith(f *Factory, runF func(context.Context, *Factory, *DiffOptions) error) *cobra.Command {
	o := &DiffOptions{}
	cmd := &cobra.Command{
		Use:   "diff [environment] config",
		Short: "Show what build would change, through change sets",
		Long: `Show what build would change, through change sets that are deleted afterwards.

Per stack: parameters old and new (NoEcho values masked on both sides), tags,
and resource changes with replacements marked (!! replacement) and the
properties they change. Stacks are compared in parallel by the graph; the
plan is printed once all are done, in graph order. Dependants see the
outputs a change may alter as <inferred-change: stack.Output=value>.
With --json the plan is one JSON document (docs/diff-json.md). With -i (on
a terminal) each changed stack's summary is printed and "Show full change
set? [y/n]" decides whether its full diff follows.`,
		Args: positionalArgs,
		RunE: o.Common.runE(f, func(cmd *cobra.Command) error {
			if err := o.Progress.complete(cmd, f.getenv); err != nil {
				return err
			}
			if o.JSON && o.Common.Interactive {
				return fmt.Errorf("--json prints the whole plan and -i asks stack by stack: choose one")
			}
			if o.JSON && o.Progress.Progress == ui.ProgressJSON {
				return fmt.Errorf("--json and --progress json both write stdout: choose one (--progress plain shows the run on stderr)")
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
	fl.BoolVar(&o.JSON, "json", false, "print the plan as one JSON document on stdout (schema: docs/diff-json.schema.json)")
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
	do.Force, do.MaxParallel, do.JSON = o.Force, o.MaxParallel, o.JSON
	err = o.Progress.run(ctx, f, do, o.Common.Verbose > 0, false, event.Diff, deploy.Diff)
	if errors.Is(err, deploy.ErrDiffNeedsTerminal) {
		return usageErr(err) // nothing was compared: a usage error (exit 2)
	}
	return runErr(ctx, err)
}
