package cfn

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/stacker-go/stacker/blueprint"
	"github.com/stacker-go/stacker/internal/engine"
	"github.com/stacker-go/stacker/internal/event"
)

// scriptedPerson answers the questions in order; past the script, Ask
// returns err (or the context's error).
type scriptedPerson struct {
	answers []string
	err     error
	cancel  context.CancelFunc // called when asked past the script
	printed strings.Builder
	asked   []string
}

func (c *scriptedPerson) Print(s string) { c.printed.WriteString(s) }

func (c *scriptedPerson) Ask(ctx context.Context, q string) (string, error) {
	c.asked = append(c.asked, q)
	c.printed.WriteString(q)
	if len(c.answers) == 0 {
		if c.cancel != nil {
			c.cancel()
			<-ctx.Done()
			return "", ctx.Err()
		}
		return "", c.err
	}
	a := c.answers[0]
	c.answers = c.answers[1:]
	return a, nil
}

func (c *scriptedPerson) converse() Converse {
	return func(ctx context.Context, talk func(Conversation) error) error { return talk(c) }
}

var (
	inPlace = types.Change{Type: types.ChangeTypeResource, ResourceChange: &types.ResourceChange{
		Action: types.ChangeActionModify, LogicalResourceId: aws.String("Topic"), ResourceType: aws.String("AWS::SNS::Topic"), Replacement: types.ReplacementFalse}}
	replacing = types.Change{Type: types.ChangeTypeResource, ResourceChange: &types.ResourceChange{
		Action: types.ChangeActionModify, LogicalResourceId: aws.String("Queue"), ResourceType: aws.String("AWS::SQS::Queue"), Replacement: types.ReplacementTrue}}
)

// existing is a complete stack whose Cidr the build changes.
func existing(f *fakeCFN) {
	f.put("ns-vpc", "CREATE_COMPLETE", func(s *fakeStack) {
		s.params["Cidr"] = "10.0.0.0/8"
		s.outputs["Out"] = "old"
		s.tags = map[string]string{"stacker_namespace": "ns"}
	})
}

func TestLaunchApproval(t *testing.T) {
	executed := []string{"submitted (updating existing stack)", "complete (updating existing stack)"}
	for _, tc := range []struct {
		name     string
		setup    func(f *fakeCFN)
		spec     func(s *LaunchSpec)
		person   *scriptedPerson // nil: no terminal
		want     []string
		calls    []string
		asked    []string
		printed  []string // in the conversation, in order
		notShown []string
		logHas   string
	}{
		{name: "y executes", person: &scriptedPerson{answers: []string{"y"}}, want: executed,
			calls:   []string{"CreateChangeSet", "ExecuteChangeSet"},
			asked:   []string{QuestionExecute},
			printed: []string{"ns-vpc changes:\nParameters Modified: Cidr\nReplacements:\n- Modify Queue (AWS::SQS::Queue)\n", QuestionExecute}},
		{name: "Y is y", person: &scriptedPerson{answers: []string{"Y"}}, want: executed, calls: []string{"CreateChangeSet", "ExecuteChangeSet"}},
		{name: "n cancels and deletes the change set", person: &scriptedPerson{answers: []string{"n"}},
			want: []string{"skipped (canceled execution)"}, calls: []string{"CreateChangeSet", "DeleteChangeSet"}, asked: []string{QuestionExecute}},
		{name: "anything but y cancels", person: &scriptedPerson{answers: []string{"yes"}},
			want: []string{"skipped (canceled execution)"}, calls: []string{"CreateChangeSet", "DeleteChangeSet"}},
		{name: "v shows the full change set and asks again", person: &scriptedPerson{answers: []string{"v", "y"}}, want: executed,
			calls:   []string{"CreateChangeSet", "ExecuteChangeSet"},
			asked:   []string{QuestionExecute, QuestionExecuteNoVerbs},
			printed: []string{QuestionExecute, "ns-vpc full changeset:\n\n--- Old Parameters\n+++ New Parameters\n******************\n-Cidr = 10.0.0.0/8\n+Cidr = 10.0.0.0/16\n\n- ResourceChange:", QuestionExecuteNoVerbs}},
		{name: "v then n cancels", person: &scriptedPerson{answers: []string{"v", "n"}},
			want: []string{"skipped (canceled execution)"}, calls: []string{"CreateChangeSet", "DeleteChangeSet"}},
		{name: "no change: nochange, nothing asked", setup: func(f *fakeCFN) { existing(f); f.csFailed = "The submitted information didn't contain changes." },
			person: &scriptedPerson{}, want: []string{"skipped (nochange)"}, calls: []string{"CreateChangeSet", "DeleteChangeSet"}},
		{name: "a failed change set is deleted", setup: func(f *fakeCFN) { existing(f); f.csFailed = "Template error: bad" },
			person: &scriptedPerson{}, want: []string{"failed (change set failed: Template error: bad)"}, calls: []string{"CreateChangeSet", "DeleteChangeSet"}},
		{name: "no terminal: failed, change set deleted", want: []string{"failed (stack vpc (ns-vpc) would be changed only after approval (-i/--interactive), and there is no terminal to ask on: review the plan (stacker diff), then approve with --approve NAME (repeatable) or --approve all)"},
			calls: []string{"CreateChangeSet", "DeleteChangeSet"}},
		{name: "--approve executes without asking", spec: func(s *LaunchSpec) { s.Approved = true }, want: executed,
			calls: []string{"CreateChangeSet", "ExecuteChangeSet"}, logHas: "ns-vpc: approved with --approve, not asked"},
		{name: "replacements-only: nothing to ask, executed", setup: func(f *fakeCFN) { existing(f); f.csPages = [][]types.Change{{inPlace}} },
			spec:   func(s *LaunchSpec) { s.ReplacementsOnly = true; s.Deps.Prepare = sameParams },
			person: &scriptedPerson{}, want: executed, calls: []string{"CreateChangeSet", "ExecuteChangeSet"}, asked: []string{}},
		{name: "replacements-only: a replacement is asked about", setup: func(f *fakeCFN) { existing(f); f.csPages = [][]types.Change{{inPlace, replacing}} },
			spec:   func(s *LaunchSpec) { s.ReplacementsOnly = true; s.Deps.Prepare = sameParams },
			person: &scriptedPerson{answers: []string{"n"}}, want: []string{"skipped (canceled execution)"},
			printed: []string{"ns-vpc replacements:\n- Modify Queue (AWS::SQS::Queue)\n" + QuestionExecute}, notShown: []string{"Topic"}},
		{name: "every page of changes is shown", setup: func(f *fakeCFN) { existing(f); f.csPages = [][]types.Change{{inPlace}, {replacing}} },
			person: &scriptedPerson{answers: []string{"y"}}, want: executed,
			printed: []string{"Replacements:\n- Modify Queue (AWS::SQS::Queue)\nChanges:\n- Modify Topic (AWS::SNS::Topic)\n"}},
		{name: "stack policy and termination protection only after the approval", spec: func(s *LaunchSpec) {
			s.TerminationProtection = true
			s.Deps.Prepare = func(ctx context.Context) (*Request, error) {
				return &Request{TemplateBody: "{}", StackPolicy: `{"Statement":[]}`, Declared: []blueprint.Parameter{{Name: "Cidr"}}, Values: map[string]string{"Cidr": "1"}}, nil
			}
		}, person: &scriptedPerson{answers: []string{"y"}}, want: executed,
			calls: []string{"CreateChangeSet", "SetStackPolicy", "UpdateTerminationProtection", "ExecuteChangeSet"}},
		{name: "refused: termination protection untouched", spec: func(s *LaunchSpec) { s.TerminationProtection = true },
			person: &scriptedPerson{answers: []string{"n"}}, want: []string{"skipped (canceled execution)"}, calls: []string{"CreateChangeSet", "DeleteChangeSet"}},
		{name: "NoEcho values never printed", spec: func(s *LaunchSpec) {
			s.Deps.Prepare = func(ctx context.Context) (*Request, error) {
				return &Request{TemplateBody: "{}", Declared: []blueprint.Parameter{{Name: "Cidr"}, {Name: "Password", NoEcho: true}},
					Values: map[string]string{"Cidr": "10.0.0.0/16", "Password": "hunter2-very-secret"}}, nil
			}
		}, person: &scriptedPerson{answers: []string{"v", "y"}}, want: executed, printed: []string{"+Password = ****"}, notShown: []string{"hunter2"}},
		{name: "a new stack is created without asking", setup: func(f *fakeCFN) {}, person: &scriptedPerson{},
			want: []string{"submitted (creating new stack)", "complete (creating new stack)"}, calls: []string{"CreateStack"}, asked: []string{}},
		{name: "failed state: re-creation asked, n", setup: func(f *fakeCFN) {
			f.put("ns-vpc", "ROLLBACK_COMPLETE", withTags(map[string]string{"stacker_namespace": "ns"}))
		}, spec: func(s *LaunchSpec) { s.RecreateFailed = true }, person: &scriptedPerson{answers: []string{"n"}},
			want: []string{"skipped (canceled execution)"}, calls: []string{}, asked: []string{QuestionExecuteNoVerbs},
			printed: []string{"The \"ns-vpc\" stack is in a failed state (ROLLBACK_COMPLETE).\nIt cannot be updated, but it can be deleted and re-created.\nAll its current resources will IRREVERSIBLY DESTROYED.\nProceed carefully!\n\n" + QuestionExecuteNoVerbs}},
		{name: "failed state: re-creation asked, y", setup: func(f *fakeCFN) {
			f.put("ns-vpc", "ROLLBACK_COMPLETE", withTags(map[string]string{"stacker_namespace": "ns"}))
		}, spec: func(s *LaunchSpec) { s.RecreateFailed = true }, person: &scriptedPerson{answers: []string{"y"}},
			want:  []string{"submitted (destroying stack for re-creation)", "submitted (re-creating stack)", "complete (re-creating stack)"},
			calls: []string{"DeleteStack", "CreateStack"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			if tc.setup != nil {
				tc.setup(f)
			} else {
				existing(f)
			}
			s := baseSpec()
			s.Interactive = true
			var logs []string
			s.Deps.Events = event.SinkFunc(func(e event.Event) { logs = append(logs, logLine(e)) })
			if tc.person != nil {
				s.Deps.Converse = tc.person.converse()
			}
			if tc.spec != nil {
				tc.spec(s)
			}
			p := New(f, Options{Sleep: noSleep, Now: fixedNow})
			var got []string
			o := p.Launch(context.Background(), s, func(st engine.Status) { got = append(got, line(st)) })
			got = append(got, line(o.Status))
			if !slices.Equal(got, tc.want) {
				t.Errorf("statuses:\n got %q\nwant %q", got, tc.want)
			}
			if tc.calls != nil {
				if muts := mutations(f); !slices.Equal(muts, tc.calls) {
					t.Errorf("mutating calls: got %q want %q", muts, tc.calls)
				}
			}
			var printed string
			if tc.person != nil {
				printed = tc.person.printed.String()
				if tc.asked != nil && !slices.Equal(tc.person.asked, tc.asked) && !(len(tc.asked) == 0 && len(tc.person.asked) == 0) {
					t.Errorf("asked %q, want %q", tc.person.asked, tc.asked)
				}
			}
			at := 0
			for _, w := range tc.printed {
				i := strings.Index(printed[at:], w)
				if i < 0 {
					t.Errorf("conversation lacks %q (in order):\n%s", w, printed)
					break
				}
				at += i + len(w)
			}
			for _, w := range tc.notShown {
				if strings.Contains(printed+strings.Join(logs, "\n"), w) {
					t.Errorf("%q shown:\n%s", w, printed)
				}
			}
			if tc.logHas != "" && !strings.Contains(strings.Join(logs, "\n"), tc.logHas) {
				t.Errorf("logs %q lack %q", logs, tc.logHas)
			}
			if o.Status.Reason == ReasonCanceled && !strings.HasPrefix(tc.name, "failed state") && o.Outputs["Out"] != "old" {
				t.Errorf("canceled: outputs %v, want the stack's", o.Outputs)
			}
		})
	}
}

// sameParams sends the stack's current parameters (no parameter diff).
func sameParams(ctx context.Context) (*Request, error) {
	return &Request{TemplateBody: "{}", Declared: []blueprint.Parameter{{Name: "Cidr"}}, Values: map[string]string{"Cidr": "10.0.0.0/8"}}, nil
}

func mutations(f *fakeCFN) []string {
	muts := []string{}
	for _, c := range f.calls {
		if !strings.HasPrefix(c, "Describe") {
			muts = append(muts, c)
		}
	}
	return muts
}

// TestLaunchInterruptedAtTheQuestion: Ctrl-C while the question waits
// fails the stack as interrupted and deletes the change set on a context
// that is not cancelled.
func TestLaunchInterruptedAtTheQuestion(t *testing.T) {
	f := newFake()
	existing(f)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	person := &scriptedPerson{cancel: cancel}
	s := baseSpec()
	s.Interactive = true
	s.Deps.Converse = person.converse()
	p := New(f, Options{Sleep: noSleep, Now: fixedNow})
	o := p.Launch(ctx, s, func(engine.Status) {})
	if o.Status.State != engine.Failed || o.Status.Reason != engine.ReasonInterrupted || !errors.Is(o.Status.Err, context.Canceled) {
		t.Fatalf("outcome %+v", o.Status)
	}
	if muts := mutations(f); !slices.Equal(muts, []string{"CreateChangeSet", "DeleteChangeSet"}) {
		t.Fatalf("calls %q: the change set must be deleted", muts)
	}
	if st := f.find("ns-vpc"); st.status != "CREATE_COMPLETE" {
		t.Errorf("stack status %s", st.status)
	}
}
