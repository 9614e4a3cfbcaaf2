package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// TODO(owner): replace this placeholder.
func newCacheCmd(stdio IO) *cobra.Command {
	return &cobra.Command{Use: "cache", RunE: func(*cobra.Command, []string) error {
		return &ExitError{Code: ExitUsage, Err: errors.New("cache: not implemented yet")}
	}}
}
