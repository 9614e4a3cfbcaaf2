package cfn

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stacker-go/stacker/blueprint"
	"github.com/stacker-go/stacker/internal/engine"
	"github.com/stacker-go/stacker/internal/event"
)

func noSleep(ctx context.Context, d time.Duration) error { return ctx.Err() }

func line(s engine.Status) string {
	if s.Reason == "" {
		return s.State.String()
	}
	return s.State.String() + " (" + s.Reason + ")"
}

type launchCase struct {
	name   string
	setup  func(f *fakeCFN)
	spec   func(s *LaunchSpec)
	want   []string // every status line, the final one last
	calls  []string // mutating calls expected, in order (nil: not checked)
	logHas string
	check  func(t *testing.T, f *fakeCFN, o Outcome)
}

func baseSpec() *LaunchSpec {
	return &LaunchSpec{
		Name: "vpc", FQN: "ns-vpc",
		Tags: map[string]string{"stacker_namespace": "ns"},
		Deps: StackDeps{Prepare: func(ctx context.Context) (*Request, error) {
			return &Request{TemplateBody: "{}", Declared: []blueprint.Parameter{{Name: "Cidr"}}, Values: map[string]string{"Cidr": "10.0.0.0/16"}}, nil
		}},
	}
}

// logLine is the text of an informational event, as the plain renderer
// words it.
func logLine(e event.Event) string {
	switch e := e.(type) {
	case event.Message:
		return e.Text
	case event.FailureReason:
		if e.Kind == event.DeleteFailed {
			return e.FQN + " delete failed: " + e.Reason
		}
		return e.FQN + " Stack Roll Back Reason: " + e.Reason
	}
	return fmt.Sprintf("%T", e)
}

func withTags(tags map[string]string) func(*fakeStack) {
	return func(s *fakeStack) { s.tags = tags }
}

func runLaunch(t *testing.T, tc launchCase) {
	t.Helper()
	f := newFake()
	if tc.setup != nil {
		tc.setup(f)
	}
	s := baseSpec()
	var logs []string
	s.Deps.Events = event.SinkFunc(func(e event.Event) { logs = append(logs, logLine(e)) })
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
		muts := mutations(f)
		if !slices.Equal(muts, tc.calls) {
			t.Errorf("mutating calls: got %q want %q", muts, tc.calls)
		}
	}
	if tc.logHas != "" && !strings.Contains(strings.Join(logs, "\n"), tc.logHas) {
		t.Errorf("logs %q lack %q", logs, tc.logHas)
	}
	if tc.check != nil {
		tc.check(t, f, o)
	}
}

// Every build row of stacker's status table (§6.6).
func TestLaunchStatuses(t *testing.T) {
	nsTags := map[string]string{"stacker_namespace": "ns"}
	cases := []launchCase{
		{name: "new stack is created", want: []string{"submitted (creating new stack)", "complete (creating new stack)"}, calls: []string{"CreateStack"},
			check: func(t *testing.T, f *fakeCFN, o Outcome) {
				if o.Outputs["Out"] != "ns-vpc-out" {
					t.Errorf("outputs %v", o.Outputs)
				}
				in := f.lastCreate
				if len(in.Capabilities) != 2 || aws.ToString(in.TemplateBody) != "{}" || aws.ToString(in.Tags[0].Key) != "stacker_namespace" {
					t.Errorf("create input %+v", in)
				}
			}},
		{name: "existing stack is updated", setup: func(f *fakeCFN) { f.put("ns-vpc", "CREATE_COMPLETE") },
			want: []string{"submitted (updating existing stack)", "complete (updating existing stack)"}, calls: []string{"UpdateStack"}},
		{name: "update after a rolled-back update", setup: func(f *fakeCFN) { f.put("ns-vpc", "UPDATE_ROLLBACK_COMPLETE") },
			want: []string{"submitted (updating existing stack)", "complete (updating existing stack)"}},
		{name: "no change", setup: func(f *fakeCFN) {
			f.put("ns-vpc", "UPDATE_COMPLETE", func(s *fakeStack) { s.outputs["VpcId"] = "vpc-1" })
			f.noChange = true
		}, want: []string{"skipped (nochange)"},
			check: func(t *testing.T, f *fakeCFN, o Outcome) {
				if o.Outputs["VpcId"] != "vpc-1" {
					t.Errorf("nochange must keep outputs, got %v", o.Outputs)
				}
			}},
		{name: "locked existing stack is skipped", setup: func(f *fakeCFN) { f.put("ns-vpc", "CREATE_COMPLETE") },
			spec: func(s *LaunchSpec) { s.Locked = true }, want: []string{"skipped (locked)"}, calls: []string{}},
		{name: "locked missing stack is created", spec: func(s *LaunchSpec) { s.Locked = true },
			want: []string{"submitted (creating new stack)", "complete (creating new stack)"}},
		{name: "locked stack forced is updated", setup: func(f *fakeCFN) { f.put("ns-vpc", "CREATE_COMPLETE") },
			spec: func(s *LaunchSpec) { s.Locked, s.Forced = true, true },
			want: []string{"submitted (updating existing stack)", "complete (updating existing stack)"}},
		{name: "new stack rolls back", setup: func(f *fakeCFN) {
			f.createSeq = []string{"CREATE_IN_PROGRESS", "ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE"}
			f.failureEvent = "Queue name is invalid"
		}, want: []string{"submitted (creating new stack)", "submitted (rolling back new stack)", "failed (rolled back new stack)"},
			logHas: "ns-vpc Stack Roll Back Reason: Queue: Queue name is invalid"},
		{name: "update rolls back", setup: func(f *fakeCFN) {
			f.put("ns-vpc", "CREATE_COMPLETE")
			f.updateSeq = []string{"UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE"}
			f.failureEvent = "Bucket exists"
		}, want: []string{"submitted (updating existing stack)", "submitted (rolling back update)", "failed (rolled back update)"},
			logHas: "Roll Back Reason: Queue: Bucket exists"},
		{name: "rollback seen only at the end", setup: func(f *fakeCFN) { f.createSeq = []string{"ROLLBACK_COMPLETE"} },
			want: []string{"submitted (creating new stack)", "failed (rolled back new stack)"}},
		{name: "create fails without rollback", setup: func(f *fakeCFN) { f.createSeq = []string{"CREATE_FAILED"} },
			want: []string{"submitted (creating new stack)", "failed (creating new stack)"}},
		{name: "failed stack without --recreate-failed", setup: func(f *fakeCFN) { f.put("ns-vpc", "ROLLBACK_COMPLETE", withTags(nsTags)) },
			want:  []string{`failed (Stack: "ns-vpc" cannot be updated nor re-created from state ROLLBACK_COMPLETE: Stack re-creation is disabled. Run stacker again with the --recreate-failed option to force it to be deleted and created from scratch.)`},
			calls: []string{}},
		{name: "failed stack re-created with matching tags", setup: func(f *fakeCFN) {
			f.put("ns-vpc", "ROLLBACK_COMPLETE", withTags(map[string]string{"stacker_namespace": "ns", "extra": "x"}))
		}, spec: func(s *LaunchSpec) { s.RecreateFailed = true },
			want:   []string{"submitted (destroying stack for re-creation)", "submitted (re-creating stack)", "complete (re-creating stack)"},
			calls:  []string{"DeleteStack", "CreateStack"},
			logHas: `Destroying stack "ns-vpc" for re-creation`},
		{name: "CREATE_FAILED re-created", setup: func(f *fakeCFN) { f.put("ns-vpc", "CREATE_FAILED", withTags(nsTags)) },
			spec: func(s *LaunchSpec) { s.RecreateFailed = true },
			want: []string{"submitted (destroying stack for re-creation)", "submitted (re-creating stack)", "complete (re-creating stack)"}},
		{name: "failed stack with other tags is not re-created", setup: func(f *fakeCFN) {
			f.put("ns-vpc", "ROLLBACK_FAILED", withTags(map[string]string{"stacker_namespace": "other"}))
		}, spec: func(s *LaunchSpec) { s.RecreateFailed = true },
			want:  []string{`failed (Stack: "ns-vpc" cannot be updated nor re-created from state ROLLBACK_FAILED: Tags differ from current configuration, possibly not created with stacker)`},
			calls: []string{}},
		{name: "delete for re-creation fails", setup: func(f *fakeCFN) {
			f.put("ns-vpc", "ROLLBACK_COMPLETE", withTags(nsTags))
			f.deleteSeq = []string{"DELETE_IN_PROGRESS", "DELETE_FAILED"}
		}, spec: func(s *LaunchSpec) { s.RecreateFailed = true },
			want: []string{"submitted (destroying stack for re-creation)", "failed (destroying stack for re-creation)"}},
		{name: "in progress without wait fails", setup: func(f *fakeCFN) { f.put("ns-vpc", "UPDATE_IN_PROGRESS") },
			want:  []string{`failed (Stack: "ns-vpc" cannot be updated nor re-created from state UPDATE_IN_PROGRESS: Update already in-progress)`},
			calls: []string{}},
		{name: "in progress with wait waits then updates", setup: func(f *fakeCFN) {
			s := f.put("ns-vpc", "UPDATE_IN_PROGRESS")
			s.seq = []string{"UPDATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"}
		}, spec: func(s *LaunchSpec) { s.WaitInProgress = true },
			want: []string{"pending (waiting)", "submitted (updating existing stack)", "complete (updating existing stack)"}},
		{name: "waiting for a create that rolls back ends in re-creation rules", setup: func(f *fakeCFN) {
			s := f.put("ns-vpc", "CREATE_IN_PROGRESS", withTags(nsTags))
			s.seq = []string{"CREATE_IN_PROGRESS", "ROLLBACK_COMPLETE", "ROLLBACK_COMPLETE"}
		}, spec: func(s *LaunchSpec) { s.WaitInProgress = true },
			want: []string{"pending (waiting)", `failed (Stack: "ns-vpc" cannot be updated nor re-created from state ROLLBACK_COMPLETE: Stack re-creation is disabled. Run stacker again with the --recreate-failed option to force it to be deleted and created from scratch.)`}},
		{name: "update rollback failed names ContinueUpdateRollback", setup: func(f *fakeCFN) { f.put("ns-vpc", "UPDATE_ROLLBACK_FAILED") },
			want: []string{`failed (Stack: "ns-vpc" is in state UPDATE_ROLLBACK_FAILED: run ContinueUpdateRollback (aws cloudformation continue-update-rollback --stack-name ns-vpc) and build again)`}},
		{name: "delete failed is unsupported", setup: func(f *fakeCFN) { f.put("ns-vpc", "DELETE_FAILED") },
			want: []string{`failed (Stack: "ns-vpc" cannot be updated nor re-created from state DELETE_FAILED: Unsupported state for re-creation)`}},
		{name: "review in progress is deleted and created", setup: func(f *fakeCFN) { f.put("ns-vpc", "REVIEW_IN_PROGRESS") },
			want:  []string{"submitted (destroying stack for re-creation)", "submitted (creating new stack)", "complete (creating new stack)"},
			calls: []string{"DeleteStack", "CreateStack"}},
		{name: "throttling while monitoring does not fail", setup: func(f *fakeCFN) {
			f.createSeq = []string{"CREATE_IN_PROGRESS", "CREATE_COMPLETE"}
			f.onDescribe = func(n int) {
				if n == 1 {
					f.mu.Lock()
					f.throttle = 4
					f.mu.Unlock()
				}
			}
		}, want: []string{"submitted (creating new stack)", "complete (creating new stack)"}},
		{name: "missing required parameters", spec: func(s *LaunchSpec) {
			s.Deps.Prepare = func(ctx context.Context) (*Request, error) {
				return &Request{Declared: []blueprint.Parameter{{Name: "A"}, {Name: "B", HasDefault: true}, {Name: "C"}}, Values: map[string]string{}}, nil
			}
		}, want: []string{"failed (Missing required cloudformation parameters: A, C)"}, calls: []string{}},
		{name: "prepare error fails before any mutation", spec: func(s *LaunchSpec) {
			s.Deps.Prepare = func(ctx context.Context) (*Request, error) {
				return nil, fmt.Errorf(`Variable "PublicSubnets" in blueprint "vpc" is missing`)
			}
		}, want: []string{`failed (Variable "PublicSubnets" in blueprint "vpc" is missing)`}, calls: []string{}},
		{name: "account guard stops the first mutation", spec: func(s *LaunchSpec) {
			s.Deps.CheckAccount = func(ctx context.Context) error {
				return fmt.Errorf("account mismatch: stack ns-vpc must deploy to account 2 but profile \"p\" resolves to 3")
			}
		}, want: []string{`failed (account mismatch: stack ns-vpc must deploy to account 2 but profile "p" resolves to 3)`}, calls: []string{}},
		{name: "protected update without a terminal fails, its change set deleted", setup: func(f *fakeCFN) { f.put("ns-vpc", "CREATE_COMPLETE") },
			spec: func(s *LaunchSpec) { s.Protected = true }, want: []string{"failed (stack vpc (ns-vpc) would be changed only after approval (protected: true), and there is no terminal to ask on: review the plan (stacker diff), then approve with --approve NAME (repeatable) or --approve all)"},
			calls: []string{"CreateChangeSet", "DeleteChangeSet"}},
		{name: "protected stack is still created", spec: func(s *LaunchSpec) { s.Protected = true },
			want: []string{"submitted (creating new stack)", "complete (creating new stack)"}},
		{name: "termination protection toggled on update", setup: func(f *fakeCFN) { f.put("ns-vpc", "CREATE_COMPLETE") },
			spec: func(s *LaunchSpec) { s.TerminationProtection = true },
			want: []string{"submitted (updating existing stack)", "complete (updating existing stack)"}, calls: []string{"UpdateTerminationProtection", "UpdateStack"}},
		{name: "termination protection unchanged makes no call", setup: func(f *fakeCFN) {
			f.put("ns-vpc", "CREATE_COMPLETE", func(s *fakeStack) { s.tp = true })
		}, spec: func(s *LaunchSpec) { s.TerminationProtection = true },
			want: []string{"submitted (updating existing stack)", "complete (updating existing stack)"}, calls: []string{"UpdateStack"}},
		{name: "termination protection on create", spec: func(s *LaunchSpec) { s.TerminationProtection = true },
			want: []string{"submitted (creating new stack)", "complete (creating new stack)"},
			check: func(t *testing.T, f *fakeCFN, o Outcome) {
				if !aws.ToBool(f.lastCreate.EnableTerminationProtection) {
					t.Error("EnableTerminationProtection not sent")
				}
			}},
		{name: "omitted parameter the stack has uses its previous value", setup: func(f *fakeCFN) {
			f.put("ns-vpc", "CREATE_COMPLETE", func(s *fakeStack) { s.params["Key"] = "secret" })
		}, spec: func(s *LaunchSpec) {
			s.Deps.Prepare = func(ctx context.Context) (*Request, error) {
				return &Request{TemplateURL: "https://s3.amazonaws.com/b/k.json", Declared: []blueprint.Parameter{{Name: "Key"}}, Values: map[string]string{"Ignored": "x"}}, nil
			}
		}, want: []string{"submitted (updating existing stack)", "complete (updating existing stack)"},
			check: func(t *testing.T, f *fakeCFN, o Outcome) {
				in := f.lastUpdate
				if len(in.Parameters) != 1 || !aws.ToBool(in.Parameters[0].UsePreviousValue) || in.TemplateBody != nil || aws.ToString(in.TemplateURL) == "" {
					t.Errorf("update input %+v", in)
				}
			}},
		{name: "service role, notifications and policy are sent", spec: func(s *LaunchSpec) {
			s.RoleARN, s.NotificationARNs = "arn:aws:iam::1:role/cfn", []string{"arn:aws:sns:us-east-1:1:t"}
			prep := s.Deps.Prepare
			s.Deps.Prepare = func(ctx context.Context) (*Request, error) {
				r, err := prep(ctx)
				r.StackPolicy = `{"Statement":[]}`
				return r, err
			}
		}, want: []string{"submitted (creating new stack)", "complete (creating new stack)"},
			check: func(t *testing.T, f *fakeCFN, o Outcome) {
				in := f.lastCreate
				if aws.ToString(in.RoleARN) == "" || len(in.NotificationARNs) != 1 || aws.ToString(in.StackPolicyBody) == "" {
					t.Errorf("create input %+v", in)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runLaunch(t, tc) })
	}
}

func TestLaunchInterruptedWhileWaiting(t *testing.T) {
	f := newFake()
	f.createSeq = []string{"CREATE_IN_PROGRESS"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.onDescribe = func(n int) {
		if n == 3 {
			cancel()
		}
	}
	p := New(f, Options{Sleep: noSleep, Now: fixedNow})
	var got []string
	o := p.Launch(ctx, baseSpec(), func(st engine.Status) { got = append(got, line(st)) })
	got = append(got, line(o.Status))
	want := []string{"submitted (creating new stack)", "failed (interrupted)"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q want %q", got, want)
	}
	if !o.Changing || o.LastStatus != "CREATE_IN_PROGRESS" {
		t.Errorf("changing=%v last=%q", o.Changing, o.LastStatus)
	}
}

func TestLaunchTail(t *testing.T) {
	f := newFake()
	f.createSeq = []string{"CREATE_IN_PROGRESS", "CREATE_COMPLETE"}
	p := New(f, Options{Sleep: noSleep, Now: func() time.Time { return time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC) }})
	var evs []string
	s := baseSpec()
	s.Deps.Tail = true
	s.Deps.Events = event.SinkFunc(func(e event.Event) {
		if r, ok := e.(event.ResourceEvent); ok {
			evs = append(evs, r.LogicalID+" "+r.Status)
		}
	})
	o := p.Launch(context.Background(), s, func(engine.Status) {})
	if o.Status.State != engine.Complete {
		t.Fatal(line(o.Status))
	}
	want := []string{"ns-vpc CREATE_IN_PROGRESS", "ns-vpc CREATE_IN_PROGRESS", "ns-vpc CREATE_COMPLETE"}
	if !slices.Equal(evs, want) {
		t.Errorf("events %q want %q", evs, want)
	}
}

func TestDestroyStatuses(t *testing.T) {
	cases := []struct {
		name  string
		setup func(f *fakeCFN)
		want  []string
	}{
		{"missing stack", nil, []string{"skipped (does not exist in cloudformation)"}},
		{"stack is deleted", func(f *fakeCFN) { f.put("ns-vpc", "CREATE_COMPLETE") },
			[]string{"submitted (submitted for destruction)", "complete (stack destroyed)"}},
		{"termination protection fails", func(f *fakeCFN) { f.put("ns-vpc", "CREATE_COMPLETE", func(s *fakeStack) { s.tp = true }) },
			[]string{"failed (termination protection is enabled on ns-vpc: set termination_protection: false and build, or run aws cloudformation update-termination-protection --no-enable-termination-protection --stack-name ns-vpc)"}},
		{"in progress is waited for", func(f *fakeCFN) {
			s := f.put("ns-vpc", "UPDATE_IN_PROGRESS")
			s.seq = []string{"UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"}
		}, []string{"pending (waiting)", "submitted (submitted for destruction)", "complete (stack destroyed)"}},
		{"delete failed", func(f *fakeCFN) {
			f.put("ns-vpc", "CREATE_COMPLETE")
			f.deleteSeq = []string{"DELETE_FAILED"}
		}, []string{"submitted (submitted for destruction)", "failed (DELETE_FAILED: )"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			if tc.setup != nil {
				tc.setup(f)
			}
			p := New(f, Options{Sleep: noSleep, Now: fixedNow})
			var got []string
			o := p.Destroy(context.Background(), &DestroySpec{Name: "vpc", FQN: "ns-vpc"}, func(st engine.Status) { got = append(got, line(st)) })
			got = append(got, line(o.Status))
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestPollScheduleIsFastThenCapped(t *testing.T) {
	p := New(nil, Options{PollCeiling: 4 * time.Second})
	var total time.Duration
	for i := 0; i < 3; i++ {
		total += p.delay(i)
	}
	if total > 500*time.Millisecond {
		t.Errorf("first three polls take %v; a 200 ms stack must be seen within about 0.5 s", total)
	}
	for i := 0; i < 50; i++ {
		if d := p.delay(i); d > 4*time.Second {
			t.Fatalf("delay(%d)=%v over the ceiling", i, d)
		}
	}
	if p.delay(40) != 4*time.Second {
		t.Errorf("delay does not reach the ceiling: %v", p.delay(40))
	}
}

func TestPollCeilingFromEnv(t *testing.T) {
	t.Setenv("STACKER_STACK_POLL_TIME", "2")
	if got := PollCeilingFromEnv(); got != 2*time.Second {
		t.Errorf("got %v", got)
	}
	t.Setenv("STACKER_STACK_POLL_TIME", "x")
	if got := PollCeilingFromEnv(); got != DefaultPollCeiling {
		t.Errorf("got %v", got)
	}
}

func fixedNow() time.Time { return time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC) }
