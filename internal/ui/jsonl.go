package ui

import (
	"encoding/json"
	"io"
	"sync"
	"time"

	"github.com/stacker-go/stacker/internal/event"
)

// JSONSchemaVersion is the "v" of every JSON progress object; it changes
// only when a field is removed or changes meaning (docs/progress-json.md).
const JSONSchemaVersion = 1

// JSON is the json renderer: one JSON object per line on W for each
// event (docs/progress-json.md, schema docs/progress-json.schema.json).
// Resource events are written only with Tail; prompts (MFA codes) are
// written when they are asked, never their answers; run_finished carries
// the summary.
type JSON struct {
	W    io.Writer
	Tail bool

	mu  sync.Mutex
	rec *RunRecord
}

// NewJSON returns the json renderer writing to w, and registers it with c
// so prompts are reported.
func NewJSON(c *Console, w io.Writer, tail bool) *JSON {
	j := &JSON{W: w, Tail: tail, rec: NewRunRecord()}
	if c != nil {
		c.mu.Lock()
		c.onPrompt = j.prompt
		c.mu.Unlock()
	}
	return j
}

type jsonStack struct {
	Name    string `json:"name"`
	FQN     string `json:"fqn,omitempty"`
	Profile string `json:"profile,omitempty"`
	Account string `json:"account,omitempty"`
	Region  string `json:"region,omitempty"`
}

func toJSONStack(s event.Stack) jsonStack {
	return jsonStack{Name: s.Name, FQN: s.FQN, Profile: s.Target.Profile, Account: s.Target.Account, Region: s.Target.Region}
}

type jsonPlanned struct {
	jsonStack
	Deps []string `json:"deps"`
}

type jsonResource struct {
	EventTime    *time.Time `json:"event_time,omitempty"`
	LogicalID    string     `json:"logical_id"`
	ResourceType string     `json:"resource_type,omitempty"`
	Status       string     `json:"status,omitempty"`
	Reason       string     `json:"reason,omitempty"`
}

type jsonFinal struct {
	jsonStack
	State       string        `json:"state"`
	Reason      string        `json:"reason,omitempty"`
	Outcome     string        `json:"outcome"`
	Seconds     float64       `json:"duration_seconds"`
	Failure     string        `json:"failure,omitempty"`
	FirstFailed *jsonResource `json:"first_failed,omitempty"`
}

type jsonChanging struct {
	Stack     jsonStack `json:"stack"`
	CFNStatus string    `json:"cfn_status,omitempty"`
}

// jsonEvent is every field any type uses; each type fills its own.
type jsonEvent struct {
	V    int       `json:"v"`
	Type string    `json:"type"`
	Time time.Time `json:"time"`

	Action      string        `json:"action,omitempty"`
	MaxParallel *int          `json:"max_parallel,omitempty"`
	Plan        []jsonPlanned `json:"stacks_planned,omitzero"`
	Stack       *jsonStack    `json:"stack,omitempty"`

	State     string `json:"state,omitempty"`
	Reason    string `json:"reason,omitempty"`
	Outcome   string `json:"outcome,omitempty"`
	CFNStatus string `json:"cfn_status,omitempty"`
	Error     string `json:"error,omitempty"`

	EventTime    *time.Time `json:"event_time,omitempty"`
	EventID      string     `json:"event_id,omitempty"`
	LogicalID    string     `json:"logical_id,omitempty"`
	PhysicalID   string     `json:"physical_id,omitempty"`
	ResourceType string     `json:"resource_type,omitempty"`
	Status       string     `json:"status,omitempty"`
	StackLevel   *bool      `json:"stack_level,omitempty"`

	Kind     string        `json:"kind,omitempty"`
	Resource *jsonResource `json:"resource,omitempty"`
	Text     string        `json:"text,omitempty"`
	Label    string        `json:"label,omitempty"`
	Secret   *bool         `json:"secret,omitempty"`

	Changing []jsonChanging `json:"changing,omitzero"`
	NextRun  string         `json:"next_run,omitempty"`

	Seconds      *float64       `json:"duration_seconds,omitempty"`
	Counts       map[string]int `json:"counts,omitzero"`
	Stacks       []jsonFinal    `json:"stacks,omitzero"`
	Slowest      []string       `json:"slowest,omitzero"`
	CriticalPath []string       `json:"critical_path,omitzero"`
}

func resourceJSON(f event.FailedResource) *jsonResource {
	if f.LogicalID == "" {
		return nil
	}
	r := &jsonResource{LogicalID: f.LogicalID, ResourceType: f.ResourceType, Status: f.Status, Reason: f.Reason}
	if !f.EventTime.IsZero() {
		t := f.EventTime.UTC()
		r.EventTime = &t
	}
	return r
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func seconds(d time.Duration) float64 { return float64(d.Milliseconds()) / 1000 }

// Emit implements event.Sink.
func (j *JSON) Emit(e event.Event) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.rec.Apply(e)
	out := jsonEvent{V: JSONSchemaVersion, Time: e.When().UTC()}
	stack := func(s event.Stack) *jsonStack { js := toJSONStack(s); return &js }
	switch e := e.(type) {
	case event.RunStarted:
		out.Type, out.Action = "run_started", string(e.Action)
		mp := e.MaxParallel
		out.MaxParallel = &mp
		out.Plan = []jsonPlanned{}
		for _, p := range e.Stacks {
			deps := p.Deps
			if deps == nil {
				deps = []string{}
			}
			out.Plan = append(out.Plan, jsonPlanned{jsonStack: toJSONStack(p.Stack), Deps: deps})
		}
	case event.StackStarted:
		out.Type, out.Stack = "stack_started", stack(e.Stack)
	case event.StackStatus:
		out.Type, out.Stack = "stack_status", stack(e.Stack)
		out.State, out.Reason, out.Outcome, out.CFNStatus, out.Error = e.State.String(), e.Reason, string(e.Outcome), e.CFNStatus, errText(e.Err)
		if out.Error == out.Reason {
			out.Error = ""
		}
	case event.ResourceEvent:
		if !j.Tail {
			return
		}
		out.Type, out.Stack = "resource_event", stack(e.Stack)
		et := e.EventTime.UTC()
		sl := e.StackLevel
		out.EventTime, out.EventID, out.LogicalID, out.PhysicalID = &et, e.EventID, e.LogicalID, e.PhysicalID
		out.ResourceType, out.Status, out.Reason, out.StackLevel = e.ResourceType, e.Status, e.Reason, &sl
	case event.FailureReason:
		out.Type, out.Stack, out.Reason = "failure_reason", stack(e.Stack), e.Reason
		out.Kind = "rollback"
		if e.Kind == event.DeleteFailed {
			out.Kind = "delete_failed"
		}
		out.Resource = resourceJSON(e.Resource)
	case event.Message:
		out.Type, out.Text = "message", e.Text
		if e.Stack.Name != "" {
			out.Stack = stack(e.Stack)
		}
	case event.Interrupted:
		out.Type, out.NextRun = "interrupted", e.NextRun
		out.Changing = []jsonChanging{}
		for _, c := range e.Changing {
			out.Changing = append(out.Changing, jsonChanging{Stack: toJSONStack(c.Stack), CFNStatus: c.CFNStatus})
		}
	case event.RunFinished:
		out.Type, out.Action, out.Error = "run_finished", string(e.Action), errText(e.Err)
		j.summary(&out)
	default:
		return
	}
	j.write(out)
}

// summary fills run_finished's summary fields from the record.
func (j *JSON) summary(out *jsonEvent) {
	r := j.rec
	s := seconds(r.Duration(r.Finished))
	out.Seconds = &s
	out.Counts = map[string]int{}
	for _, o := range event.Outcomes {
		out.Counts[string(o)] = 0
	}
	for o, n := range r.Counts() {
		out.Counts[string(o)] = n
	}
	out.Stacks = []jsonFinal{}
	for _, st := range r.Stacks {
		o := st.Outcome
		if o == "" {
			o = event.OutcomeCancelled
		}
		out.Stacks = append(out.Stacks, jsonFinal{jsonStack: toJSONStack(st.Stack), State: st.State.String(), Reason: st.Reason,
			Outcome: string(o), Seconds: seconds(st.Duration(r.Finished)), Failure: st.Failure, FirstFailed: resourceJSON(st.FirstFailed)})
	}
	out.Slowest = []string{}
	for _, st := range r.Slowest(SlowestShown, r.Finished) {
		out.Slowest = append(out.Slowest, st.Name)
	}
	out.CriticalPath = r.CriticalPath()
	if out.CriticalPath == nil {
		out.CriticalPath = []string{}
	}
}

func (j *JSON) write(v jsonEvent) {
	b, err := json.Marshal(v)
	if err != nil {
		return // every field is a plain value; cannot happen
	}
	j.W.Write(append(b, '\n'))
}

// prompt reports a question asked on the console (never its answer).
func (j *JSON) prompt(t time.Time, label string, secret bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.write(jsonEvent{V: JSONSchemaVersion, Type: "prompt", Time: t.UTC(), Label: label, Secret: &secret})
}
