package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// TODO(owner): replace this placeholder.
func newGraphCmd(stdio IO) *cobra.Command {
	return &cobra.Command{Use: "graph", RunE: func(*cobra.Command, []string) error {
		return &ExitError{Code: ExitUsage, Err: errors.New("graph: not implemented yet")}
	}}
}
