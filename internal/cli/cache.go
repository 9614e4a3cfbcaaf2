package cli

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/stacker-go/stacker/internal/cfn"
	"github.com/stacker-go/stacker/internal/target"
)

// newCacheCmd is `stacker cache path|clear`: the on-disk cache of MFA
// sessions and assumed-role credentials (internal/target) and build's
// deploy records (no-change detection, cfn.Records).
func newCacheCmd(stdio IO) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cache",
		Short: "Show or clear the on-disk caches (credentials, deploy records)",
		Long: `The credential cache keeps MFA sessions and assumed-role credentials between
runs (files 0600 in a 0700 directory under the user cache directory, or
` + target.EnvCredentialCache + `), so one MFA code serves every run until the
session expires. --no-credential-cache or ` + target.EnvNoCache + `=1 turn it off.

The deploy records are build's record of what it last deployed to each
stack (the stack id, CloudFormation's last-change time and a digest of what
was sent: never parameter values), so a stack nothing changed is skipped
without an UpdateStack (files 0600 in a 0700 directory next to the
credential cache, or ` + target.EnvDeployCache + `). build --no-deploy-cache or
` + target.EnvNoDeployCache + `=1 turn them off.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return &ExitError{Code: ExitUsage, Err: fmt.Errorf("cache needs a subcommand: path or clear")}
		},
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "path",
		Short: "Print the credential cache directory, then the deploy record directory",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			deployDir := func() (string, error) { return target.DeployCacheDir(nil) }
			for _, f := range []func() (string, error){target.CacheDir, deployDir} {
				dir, err := f()
				if err != nil {
					return &ExitError{Code: ExitFailed, Err: err}
				}
				fmt.Fprintln(stdio.Out, dir)
			}
			return nil
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "clear",
		Short: "Remove every cached credential and deploy record",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := target.CacheDir()
			if err != nil {
				return &ExitError{Code: ExitFailed, Err: err}
			}
			n, err := target.ClearCache(dir)
			if err != nil {
				return &ExitError{Code: ExitFailed, Err: err}
			}
			fmt.Fprintf(stdio.ErrOut, "removed %d cached credential(s) from %s\n", n, dir)
			dir, err = target.DeployCacheDir(nil)
			if err != nil {
				return &ExitError{Code: ExitFailed, Err: err}
			}
			n, err = cfn.ClearRecords(dir)
			if err != nil {
				return &ExitError{Code: ExitFailed, Err: err}
			}
			fmt.Fprintf(stdio.ErrOut, "removed %d deploy record(s) from %s\n", n, dir)
			return nil
		},
	})
	return cmd
}
