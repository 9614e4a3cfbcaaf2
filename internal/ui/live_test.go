package ui

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stacker-go/stacker/internal/event"
)

// TestLiveFramesGolden renders the view after every event of the sample
// build, half a second later: the view is a function of the events seen
// and the time.
func TestLiveFramesGolden(t *testing.T) {
	for _, width := range []int{160, 60} {
		t.Run(fmt.Sprint(width), func(t *testing.T) {
			var b strings.Builder
			r := NewRunRecord()
			for _, e := range sampleBuild() {
				r.Apply(e)
				now := e.When().Add(500 * time.Millisecond)
				fmt.Fprintf(&b, "--- after %T at %s\n", e, now.Format("15:04:05.0"))
				for _, row := range RenderLive(r, now, width) {
					if n := len([]rune(row)); n >= width {
						t.Errorf("row of %d columns on a %d-column terminal: %q", n, width, row)
					}
					b.WriteString(row + "|\n")
				}
			}
			golden(t, fmt.Sprintf("live-frames-%d.golden", width), []byte(b.String()))
		})
	}
}

// TestLiveStreamGolden is the bytes the TTY renderer writes for the sample
// build, control codes shown escaped: finished stacks scroll up as their
// plain lines, the view is erased before and redrawn after each, and the
// summary ends it with no view left.
func TestLiveStreamGolden(t *testing.T) {
	var buf bytes.Buffer
	now := t0
	off := false
	c := NewConsole(nil, &buf, &buf)
	c.Clock, c.Colour = func() time.Time { return now }, &off
	l := NewLive(c, 120, false)
	for _, e := range sampleBuild() {
		now = e.When()
		l.Emit(e)
		if _, ok := e.(event.ResourceEvent); ok {
			now = now.Add(time.Second)
			l.Tick()
		}
	}
	l.Stop()
	out := buf.String()
	if !strings.HasSuffix(out, FormatSummary(record(sampleBuild()))) {
		t.Errorf("the stream does not end with the summary:\n%s", out)
	}
	golden(t, "live-stream.golden", []byte(strings.ReplaceAll(out, "\033", `\e`)))
}

// TestPromptPausesTheLiveView: a prompt erases the view, and it is drawn
// again only after the answer.
func TestPromptPausesTheLiveView(t *testing.T) {
	var buf bytes.Buffer
	off := false
	c := NewConsole(strings.NewReader("123456\n"), &buf, &buf)
	c.Clock, c.Colour = func() time.Time { return at(3) }, &off
	l := NewLive(c, 100, false)
	for _, e := range sampleBuild()[:4] {
		l.Emit(e)
	}
	buf.Reset()
	ans, err := c.Prompt("Enter MFA code: ", true, true)
	if err != nil || ans != "123456" {
		t.Fatalf("Prompt = %q, %v", ans, err)
	}
	out := buf.String()
	erase, label, redraw := strings.Index(out, "\033[J"), strings.Index(out, "Enter MFA code: "), strings.LastIndex(out, "prod-vpc")
	if erase < 0 || label < erase || redraw < label {
		t.Errorf("want erase, then the question, then the view again; got %q", out)
	}
	if strings.Contains(out, "123456") {
		t.Errorf("the answer was written: %q", out)
	}
	l.Stop()
}

func TestProgressChoosesTheRenderer(t *testing.T) {
	env := func(kv ...string) func(string) (string, bool) {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	for _, tc := range []struct {
		name string
		o    ProgressOptions
		want string
	}{
		{"auto on a pipe is plain", ProgressOptions{Mode: "auto", Getenv: env("TERM", "xterm")}, ProgressPlain},
		{"tty asked for draws on a pipe", ProgressOptions{Mode: "tty", Getenv: env("TERM", "xterm")}, ProgressTTY},
		{"tty on a dumb terminal is plain", ProgressOptions{Mode: "tty", Getenv: env("TERM", "dumb")}, ProgressPlain},
		{"tty with NO_COLOR is plain", ProgressOptions{Mode: "tty", Getenv: env("TERM", "xterm", "NO_COLOR", "")}, ProgressPlain},
		{"tty on a tiny terminal is plain", ProgressOptions{Mode: "tty", Getenv: env("TERM", "xterm", "COLUMNS", "30")}, ProgressPlain},
		{"json", ProgressOptions{Mode: "json", Getenv: env()}, ProgressJSON},
		{"plain", ProgressOptions{Mode: "plain", Getenv: env("TERM", "xterm")}, ProgressPlain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			p := NewProgress(NewConsole(nil, &buf, &buf), tc.o)
			defer p.Close()
			if p.Mode != tc.want {
				t.Errorf("mode = %s, want %s", p.Mode, tc.want)
			}
			if p.Resources != (tc.want == ProgressTTY) {
				t.Errorf("resources = %v", p.Resources)
			}
		})
	}
	if err := CheckProgress("fancy"); err == nil {
		t.Error("CheckProgress accepted fancy")
	}
}

// TestPlainHasNoControlCodes: the CI renderer writes no escape sequence.
func TestPlainHasNoControlCodes(t *testing.T) {
	var buf bytes.Buffer
	c := NewConsole(nil, &buf, &buf)
	p := NewProgress(c, ProgressOptions{Mode: "auto", Tail: true, Getenv: func(string) (string, bool) { return "", false }})
	for _, e := range sampleBuild() {
		p.Sink.Emit(e)
	}
	p.Close()
	if strings.ContainsAny(buf.String(), "\033\r") {
		t.Errorf("control codes in plain output:\n%q", buf.String())
	}
	if !strings.Contains(buf.String(), "Summary: build of 5 stacks in 40.5s") {
		t.Errorf("no summary:\n%s", buf.String())
	}
}
