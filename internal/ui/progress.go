package ui

import (
	"fmt"
	"io"
	"os"
	"strconv"

	"golang.org/x/term"

	"github.com/stacker-go/stacker/internal/event"
)

// EnvProgress names the environment variable that chooses the renderer
// when --progress is not given.
const EnvProgress = "STACKER_PROGRESS"

// Progress renderer names (--progress).
const (
	ProgressAuto  = "auto"  // tty on a capable terminal, else plain
	ProgressTTY   = "tty"   // the live view (degrades to plain where it cannot draw)
	ProgressPlain = "plain" // stacker's lines, append-only, no control codes
	ProgressJSON  = "json"  // one JSON object per line
)

// CheckProgress rejects an unknown renderer name.
func CheckProgress(mode string) error {
	switch mode {
	case ProgressAuto, ProgressTTY, ProgressPlain, ProgressJSON:
		return nil
	}
	return fmt.Errorf("--progress %q: want auto, tty, plain or json", mode)
}

// ProgressOptions choose and configure a run's renderer.
type ProgressOptions struct {
	Mode string // auto, tty, plain or json ("" is auto)
	// Tail prints resource events (--tail).
	Tail bool
	// JSONOut is where json writes (the command's stdout, or a file).
	JSONOut io.Writer
	// Verbose is -v: debug lines go straight to stderr, so auto picks
	// plain rather than a view they would tear.
	Verbose bool
	// Getenv reads TERM, NO_COLOR and COLUMNS (nil: os.LookupEnv).
	Getenv func(string) (string, bool)
}

// Progress is a run's renderer: Sink receives the events; Resources says
// whether it wants resource events without --tail (the live view shows
// the resource changing); Close stops a live view's timer.
type Progress struct {
	Sink      event.Sink
	Mode      string // the renderer chosen: tty, plain or json
	Resources bool
	Close     func()
}

// NewProgress returns the renderer o chooses, over c. Plain and tty both
// end with the summary (FormatSummary); json ends with run_finished.
func NewProgress(c *Console, o ProgressOptions) Progress {
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.LookupEnv
	}
	mode := o.Mode
	if mode == "" {
		mode = ProgressAuto
	}
	width, canLive := liveWidth(c.ErrOut, getenv)
	switch mode {
	case ProgressJSON:
		w := o.JSONOut
		if w == nil {
			w = c.Out
		}
		return Progress{Sink: NewJSON(c, w, o.Tail), Mode: ProgressJSON, Close: func() {}}
	case ProgressAuto:
		if canLive && !o.Verbose && isTerminal(c.ErrOut) {
			mode = ProgressTTY
		} else {
			mode = ProgressPlain
		}
	case ProgressTTY:
		if !canLive {
			mode = ProgressPlain
		}
	}
	if mode == ProgressTTY {
		l := NewLive(c, width, o.Tail)
		l.Start()
		return Progress{Sink: l, Mode: ProgressTTY, Resources: true, Close: l.Stop}
	}
	return Progress{Sink: event.Multi(NewPlain(c), NewSummary(c)), Mode: ProgressPlain, Close: func() {}}
}

// liveWidth is the width a live view would have on w, and whether one
// can be drawn: not on TERM=dumb (or unset TERM on a non-terminal), not
// with NO_COLOR set, not narrower than MinLiveWidth.
func liveWidth(w io.Writer, getenv func(string) (string, bool)) (int, bool) {
	if t, _ := getenv("TERM"); t == "dumb" {
		return 0, false
	}
	if _, ok := getenv("NO_COLOR"); ok {
		return 0, false
	}
	width := 0
	if f, ok := w.(*os.File); ok {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil {
			width = cols
		}
	}
	if width == 0 {
		if s, ok := getenv("COLUMNS"); ok {
			width, _ = strconv.Atoi(s)
		}
	}
	if width == 0 {
		width = 80
	}
	return width, width >= MinLiveWidth
}
