package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// TODO(owner): replace this placeholder.
func newDiffCmd(stdio IO) *cobra.Command {
	return &cobra.Command{Use: "diff", RunE: func(*cobra.Command, []string) error {
		return &ExitError{Code: ExitUsage, Err: errors.New("diff: not implemented yet")}
	}}
}
