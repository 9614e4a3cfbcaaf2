package ui

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/stacker-go/stacker/internal/event"
	"golang.org/x/term"
)

// MinLiveWidth is the narrowest terminal the live view draws on; below it
// (and on TERM=dumb, or with NO_COLOR) the plain renderer is used.
const MinLiveWidth = 40

// LiveInterval is how often the live view redraws its timers.
const LiveInterval = 250 * time.Millisecond

// Live is the TTY renderer: under the lines printed so far it keeps a view
// redrawn in place, one row per stack in flight (its target, status, the
// resource changing, resource counts and elapsed time) and a footer with
// the run's progress. A stack that finishes scrolls up as its plain
// status line. Everything else Plain prints (failure reasons, messages,
// --tail events, interruption) also scrolls up, and a prompt erases the
// view until it is answered (the console's lock pauses the redraw). At the
// end the view is erased and the summary printed.
type Live struct {
	Console *Console
	// Width is the terminal's width in columns (rows are cut to fit).
	Width int
	// Tail prints resource events as plain lines (--tail); without it they
	// only feed the view.
	Tail bool

	rec   *RunRecord // guarded by Console.mu
	drawn int        // rows on screen now
	stop  chan struct{}
	once  sync.Once
}

// NewLive returns the live renderer over c (call Start to run its timer).
func NewLive(c *Console, width int, tail bool) *Live {
	l := &Live{Console: c, Width: width, Tail: tail, rec: NewRunRecord(), stop: make(chan struct{})}
	c.mu.Lock()
	c.live = l
	c.mu.Unlock()
	return l
}

// Start redraws the view every LiveInterval until the run finishes or
// Stop is called.
func (l *Live) Start() {
	go func() {
		t := time.NewTicker(LiveInterval)
		defer t.Stop()
		for {
			select {
			case <-l.stop:
				return
			case <-t.C:
				l.Tick()
			}
		}
	}()
}

// Stop ends the redraw timer and erases the view (idempotent).
func (l *Live) Stop() {
	l.once.Do(func() {
		close(l.stop)
		c := l.Console
		c.mu.Lock()
		defer c.mu.Unlock()
		l.erase()
		c.live = nil
	})
}

// Tick redraws the view (timers move on).
func (l *Live) Tick() {
	c := l.Console
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.live != l || c.holding {
		return
	}
	l.erase()
	l.draw()
}

// Emit implements event.Sink.
func (l *Live) Emit(e event.Event) {
	c := l.Console
	line := ""
	switch e := e.(type) {
	case event.StackStatus:
		if e.Outcome != "" {
			line = c.plainLine(e)
		}
	case event.ResourceEvent:
		if l.Tail {
			line = c.plainLine(e)
		}
	default:
		line = c.plainLine(e)
	}
	c.mu.Lock()
	l.rec.Apply(e)
	_, finished := e.(event.RunFinished)
	if finished {
		line += FormatSummary(l.rec)
	}
	c.write(c.ErrOut, line) // erases the view first and redraws it after
	c.mu.Unlock()
	if finished {
		l.Stop()
	}
}

func (l *Live) erase() {
	if l.drawn > 0 {
		// Up to the first row, then clear to the end of the screen.
		fmt.Fprintf(l.Console.ErrOut, "\r\033[%dA\033[J", l.drawn)
		l.drawn = 0
	}
}

func (l *Live) draw() {
	if l.rec.Started.IsZero() || !l.rec.Finished.IsZero() {
		return
	}
	width := l.Width
	if f, ok := l.Console.ErrOut.(*os.File); ok {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
			width = w // follows a resized terminal
		}
	}
	rows := RenderLive(l.rec, l.Console.now(), width)
	var b strings.Builder
	for _, r := range rows {
		b.WriteString(r)
		b.WriteString("\033[K\n")
	}
	l.Console.ErrOut.Write([]byte(b.String()))
	l.drawn = len(rows)
}

// RenderLive is the live view of a run at a time, cut to width columns:
// one row per stack in flight, in plan order, then a footer.
//
//	  db           12.0s  prod 222222222222 eu-west-1  submitted (creating new stack)  Queue CREATE_IN_PROGRESS  1 done, 1 changing
//	build: 2 of 5 stacks done, 1 in flight, 0 failed  40.5s
//
// It is a pure function of the record and the time.
func RenderLive(r *RunRecord, now time.Time, width int) []string {
	var flying []*StackRecord
	nameW, targetW := 0, 0
	for _, st := range r.Stacks {
		if !st.InFlight() {
			continue
		}
		flying = append(flying, st)
		nameW = max(nameW, utf8.RuneCountInString(st.Name))
		targetW = max(targetW, utf8.RuneCountInString(TargetLabel(st.Target)))
	}
	var rows []string
	for _, st := range flying {
		status := st.State.String()
		if st.State == event.Pending && st.Reason == "" {
			status = "preparing" // describing, resolving lookups, rendering
		}
		if st.Reason != "" {
			status += " (" + st.Reason + ")"
		}
		// The timer comes right after the name, so a narrow terminal cuts
		// the details, not the time.
		cols := []string{pad(st.Name, nameW), fmt.Sprintf("%7s", FormatDuration(st.Duration(now))), pad(TargetLabel(st.Target), targetW), status}
		if cur := st.Current; cur.LogicalID != "" {
			cols = append(cols, cur.LogicalID+" "+cur.Status)
		}
		if done, changing, failed := st.ResourceCounts(); done+changing+failed > 0 {
			cnt := fmt.Sprintf("%d done", done)
			if changing > 0 {
				cnt += fmt.Sprintf(", %d changing", changing)
			}
			if failed > 0 {
				cnt += fmt.Sprintf(", %d failed", failed)
			}
			cols = append(cols, cnt)
		}
		rows = append(rows, cut("  "+strings.Join(cols, "  "), width))
	}
	done, failed := 0, 0
	for _, st := range r.Stacks {
		if st.Outcome != "" {
			done++
		}
		if st.Outcome == event.OutcomeFailed {
			failed++
		}
	}
	footer := fmt.Sprintf("%s: %d of %d stacks done, %d in flight, %d failed  %s",
		r.Action, done, len(r.Stacks), len(flying), failed, FormatDuration(r.Duration(now)))
	return append(rows, cut(footer, width))
}

func pad(s string, w int) string {
	if n := utf8.RuneCountInString(s); n < w {
		return s + strings.Repeat(" ", w-n)
	}
	return s
}

// cut keeps s to width-1 columns (the last column is left free so a row
// never wraps, which would break the redraw's line count).
func cut(s string, width int) string {
	if width <= 1 {
		return s
	}
	if utf8.RuneCountInString(s) <= width-1 {
		return s
	}
	r := []rune(s)
	return string(r[:width-2]) + "…"
}
