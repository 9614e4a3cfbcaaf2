package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// TODO(owner): replace this placeholder.
func newInfoCmd(stdio IO) *cobra.Command {
	return &cobra.Command{Use: "info", RunE: func(*cobra.Command, []string) error {
		return &ExitError{Code: ExitUsage, Err: errors.New("info: not implemented yet")}
	}}
}
