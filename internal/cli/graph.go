package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/stacker-go/stacker/internal/graph"
)

// GraphOptions are the flags of `stacker graph`.
type GraphOptions struct {
	Common CommonOptions
	Format string // dot, json or mermaid
	Reduce bool   // transitive reduction first
}

func newGraphCmd(f *Factory) *cobra.Command { return newGraphCmdWith(f, runGraph) }

func newGraphCmdWith(f *Factory, runF func(context.Context, *Factory, *GraphOptions) error) *cobra.Command {
	o := &GraphOptions{}
	cmd := &cobra.Command{
		Use:   "graph [environment] config",
		Short: "Print the dependency graph of a config (dot, json, mermaid or an SVG picture; no AWS calls)",
		Args:  positionalArgs,
		RunE: o.Common.runE(f, func(*cobra.Command) error {
			if !slices.Contains(graph.Formats, o.Format) {
				return fmt.Errorf("-f/--format %q: want one of %s", o.Format, strings.Join(graph.Formats, ", "))
			}
			return nil
		}, func(ctx context.Context) error { return runF(ctx, f, o) }),
	}
	addCommonFlags(cmd, &o.Common, offlineFlags)
	cmd.Flags().StringVarP(&o.Format, "format", "f", "dot", "output `FORMAT`: "+strings.Join(graph.Formats, ", "))
	cmd.Flags().BoolVar(&o.Reduce, "reduce", false, "drop edges implied by other edges (transitive reduction)")
	return cmd
}

func runGraph(ctx context.Context, f *Factory, o *GraphOptions) error {
	_, _, g, err := o.Common.load(ctx, f, loadSpec{selection: wholeGraph})
	if err != nil {
		return err
	}
	if o.Reduce {
		g = g.Reduce()
	}
	if err := g.Write(f.IO.Out, o.Format); err != nil {
		return &ExitError{Code: ExitFailed, Err: fmt.Errorf("write graph: %w", err)}
	}
	return nil
}
