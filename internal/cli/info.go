package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/stacker-go/stacker/internal/deploy"
)

// InfoOptions are the flags of `stacker info`.
type InfoOptions struct {
	Common CommonOptions
	Stacks []string // only these stacks (exactly; no dependencies)
	JSON   bool     // machine-readable output on stdout
}

func newInfoCmd(stdio IO) *cobra.Command { return newInfoCmdWith(stdio, runInfo) }

func newInfoCmdWith(stdio IO, runF func(context.Context, IO, *InfoOptions) error) *cobra.Command {
	o := &InfoOptions{}
	cmd := &cobra.Command{
		Use:   "info [environment] config",
		Short: "Print the outputs of the stacks of a config",
		Args:  positionalArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Common.complete(cmd, args); err != nil {
				return usageErr(err)
			}
			o.Common.Stdin = stdio.In
			return runF(cmd.Context(), stdio, o)
		},
	}
	addCommonFlags(cmd, &o.Common, true)
	addStacksFlag(cmd, &o.Stacks, false, "only this stack")
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print the outputs as JSON on stdout")
	return cmd
}

func runInfo(ctx context.Context, stdio IO, o *InfoOptions) error {
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
	g, err = g.Subset(o.Stacks)
	if err != nil {
		return usageErr(fmt.Errorf("--stacks: %w", err))
	}
	warnNoStacks(stdio, cfg)
	console := o.Common.newConsole(stdio)
	err = deploy.Info(ctx, deploy.Options{
		Config:   cfg,
		Graph:    g,
		Lookups:  reg,
		Targets:  o.Common.Targets(console),
		Console:  console,
		JSON:     o.JSON,
		ReadRate: o.Common.ReadRate,
		Out:      stdio.Out,
		ErrOut:   stdio.ErrOut,
		In:       stdio.In,
	})
	return runErr(ctx, err)
}
