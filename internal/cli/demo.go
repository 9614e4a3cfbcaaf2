package cli

import (
	"context"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/stacker-go/stacker/internal/demo"
	"github.com/stacker-go/stacker/internal/target"
)

// DemoOptions are the flags of `stacker demo`.
type DemoOptions struct {
	Keep    bool // keep the working directory
	Verbose bool // show the builds' status lines
}

func newDemoCmd(f *Factory) *cobra.Command {
	o := &DemoOptions{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the cross-account example against an in-process sandbox",
		Long: `Starts the sandbox (three accounts: master, prod, stage) in this process and
performs the cross-account scenario of examples/cross-account with this
tool: Stacker roles created in each account from templates/stacker-role.yaml,
an MFA session obtained with the sandbox's virtual MFA device, the template
bucket built in master granting the sub-accounts' roles, then a VPC built in
prod and in stage through that bucket. Nothing is left running.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDemo(cmd.Context(), f, o)
		},
	}
	cmd.Flags().BoolVar(&o.Keep, "keep", false, "keep the working directory (config, templates) and print its path")
	cmd.Flags().BoolVarP(&o.Verbose, "verbose", "v", false, "show the status lines of every build")
	return cmd
}

func runDemo(ctx context.Context, f *Factory, o *DemoOptions) error {
	err := demo.Run(ctx, demo.Options{Keep: o.Keep, Verbose: o.Verbose, Out: f.IO.Out, Stacker: inProcess})
	if err != nil {
		return &ExitError{Code: ExitFailed, Err: err}
	}
	return nil
}

// inProcess is the demo's stacker: this command line, run in this process
// with the demo's environment for its flags and its credentials.
func inProcess(ctx context.Context, args []string, getenv func(string) string, out, errOut io.Writer) int {
	f := &Factory{
		IO:     IO{In: strings.NewReader(""), Out: out, ErrOut: errOut},
		Getenv: getenv,
		NewTargets: func(o target.Options) *target.Factory {
			o.Getenv = getenv
			return target.NewFactory(o)
		},
	}
	return Execute(ctx, args, f)
}
