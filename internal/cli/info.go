package cli

import (
	"context"

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
		RunE:  o.Common.runE(stdio, nil, func(ctx context.Context) error { return runF(ctx, stdio, o) }),
	}
	addCommonFlags(cmd, &o.Common, true)
	addStacksFlag(cmd, &o.Stacks, false, "only this stack")
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print the outputs as JSON on stdout")
	return cmd
}

func runInfo(ctx context.Context, stdio IO, o *InfoOptions) error {
	cfg, reg, g, err := o.Common.load(stdio, loadSpec{stacks: o.Stacks, selection: onlyStacks})
	if err != nil {
		return err
	}
	do := o.Common.deployOptions(stdio, cfg, reg, g) // the provider modes are unused by Info
	do.JSON = o.JSON
	return runErr(ctx, deploy.Info(ctx, do))
}
