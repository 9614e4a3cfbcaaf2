package ui_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stacker-go/stacker/internal/event"
	"github.com/stacker-go/stacker/internal/ui"
	"github.com/stacker-go/stacker/internal/ui/uitest"
)

var t0 = time.Date(2026, 11, 24, 1, 0, 0, 0, time.UTC)

func jsonRun(t *testing.T, tail bool, evs []event.Event, prompt bool) []byte {
	t.Helper()
	var out, errOut bytes.Buffer
	c := ui.NewConsole(strings.NewReader("123456\n"), &out, &errOut)
	c.Clock = func() time.Time { return t0 }
	p := ui.NewProgress(c, ui.ProgressOptions{Mode: "json", Tail: tail})
	for i, e := range evs {
		p.Sink.Emit(e)
		if prompt && i == 0 {
			if _, err := c.Prompt("Enter MFA code for arn:aws:iam::111111111111:mfa/admin (profile master): ", true, true); err != nil {
				t.Fatal(err)
			}
		}
	}
	p.Close()
	if errOut.Len() > 0 && !prompt {
		t.Errorf("json wrote on stderr: %q", errOut.String())
	}
	return out.Bytes()
}

// TestJSONStreamMatchesItsSchema validates every line of the sample runs
// against docs/progress-json.schema.json, with and without --tail.
func TestJSONStreamMatchesItsSchema(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tail   bool
		evs    []event.Event
		prompt bool
	}{
		{"build with tail and a prompt", true, ui.SampleBuild(), true},
		{"build", false, ui.SampleBuild(), false},
		{"interrupted destroy", false, ui.SampleInterrupted(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := jsonRun(t, tc.tail, tc.evs, tc.prompt)
			types, err := uitest.ValidateJSONLines(out)
			if err != nil {
				t.Fatal(err)
			}
			if types[0] != "run_started" || types[len(types)-1] != "run_finished" {
				t.Errorf("types = %v", types)
			}
			if got := strings.Count(strings.Join(types, " "), "resource_event"); (got > 0) != tc.tail {
				t.Errorf("%d resource events with tail=%v", got, tc.tail)
			}
			if strings.Contains(string(out), "123456") {
				t.Error("the prompt's answer is in the stream")
			}
		})
	}
}

func TestJSONGolden(t *testing.T) {
	out := jsonRun(t, true, ui.SampleBuild(), true)
	ui.Golden(t, "progress-build.jsonl.golden", out)
	// The summary object's figures are the run's.
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	var last struct {
		Counts  map[string]int
		Seconds float64 `json:"duration_seconds"`
	}
	if err := json.Unmarshal(lines[len(lines)-1], &last); err != nil {
		t.Fatal(err)
	}
	if last.Counts["created"] != 1 || last.Counts["failed"] != 2 || last.Seconds != 40.5 {
		t.Errorf("summary = %+v", last)
	}
}

// TestSchemaRejectsWhatItShould: the validator is not vacuous.
func TestSchemaRejectsWhatItShould(t *testing.T) {
	for _, bad := range []string{
		`{"v":1,"type":"stack_status","time":"2026-11-24T01:00:00Z"}`,
		`{"v":1,"type":"stack_status","time":"2026-11-24T01:00:00Z","stack":{"name":"a"},"state":"flying"}`,
		`{"v":2,"type":"message","time":"2026-11-24T01:00:00Z","text":"x"}`,
		`{"v":1,"type":"message","time":"yesterday","text":"x"}`,
		`not json`,
	} {
		if _, err := uitest.ValidateJSONLines([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}
