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

func newInfoCmd(f *Factory) *cobra.Command { return newInfoCmdWith(f, runInfo) }

func newInfoCmdWith(f *Factory, runF func(context.Context, *Factory, *InfoOptions) error) *cobra.Command {
	o := &InfoOptions{}
	cmd := &cobra.Command{
		Use:   "info [environment] config",
		Short: "Print the outputs of the stacks of a config",
		Args:  positionalArgs,
		RunE:  o.Common.runE(f, nil, func(ctx context.Context) error { return runF(ctx, f, o) }),
	}
	addCommonFlags(cmd, &o.Common, awsRunFlags)
	addStacksFlag(cmd, &o.Stacks, false, "only this stack")
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print the outputs as JSON on stdout")
	return cmd
}

func runInfo(ctx context.Context, f *Factory, o *InfoOptions) error {
	cfg, reg, g, err := o.Common.load(ctx, f, loadSpec{stacks: o.Stacks, selection: onlyStacks})
	if err != nil {
		return err
	}
	do, err := o.Common.deployOptions(ctx, f, cfg, reg, g) // the provider modes are unused by Info
	if err != nil {
		return err
	}
	do.JSON = o.JSON
	return runErr(ctx, deploy.Info(ctx, do))
}
