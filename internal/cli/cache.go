package cli

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/stacker-go/stacker/internal/target"
)

// newCacheCmd is `stacker cache path|clear`: the on-disk cache of MFA
// sessions and assumed-role credentials (internal/target).
func newCacheCmd(stdio IO) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cache",
		Short: "Show or clear the on-disk credential cache",
		Long: `The credential cache keeps MFA sessions and assumed-role credentials between
runs (files 0600 in a 0700 directory under the user cache directory, or
` + target.EnvCredentialCache + `), so one MFA code serves every run until the
session expires. --no-credential-cache or ` + target.EnvNoCache + `=1 turn it off.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return &ExitError{Code: ExitUsage, Err: fmt.Errorf("cache needs a subcommand: path or clear")}
		},
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "path",
		Short: "Print the credential cache directory",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := target.CacheDir()
			if err != nil {
				return &ExitError{Code: ExitFailed, Err: err}
			}
			fmt.Fprintln(stdio.Out, dir)
			return nil
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "clear",
		Short: "Remove every cached credential",
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
			return nil
		},
	})
	return cmd
}
