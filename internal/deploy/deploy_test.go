package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stacker-go/stacker/internal/event"
	"github.com/stacker-go/stacker/internal/target"
)

func TestFailedErrorNamesSteps(t *testing.T) {
	err := &FailedError{Stacks: []string{"a", "b"}}
	if err.Error() != "The following steps failed: a, b" {
		t.Error(err)
	}
}

// Three stacks over two accounts: a in stage, b in prod reading a's output,
// c in prod after b.
const crossAccount = `
namespace: ns
stacker_bucket: ""
stacks:
  - name: a
    profile: stage
    template_path: t.json
  - name: b
    profile: prod
    template_path: t.json
    variables:
      Upstream: ${output a::Out}
  - name: c
    profile: prod
    template_path: t.json
    requires: [b]
  - name: solo
    template_path: t.json
`

var seedAccounts = map[string]string{"default": "111111111111", "prod": "222222222222", "stage": "333333333333"}

func index(log []string, call string) int { return slices.Index(log, call) }

func TestBuildRunsDependenciesFirstAndPassesOutputsAcrossAccounts(t *testing.T) {
	w := newWorld(seedAccounts)
	cfg, g := loadConfig(t, crossAccount)
	rec := &recorder{}
	if err := Build(context.Background(), options(w, cfg, g, rec)); err != nil {
		t.Fatal(err)
	}
	log := w.calls()
	a, b, c := index(log, "CreateStack 333333333333/ns-a"), index(log, "CreateStack 222222222222/ns-b"), index(log, "CreateStack 222222222222/ns-c")
	if a < 0 || b < 0 || c < 0 || !(a < b && b < c) || index(log, "CreateStack 111111111111/ns-solo") < 0 {
		t.Fatalf("calls out of dependency order: %q", log)
	}
	bStack := w.cloud(target.Key{Profile: "prod"}).find("ns-b")
	if got := bStack.params["Upstream"]; got != "333333333333:ns-a" {
		t.Errorf("b got Upstream %q, want a's output read in stage's account", got)
	}
	final := rec.final()
	for name, acct := range map[string]string{"a": "333333333333", "b": "222222222222", "c": "222222222222", "solo": "111111111111"} {
		s := final[name]
		if s.State != event.Complete || s.Reason != "creating new stack" || s.Target.Account != acct || s.FQN != "ns-"+name || s.Outcome != event.OutcomeCreated {
			t.Errorf("%s: final %+v", name, s)
		}
	}
	if got := rec.of("event.RunStarted"); len(got) != 1 || len(got[0].(event.RunStarted).Stacks) != 4 {
		t.Errorf("RunStarted %+v", got)
	}
	if got := rec.of("event.RunFinished"); len(got) != 1 || got[0].(event.RunFinished).Err != nil || len(got[0].(event.RunFinished).Final) != 4 {
		t.Errorf("RunFinished %+v", got)
	}

	// A second build changes nothing, and b still gets a's output.
	rec2 := &recorder{}
	if err := Build(context.Background(), options(w, cfg, g, rec2)); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b", "c", "solo"} {
		if s := rec2.final()[name]; s.State != event.Skipped || s.Reason != "nochange" {
			t.Errorf("rebuild %s: %+v", name, s)
		}
	}
	if len(w.calls()) != len(log) {
		t.Errorf("rebuild mutated: %q", w.calls()[len(log):])
	}
}

func TestFailureFailsDependantsAndSparesOtherBranches(t *testing.T) {
	w := newWorld(seedAccounts)
	w.failCreate["ns-a"] = true
	cfg, g := loadConfig(t, crossAccount)
	rec := &recorder{}
	err := Build(context.Background(), options(w, cfg, g, rec))
	var fe *FailedError
	if !errors.As(err, &fe) || !slices.Equal(sorted(fe.Stacks), []string{"a", "b", "c"}) {
		t.Fatalf("err = %v", err)
	}
	final := rec.final()
	if final["a"].Reason != "rolled back new stack" || final["b"].Reason != "dependency has failed" || final["c"].Reason != "dependency has failed" {
		t.Errorf("finals %+v", final)
	}
	if final["solo"].State != event.Complete {
		t.Errorf("independent branch: %+v", final["solo"])
	}
	if index(w.calls(), "CreateStack 222222222222/ns-b") >= 0 {
		t.Error("b was created after its dependency failed")
	}
	if fr := rec.of("event.FailureReason"); len(fr) != 1 || fr[0].(event.FailureReason).Name != "a" {
		t.Errorf("failure reasons %+v", fr)
	}
	if got := rec.of("event.RunFinished"); len(got) != 1 || !errors.As(got[0].(event.RunFinished).Err, &fe) {
		t.Errorf("RunFinished %+v", got)
	}
}

func TestAccountGuardStopsTheFirstMutationWithTheErrorValue(t *testing.T) {
	w := newWorld(seedAccounts)
	cfg, g := loadConfig(t, crossAccount+"accounts:\n  prod: \"999999999999\"\n")
	rec := &recorder{}
	err := Build(context.Background(), options(w, cfg, g, rec))
	var fe *FailedError
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v", err)
	}
	b := rec.final()["b"]
	var m *target.AccountMismatchError
	if b.State != event.Failed || !errors.As(b.Err, &m) || m.Want != "999999999999" || m.Got != "222222222222" {
		t.Fatalf("b: %+v", b)
	}
	want := `account mismatch: stack ns-b must deploy to account 999999999999 but profile "prod" resolves to 222222222222`
	if b.Reason != want {
		t.Errorf("reason\n got %s\nwant %s", b.Reason, want)
	}
	if index(w.calls(), "CreateStack 222222222222/ns-b") >= 0 {
		t.Error("guarded stack was created")
	}
}

func TestDestroyDeletesDependantsFirst(t *testing.T) {
	w := newWorld(seedAccounts)
	cfg, g := loadConfig(t, crossAccount)
	if err := Build(context.Background(), options(w, cfg, g, &recorder{})); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	if err := Destroy(context.Background(), options(w, cfg, g, rec)); err != nil {
		t.Fatal(err)
	}
	log := w.calls()
	a, b, c := index(log, "DeleteStack 333333333333/ns-a"), index(log, "DeleteStack 222222222222/ns-b"), index(log, "DeleteStack 222222222222/ns-c")
	if a < 0 || b < 0 || c < 0 || !(c < b && b < a) {
		t.Fatalf("deletes out of order: %q", log)
	}
	for _, name := range []string{"a", "b", "c", "solo"} {
		if s := rec.final()[name]; s.State != event.Complete || s.Reason != "stack destroyed" || s.Outcome != event.OutcomeDeleted {
			t.Errorf("%s: %+v", name, s)
		}
	}
	// Destroying again finds nothing to delete.
	rec2 := &recorder{}
	if err := Destroy(context.Background(), options(w, cfg, g, rec2)); err != nil {
		t.Fatal(err)
	}
	if s := rec2.final()["a"]; s.State != event.Skipped || s.Reason != "does not exist in cloudformation" {
		t.Errorf("second destroy: %+v", s)
	}
}

func TestInterruptionNamesStacksStillChangingAndStartsNothingNew(t *testing.T) {
	w := newWorld(seedAccounts)
	w.hang["ns-a"] = true
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w.onHang = cancel
	cfg, g := loadConfig(t, crossAccount)
	rec := &recorder{}
	err := Build(ctx, options(w, cfg, g, rec))
	var ie *InterruptedError
	if !errors.As(err, &ie) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	// a is still changing; solo may be too (submitted, not yet seen done).
	if len(ie.Changing) == 0 || ie.Changing[0].Name != "a" || ie.Changing[0].Status != "CREATE_IN_PROGRESS" {
		t.Errorf("changing %+v", ie.Changing)
	}
	for _, c := range ie.Changing {
		if c.Name != "a" && c.Name != "solo" {
			t.Errorf("%s is named as changing but was never submitted", c.Name)
		}
	}
	if index(w.calls(), "CreateStack 222222222222/ns-b") >= 0 {
		t.Error("b started after the interrupt")
	}
	if s, ok := rec.final()["b"]; ok {
		t.Errorf("b has a status after the interrupt: %+v", s)
	}
	in := rec.of("event.Interrupted")
	if len(in) != 1 {
		t.Fatalf("Interrupted events %+v", in)
	}
	ev := in[0].(event.Interrupted)
	if len(ev.Changing) != len(ie.Changing) || ev.Changing[0].FQN != "ns-a" || ev.Changing[0].Target.Account != "333333333333" || ev.NextRun == "" {
		t.Errorf("Interrupted %+v", ev)
	}
}

func TestMaxParallelCapsStacksInFlight(t *testing.T) {
	w := newWorld(seedAccounts)
	cfg, g := loadConfig(t, crossAccount)
	rec := &recorder{}
	o := options(w, cfg, g, rec)
	o.MaxParallel = 1
	if err := Build(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	// With one slot, a stack is submitted only after the previous is done.
	inFlight := 0
	for _, l := range rec.lines() {
		switch {
		case strings.HasSuffix(l, ": submitted (creating new stack)"):
			inFlight++
		case strings.HasSuffix(l, ": complete (creating new stack)"):
			inFlight--
		}
		if inFlight > 1 {
			t.Fatalf("two stacks in flight with -j 1: %q", rec.lines())
		}
	}
}

// Stacks waiting in the same target read their status from one listing per
// round, not one call each.
func TestWaitingStacksShareOneStatusPoller(t *testing.T) {
	w := newWorld(seedAccounts)
	yaml := "namespace: ns\nstacker_bucket: \"\"\nstacks:\n"
	for i := range 20 {
		yaml += fmt.Sprintf("  - name: s%02d\n    template_path: t.json\n", i)
	}
	cfg, g := loadConfig(t, yaml)
	if err := Build(context.Background(), options(w, cfg, g, &recorder{})); err != nil {
		t.Fatal(err)
	}
	c := w.cloud(target.Key{})
	// 20 first Describes, then listings (one per round) instead of 20+ polls.
	if c.listings == 0 || c.describes > 20+5 {
		t.Errorf("%d DescribeStacks calls, %d of them listings", c.describes, c.listings)
	}
}

// Two stacks in different accounts share the CloudFormation name ns-vpc:
// output (diff, info) names each by its config stack too.
func TestLabelNamesConfigStackWhenCloudFormationNamesRepeat(t *testing.T) {
	const twoVPCs = `
namespace: ns
stacker_bucket: ""
stacks:
  - name: prod-vpc
    stack_name: vpc
    profile: prod
    template_path: t.json
  - name: stage-vpc
    stack_name: vpc
    profile: stage
    template_path: t.json
  - name: solo
    template_path: t.json
`
	w := newWorld(seedAccounts)
	cfg, g := loadConfig(t, twoVPCs)
	o := options(w, cfg, g, &recorder{})
	r := newRun(&o, event.Diff)
	for _, c := range [][3]string{
		{"prod-vpc", "ns-vpc", "ns-vpc (prod-vpc)"},
		{"stage-vpc", "ns-vpc", "ns-vpc (stage-vpc)"},
		{"solo", "ns-solo", "ns-solo"},
	} {
		if got := r.label(c[0], c[1]); got != c[2] {
			t.Errorf("label(%s) = %q, want %q", c[0], got, c[2])
		}
	}
}

// --in-progress overrides every stack's in_progress_behavior: fail fails a
// stack CloudFormation is still changing at once, wait waits for it.
func TestInProgressFlagOverridesTheConfigKey(t *testing.T) {
	for _, tc := range []struct {
		name, key, flag string
		wantFail        bool
	}{
		{name: "flag fail over the default", flag: "fail", wantFail: true},
		{name: "key fail without the flag", key: "fail", wantFail: true},
		{name: "flag wait over key fail", key: "fail", flag: "wait"},
		{name: "default waits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(map[string]string{"default": "111111111111"})
			yaml := "namespace: ns\nstacker_bucket: \"\"\nstacks:\n  - name: a\n    template_path: t.json\n"
			if tc.key != "" {
				yaml += "    in_progress_behavior: " + tc.key + "\n"
			}
			cfg, g := loadConfig(t, yaml)
			c := w.cloud(target.Key{})
			c.stacks["id-a"] = &fakeStack{id: "id-a", name: "ns-a", status: "CREATE_IN_PROGRESS", params: map[string]string{}, outputs: map[string]string{}}
			// The stack settles once someone has looked at it.
			w.onHang = func() {
				c.mu.Lock()
				c.stacks["id-a"].status = "CREATE_COMPLETE"
				c.mu.Unlock()
			}
			rec := &recorder{}
			o := options(w, cfg, g, rec)
			o.InProgress = tc.flag
			err := Build(context.Background(), o)
			fin := rec.final()["a"]
			if tc.wantFail {
				if err == nil || fin.State != event.Failed || !strings.Contains(fin.Reason, "already in-progress") {
					t.Fatalf("err %v, final %+v: want a fail-fast failure", err, fin)
				}
				return
			}
			if err != nil || fin.State == event.Failed {
				t.Fatalf("err %v, final %+v: want the stack waited for and handled", err, fin)
			}
			if !slices.Contains(rec.lines(), "a: pending (waiting)") {
				t.Errorf("no waiting status: %q", rec.lines())
			}
		})
	}
}
