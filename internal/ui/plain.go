package ui

import (
	"fmt"
	"time"

	"github.com/stacker-go/stacker/internal/event"
)

// Plain renders events as stacker's plain lines on the console's ErrOut:
//
//	[<time>] vpc: submitted (creating new stack)
//	[<time>] [db] 2026-11-24T01:14:04Z Queue AWS::SQS::Queue CREATE_FAILED bad name
//	[<time>] ns-db Stack Roll Back Reason: Queue: bad name
//
// It is the renderer for logs, CI and pipes (and stacker's own output
// shape, byte for byte). RunStarted and RunFinished print nothing.
type Plain struct {
	Console *Console
}

// NewPlain returns the plain renderer over c.
func NewPlain(c *Console) *Plain { return &Plain{Console: c} }

// Emit implements event.Sink.
func (p *Plain) Emit(e event.Event) {
	c := p.Console
	line := c.plainLine(e)
	if line == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.write(c.ErrOut, line)
}

// plainLine is the plain text of an event ("" for events Plain does not
// print).
func (c *Console) plainLine(e event.Event) string {
	t := e.When()
	if t.IsZero() || c.Clock != nil {
		t = c.now()
	}
	var line string
	switch e := e.(type) {
	case event.StackStatus:
		line = FormatStatusLine(t, e.Name, e.State.String(), e.Reason, c.colourOn())
	case event.ResourceEvent:
		line = FormatEvent(t, Event{Stack: e.Name, Time: e.EventTime, LogicalID: e.LogicalID, ResourceType: e.ResourceType, Status: e.Status, Reason: e.Reason})
	case event.FailureReason:
		switch e.Kind {
		case event.DeleteFailed:
			line = formatLine(t, fmt.Sprintf("%s delete failed: %s", e.FQN, e.Reason), "", false)
		default:
			line = formatLine(t, fmt.Sprintf("%s Stack Roll Back Reason: %s", e.FQN, e.Reason), "", false)
		}
	case event.Message:
		line = formatLine(t, e.Text, "", false)
	case event.Interrupted:
		line = formatInterrupted(t, e)
	}
	return line
}

func formatInterrupted(t time.Time, e event.Interrupted) string {
	if len(e.Changing) == 0 {
		return formatLine(t, "Interrupted: no stack is still changing in CloudFormation", "", false)
	}
	var s string
	for _, ch := range e.Changing {
		msg := fmt.Sprintf("Interrupted: %s (%s) is still changing in CloudFormation, last status %s", ch.Name, ch.FQN, ch.CFNStatus)
		if e.NextRun != "" {
			msg += "; " + e.NextRun
		}
		s += formatLine(t, msg, "", false)
	}
	return s
}
