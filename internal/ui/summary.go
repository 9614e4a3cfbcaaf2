package ui

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/stacker-go/stacker/internal/event"
)

// SlowestShown is how many of the slowest stacks a summary lists.
const SlowestShown = 3

// FormatSummary renders the end-of-run summary of a finished run:
//
//	Summary: build of 5 stacks in 1m12s: 2 created, 1 updated, 1 unchanged, 1 failed
//	Slowest: app 48.0s, vpc 20.1s, db 12.5s
//	Failed: db (ns-db in prod 222222222222 eu-west-1): rolled back new stack
//	  first failed resource: Queue AWS::SQS::Queue CREATE_FAILED at 2026-11-24T01:14:04Z: bad name
//
// Counts are by outcome, in event.Outcomes order, zero counts left out.
// Stacks come by config name; the CloudFormation name and target follow in
// parentheses so prod/vpc and stage/vpc are told apart.
func FormatSummary(r *RunRecord) string {
	var b strings.Builder
	counts := r.Counts()
	var parts []string
	for _, o := range event.Outcomes {
		if n := counts[o]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, o))
		}
	}
	n := len(r.Stacks)
	noun := "stacks"
	if n == 1 {
		noun = "stack"
	}
	action := string(r.Action)
	if action == "" {
		action = "run"
	}
	fmt.Fprintf(&b, "Summary: %s of %d %s in %s", action, n, noun, FormatDuration(r.Duration(r.Finished)))
	if len(parts) > 0 {
		b.WriteString(": " + strings.Join(parts, ", "))
	}
	b.WriteByte('\n')
	if slow := r.Slowest(SlowestShown, r.Finished); len(slow) > 0 {
		var s []string
		for _, st := range slow {
			s = append(s, st.Name+" "+FormatDuration(st.Duration(r.Finished)))
		}
		b.WriteString("Slowest: " + strings.Join(s, ", ") + "\n")
	}
	for _, st := range r.Stacks {
		if st.Outcome != event.OutcomeFailed {
			continue
		}
		fmt.Fprintf(&b, "Failed: %s (%s): %s\n", st.Name, stackWhere(st.Stack), failedReason(st))
		if f := st.FirstFailed; f.LogicalID != "" {
			b.WriteString("  first failed resource: " + f.LogicalID)
			for _, s := range []string{f.ResourceType, f.Status} {
				if s != "" {
					b.WriteString(" " + s)
				}
			}
			if !f.EventTime.IsZero() {
				b.WriteString(" at " + f.EventTime.UTC().Format("2006-01-02T15:04:05Z"))
			}
			if f.Reason != "" {
				b.WriteString(": " + oneLine(f.Reason))
			}
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// failedReason is why a stack failed: its status reason, with the
// CloudFormation root cause when there is one and it says more.
func failedReason(st *StackRecord) string {
	reason := oneLine(st.Reason)
	if st.Failure != "" && !strings.Contains(reason, st.Failure) {
		reason += ": " + oneLine(st.Failure)
	}
	return reason
}

// stackWhere is "ns-db in prod 222222222222 eu-west-1".
func stackWhere(s event.Stack) string {
	where := TargetLabel(s.Target)
	if s.FQN == "" {
		return where
	}
	return s.FQN + " in " + where
}

// oneLine keeps the first line of a multi-line reason (a hint follows on
// the next lines of some errors; the status line above printed it whole).
func oneLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}

// FormatDuration prints a duration for people: tenths of a second under a
// minute ("0.4s", "48.0s"), then minutes and whole seconds ("1m12s").
func FormatDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	d = d.Round(time.Second)
	if d < time.Hour {
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm%02ds", int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60)
}

// Summary is a Sink that records the run and, when it finishes, prints
// FormatSummary on the console's ErrOut, after the status lines.
type Summary struct {
	Console *Console
	mu      sync.Mutex
	rec     *RunRecord
}

// NewSummary returns a Summary over c.
func NewSummary(c *Console) *Summary { return &Summary{Console: c, rec: NewRunRecord()} }

// Emit implements event.Sink.
func (s *Summary) Emit(e event.Event) {
	s.mu.Lock()
	s.rec.Apply(e)
	var out string
	if _, ok := e.(event.RunFinished); ok {
		out = FormatSummary(s.rec)
	}
	s.mu.Unlock()
	if out != "" {
		s.Console.mu.Lock()
		defer s.Console.mu.Unlock()
		s.Console.write(s.Console.ErrOut, out)
	}
}
