package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// TODO(owner): replace this placeholder.
func newDemoCmd(stdio IO) *cobra.Command {
	return &cobra.Command{Use: "demo", RunE: func(*cobra.Command, []string) error {
		return &ExitError{Code: ExitUsage, Err: errors.New("demo: not implemented yet")}
	}}
}
