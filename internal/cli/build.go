package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// TODO(owner): replace this placeholder.
func newBuildCmd(stdio IO) *cobra.Command {
	return &cobra.Command{Use: "build", RunE: func(*cobra.Command, []string) error {
		return &ExitError{Code: ExitUsage, Err: errors.New("build: not implemented yet")}
	}}
}
