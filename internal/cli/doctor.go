package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/stacker-go/stacker/internal/doctor"
)

// DoctorOptions are the flags of `stacker doctor`.
type DoctorOptions struct {
	Common CommonOptions
}

func newDoctorCmd(f *Factory) *cobra.Command { return newDoctorCmdWith(f, runDoctor) }

func newDoctorCmdWith(f *Factory, runF func(context.Context, *Factory, *DoctorOptions) error) *cobra.Command {
	o := &DoctorOptions{}
	cmd := &cobra.Command{
		Use:   "doctor [environment] config",
		Short: "Check credentials, accounts, template bucket and CloudFormation for every target",
		Long: `For every distinct target (profile and region) of the config, in parallel:
the credentials resolve (assuming roles, with MFA when required), the caller
is in the expected account (account_id, accounts:), the template bucket is
readable as that target (a probe object written with the top-level
credentials and removed afterwards), and CloudFormation answers.

Prints one row per target and exits 1 if any row fails, with the fix in the row.`,
		Args: positionalArgs,
		RunE: o.Common.runE(f, nil, func(ctx context.Context) error { return runF(ctx, f, o) }),
	}
	addCommonFlags(cmd, &o.Common, doctorFlags)
	return cmd
}

func runDoctor(ctx context.Context, f *Factory, o *DoctorOptions) error {
	cfg, _, _, err := o.Common.load(ctx, f, loadSpec{configOnly: true})
	if err != nil {
		return err
	}
	rows, err := doctor.Run(ctx, doctor.Options{Config: cfg, Targets: f.targets(o.Common.targetOptions(f.console()))})
	doctor.Render(f.IO.Out, rows)
	if err != nil {
		return runErr(ctx, err)
	}
	failed := 0
	for _, r := range rows {
		if r.Failed() {
			failed++
		}
	}
	if failed > 0 {
		return &ExitError{Code: ExitFailed, Err: fmt.Errorf("doctor: %d of %d target(s) failed", failed, len(rows))}
	}
	fmt.Fprintf(f.IO.ErrOut, "doctor: all %d target(s) ok\n", len(rows))
	return nil
}
