package ui

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"
)

// TimeLayout is the status-line timestamp: stacker's shape
// (%Y-%m-%dT%H:%M:%S) plus the zone offset, so lines from different
// machines and CI logs compare (stacker printed local time without a zone).
const TimeLayout = "2006-01-02T15:04:05Z07:00"

// ANSI colours of stacker's "color" log format, by status name.
var statusColour = map[string]string{
	"submitted": "33",
	"complete":  "32",
	"failed":    "31",
}

// FormatStatusLine renders one stacker status line:
//
//	[<time>] <name>: <status> (<reason>)
//
// The reason and its parentheses are omitted when reason is empty. With
// colour the message after the timestamp is wrapped in stacker's ANSI
// codes (yellow submitted, green complete, red failed, white otherwise).
func FormatStatusLine(t time.Time, name, status, reason string, colour bool) string {
	msg := name + ": " + status
	if reason != "" {
		msg += " (" + reason + ")"
	}
	return formatLine(t, msg, status, colour)
}

func formatLine(t time.Time, msg, status string, colour bool) string {
	ts := "[" + t.Format(TimeLayout) + "] "
	if !colour {
		return ts + msg + "\n"
	}
	c, ok := statusColour[status]
	if !ok {
		c = "37"
	}
	return ts + "\033[" + c + "m" + msg + "\033[39m\n"
}

// Event is one CloudFormation stack event printed by --tail.
type Event struct {
	Stack        string // config name of the stack
	Time         time.Time
	LogicalID    string
	ResourceType string
	Status       string
	Reason       string
}

// FormatEvent renders one tailed event:
//
//	[<now>] [<stack>] <event time> <LogicalId> <Type> <Status> <Reason>
//
// Empty fields are left out.
func FormatEvent(now time.Time, e Event) string {
	parts := []string{"[" + e.Stack + "]"}
	if !e.Time.IsZero() {
		parts = append(parts, e.Time.UTC().Format("2006-01-02T15:04:05Z"))
	}
	for _, s := range []string{e.LogicalID, e.ResourceType, e.Status, e.Reason} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	return "[" + now.Format(TimeLayout) + "] " + strings.Join(parts, " ") + "\n"
}

func (c *Console) now() time.Time {
	if c.Clock != nil {
		return c.Clock()
	}
	return time.Now()
}

// colourOn reports whether status lines are coloured: only when ErrOut
// (where they go) is a terminal and NO_COLOR is unset, unless Colour
// forces a choice.
func (c *Console) colourOn() bool {
	if c.Colour != nil {
		return *c.Colour
	}
	if _, ok := os.LookupEnv("NO_COLOR"); ok {
		return false
	}
	return isTerminal(c.ErrOut)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Status prints one stack status line to ErrOut.
func (c *Console) Status(name, status, reason string) {
	line := FormatStatusLine(c.now(), name, status, reason, c.colourOn())
	c.mu.Lock()
	defer c.mu.Unlock()
	c.write(c.ErrOut, line)
}

// Infof prints a timestamped informational line to ErrOut
// ("[<time>] message"), like stacker's INFO log lines.
func (c *Console) Infof(format string, args ...any) {
	line := formatLine(c.now(), fmt.Sprintf(format, args...), "", false)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.write(c.ErrOut, line)
}

// Event prints one tailed stack event to ErrOut.
func (c *Console) Event(e Event) {
	line := FormatEvent(c.now(), e)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.write(c.ErrOut, line)
}

// OutColour reports whether what goes to Out (a diff) is coloured: only
// when Out is a terminal and NO_COLOR is unset, unless Colour forces a
// choice.
func (c *Console) OutColour() bool {
	if c.Colour != nil {
		return *c.Colour
	}
	if _, ok := os.LookupEnv("NO_COLOR"); ok {
		return false
	}
	return isTerminal(c.Out)
}
