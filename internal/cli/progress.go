package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"
	"github.com/stacker-go/stacker/internal/deploy"
	"github.com/stacker-go/stacker/internal/event"
	"github.com/stacker-go/stacker/internal/ui"
)

// ProgressFlags are how build, destroy and diff show a run: --progress
// (env STACKER_PROGRESS) and --timeline.
type ProgressFlags struct {
	Progress string // auto, tty, plain or json
	Timeline string // write a Gantt chart of the run here (.svg or .html)
}

func addProgressFlags(cmd *cobra.Command, p *ProgressFlags) {
	f := cmd.Flags()
	f.StringVar(&p.Progress, "progress", ui.ProgressAuto, "show the run as `MODE`: auto (tty on a terminal, else plain), tty (live view), plain (stacker's lines) or json (JSON lines on stdout); env "+ui.EnvProgress)
	f.StringVar(&p.Timeline, "timeline", "", "write a timeline of the run (stacks over time by target, critical path marked) to `FILE`, .svg or .html")
}

// complete reads STACKER_PROGRESS when --progress is not given and checks
// both flags (usage errors).
func (p *ProgressFlags) complete(cmd *cobra.Command, getenv func(string) string) error {
	if !cmd.Flags().Changed("progress") {
		if v := getenv(ui.EnvProgress); v != "" {
			if err := ui.CheckProgress(v); err != nil {
				return fmt.Errorf("%s=%q: want auto, tty, plain or json", ui.EnvProgress, v)
			}
			p.Progress = v
		}
	}
	if err := ui.CheckProgress(p.Progress); err != nil {
		return err
	}
	if cmd.Flags().Changed("timeline") && ui.TimelineFormat(p.Timeline) == "" {
		return fmt.Errorf("--timeline %q: the file name must end in .svg or .html", p.Timeline)
	}
	return nil
}

// run runs action with the renderer the flags choose as its event sink,
// then writes the timeline (also when the run failed: that is when it
// helps most).
func (p *ProgressFlags) run(ctx context.Context, f *Factory, do deploy.Options, verbose, tail bool, action event.Action,
	run func(context.Context, deploy.Options) error) error {
	pr := ui.NewProgress(do.Console, ui.ProgressOptions{Mode: p.Progress, Tail: tail, JSONOut: f.IO.Out, Verbose: verbose})
	if pr.Mode == ui.ProgressJSON && action == event.Diff {
		// stdout is the JSON stream: the diff text goes to stderr.
		do.Console.Out = f.IO.ErrOut
	}
	sinks := []event.Sink{pr.Sink}
	var tl *ui.Timeline
	if p.Timeline != "" {
		tl = ui.NewTimeline()
		sinks = append(sinks, tl)
	}
	do.Events, do.Resources = event.Multi(sinks...), pr.Resources
	err := run(ctx, do)
	pr.Close()
	if tl != nil {
		if terr := writeTimeline(tl, p.Timeline); terr != nil {
			if err == nil {
				return terr
			}
			slog.Warn("timeline not written", "err", terr)
		}
	}
	return err
}

func writeTimeline(tl *ui.Timeline, path string) (err error) {
	fh, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write timeline: %w", err)
	}
	defer func() { err = errors.Join(err, fh.Close()) }()
	if err := tl.Write(fh, ui.TimelineFormat(path)); err != nil {
		return fmt.Errorf("write timeline %s: %w", path, err)
	}
	return nil
}
