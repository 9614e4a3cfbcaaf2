package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// TODO(owner): replace this placeholder.
func newSandboxCmd(stdio IO) *cobra.Command {
	return &cobra.Command{Use: "sandbox", RunE: func(*cobra.Command, []string) error {
		return &ExitError{Code: ExitUsage, Err: errors.New("sandbox: not implemented yet")}
	}}
}
