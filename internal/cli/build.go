package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/stacker-go/stacker/internal/deploy"
)

// BuildOptions are the flags of `stacker build`.
type BuildOptions struct {
	Common      CommonOptions
	Outline     bool
	Force       []string // update these locked stacks anyway
	Stacks      []string // --stacks/--targets: these plus their dependencies
	MaxParallel int      // 0 = no limit
	Tail        bool
	Dump        string // --dump DIR: render templates into DIR, no AWS
	DumpSet     bool   // --dump was given (an empty DIR is an error)
}

func newBuildCmd(stdio IO) *cobra.Command { return newBuildCmdWith(stdio, runBuild) }

func newBuildCmdWith(stdio IO, runF func(context.Context, IO, *BuildOptions) error) *cobra.Command {
	o := &BuildOptions{}
	cmd := &cobra.Command{
		Use:   "build [environment] config",
		Short: "Create or update the stacks of a config",
		Long: `Create or update every stack of the config in dependency order.

--outline prints the plan and --dump DIR renders the templates into DIR;
neither makes any AWS call.`,
		Args: positionalArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.complete(cmd, args); err != nil {
				return usageErr(err)
			}
			o.Common.Stdin = stdio.In
			return runF(cmd.Context(), stdio, o)
		},
	}
	addCommonFlags(cmd, &o.Common, true)
	f := cmd.Flags()
	f.BoolVarP(&o.Outline, "outline", "o", false, "print the plan outline on stderr and exit (no AWS calls)")
	f.StringArrayVar(&o.Force, "force", nil, "update this locked stack anyway (repeatable)")
	addStacksFlag(cmd, &o.Stacks, true, "only this stack or target and its dependencies")
	f.IntVarP(&o.MaxParallel, "max-parallel", "j", 0, "at most N stacks in flight (0 = no limit)")
	f.BoolVarP(&o.Tail, "tail", "t", false, "print stack events while stacks change")
	f.StringVarP(&o.Dump, "dump", "d", "", "render every template into `DIR` and exit (no AWS calls)")
	return cmd
}

func (o *BuildOptions) complete(cmd *cobra.Command, args []string) error {
	if err := o.Common.complete(cmd, args); err != nil {
		return err
	}
	o.DumpSet = cmd.Flags().Changed("dump")
	if o.DumpSet && o.Dump == "" {
		return errors.New(`--dump needs a directory (got "")`)
	}
	if o.DumpSet && o.Outline {
		return errors.New("--dump and --outline cannot be used together")
	}
	if o.MaxParallel < 0 {
		return fmt.Errorf("-j/--max-parallel %d: must be 0 (no limit) or more", o.MaxParallel)
	}
	return nil
}

func runBuild(ctx context.Context, stdio IO, o *BuildOptions) error {
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
	switch {
	case o.Outline:
		printPlan(stdio, "Create/Update stacks", "_launch_stack", g, "")
		return nil
	case o.DumpSet:
		return dumpTemplates(ctx, stdio, cfg, reg, g, o.Dump)
	}
	console := o.Common.newConsole(stdio)
	err = deploy.Build(ctx, deploy.Options{
		Config:           cfg,
		Graph:            g,
		Lookups:          reg,
		Targets:          o.Common.Targets(console),
		Console:          console,
		Force:            o.Force,
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
