package ui

import (
	"bytes"
	"testing"
	"time"

	"github.com/stacker-go/stacker/internal/event"
)

func record(evs []event.Event) *RunRecord {
	r := NewRunRecord()
	for _, e := range evs {
		r.Apply(e)
	}
	return r
}

func TestSummaryGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		evs  []event.Event
	}{
		{"summary-build.golden", sampleBuild()},
		{"summary-interrupted.golden", sampleInterrupted()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			s := NewSummary(NewConsole(nil, &buf, &buf))
			for _, e := range tc.evs {
				s.Emit(e)
			}
			golden(t, tc.name, buf.Bytes())
		})
	}
}

func TestSummaryFiguresMatchTheEvents(t *testing.T) {
	r := record(sampleBuild())
	got := r.Counts()
	want := map[event.Outcome]int{event.OutcomeCreated: 1, event.OutcomeUpdated: 1, event.OutcomeUnchanged: 1, event.OutcomeFailed: 2}
	if len(got) != len(want) {
		t.Fatalf("counts = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %d, want %d", k, got[k], v)
		}
	}
	if d := r.Duration(time.Time{}); d != 40500*time.Millisecond {
		t.Errorf("wall time = %v", d)
	}
	if d := r.Stack("prod-vpc").Duration(time.Time{}); d != 21*time.Second {
		t.Errorf("prod-vpc took %v, want 21s", d)
	}
	if p := r.CriticalPath(); len(p) != 2 || p[0] != "prod-vpc" || p[1] != "db" {
		t.Errorf("critical path = %v", p)
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0.0s", 400 * time.Millisecond: "0.4s", 48 * time.Second: "48.0s",
		72 * time.Second: "1m12s", 3725 * time.Second: "1h02m05s", -time.Second: "0.0s",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
