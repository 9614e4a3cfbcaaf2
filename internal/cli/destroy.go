package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// TODO(owner): replace this placeholder.
func newDestroyCmd(stdio IO) *cobra.Command {
	return &cobra.Command{Use: "destroy", RunE: func(*cobra.Command, []string) error {
		return &ExitError{Code: ExitUsage, Err: errors.New("destroy: not implemented yet")}
	}}
}
