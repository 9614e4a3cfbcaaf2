package cfn

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stacker-go/stacker/internal/engine"
)

// testClock is a clock tests move by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// gatherSleep is a sleep that, for the poller's gather window, waits until
// want first describes are waiting (so that a slow machine cannot split a
// level across rounds), and otherwise returns at once.
func gatherSleep(p **Provider, want *atomic.Int32) func(ctx context.Context, d time.Duration) error {
	return func(ctx context.Context, d time.Duration) error {
		if d != gatherWindow {
			return ctx.Err()
		}
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			(*p).poll.mu.Lock()
			n := 0
			for _, chs := range (*p).poll.byName {
				n += len(chs)
			}
			(*p).poll.mu.Unlock()
			if n >= int(want.Load()) {
				break
			}
			time.Sleep(time.Millisecond)
		}
		return ctx.Err()
	}
}

// callsBefore returns the calls recorded before the first mutating call.
func callsBefore(calls []string) []string {
	for i, c := range calls {
		if !strings.HasPrefix(c, "Describe") {
			return calls[:i]
		}
	}
	return calls
}

// 50 stacks of one target launched at once (a graph level) are described
// by ONE listing: no stack pays a DescribeStacks of its own to start.
func TestLaunchLevelSharesOneListing(t *testing.T) {
	f := newFake()
	const n = 50
	for i := range n {
		if i%2 == 0 { // half exist, half are new
			f.put(fmt.Sprintf("ns-s%02d", i), "CREATE_COMPLETE")
		}
	}
	f.put("other-team-stack", "UPDATE_COMPLETE") // not ours
	var p *Provider
	var want atomic.Int32
	want.Store(n)
	p = New(f, Options{Sleep: gatherSleep(&p, &want), Now: fixedNow})
	var wg sync.WaitGroup
	outs := make([]Outcome, n)
	for i := range n {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s := baseSpec()
			s.Name, s.FQN = fmt.Sprintf("s%02d", i), fmt.Sprintf("ns-s%02d", i)
			outs[i] = p.Launch(context.Background(), s, func(engine.Status) {})
		}(i)
	}
	wg.Wait()
	for i, o := range outs {
		want := ReasonCreating
		if i%2 == 0 {
			want = ReasonUpdating
		}
		if o.Status.State != engine.Complete || o.Status.Reason != want {
			t.Errorf("s%02d: %s, want complete (%s)", i, line(o.Status), want)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if got := callsBefore(f.calls); !slices.Equal(got, []string{opListing}) {
		t.Errorf("calls before the first submission: %q, want one listing", got)
	}
	if f.byName != 0 {
		t.Errorf("%d DescribeStacks by name, want none", f.byName)
	}
	if c := slices.Index(f.calls, "CreateStack"); c < 0 || slices.Index(f.calls, "UpdateStack") < 0 {
		t.Errorf("calls %q lack a create or an update", f.calls)
	}
}

// A snapshot that started less than snapshotFresh ago answers a first
// describe without any call: a listed stack as listed, an unlisted one as
// missing. An older one does not: the stack waits for a round.
func TestDescribeFirstFromTheSnapshot(t *testing.T) {
	f := newFake()
	f.put("ns-a", "CREATE_COMPLETE", func(s *fakeStack) { s.outputs["Out"] = "a-out" })
	f.put("ns-b", "UPDATE_ROLLBACK_COMPLETE")
	clock := &testClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	var p *Provider
	var want atomic.Int32
	want.Store(2)
	p = New(f, Options{Sleep: gatherSleep(&p, &want), Now: clock.now})
	ctx := context.Background()

	// Two first describes together: one listing answers both.
	var wg sync.WaitGroup
	got := make([]*Stack, 2)
	for i, name := range []string{"ns-a", "ns-missing"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := p.describeFirst(ctx, name)
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			got[i] = st
		}()
	}
	wg.Wait()
	if got[0] == nil || got[0].Status != "CREATE_COMPLETE" || got[0].Outputs["Out"] != "a-out" || got[1] != nil {
		t.Fatalf("answers %+v, %+v", got[0], got[1])
	}
	if !slices.Equal(f.calls, []string{opListing}) {
		t.Fatalf("calls %q, want one listing", f.calls)
	}

	// Fresh: no call, also for a stack nobody asked about yet.
	clock.add(snapshotFresh - time.Second)
	for name, want := range map[string]string{"ns-a": "CREATE_COMPLETE", "ns-b": "UPDATE_ROLLBACK_COMPLETE", "ns-missing": ""} {
		st, err := p.describeFirst(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if status := func() string {
			if st == nil {
				return ""
			}
			return st.Status
		}(); status != want {
			t.Errorf("%s: %q from the snapshot, want %q", name, status, want)
		}
	}
	// Answers are copies: changing one does not change the snapshot.
	st, _ := p.describeFirst(ctx, "ns-a")
	st.Outputs["Out"] = "changed"
	if st, _ := p.describeFirst(ctx, "ns-a"); st.Outputs["Out"] != "a-out" {
		t.Errorf("the snapshot was changed through an answer: %v", st.Outputs)
	}
	if len(f.calls) != 1 {
		t.Fatalf("a fresh snapshot made calls: %q", f.calls[1:])
	}

	// Stale: the stack waits for a round (one stack, one page listed:
	// its own call is as cheap as the listing).
	clock.add(2 * time.Second)
	want.Store(1)
	rounds := p.poll.rounds
	if st, err := p.describeFirst(ctx, "ns-b"); err != nil || st == nil || st.Status != "UPDATE_ROLLBACK_COMPLETE" {
		t.Fatalf("stale snapshot: %+v, %v", st, err)
	}
	if p.poll.rounds != rounds+1 || !slices.Equal(f.calls[1:], []string{"DescribeStacks"}) {
		t.Errorf("stale snapshot: %d rounds, calls %q; want one round with one DescribeStacks", p.poll.rounds-rounds, f.calls[1:])
	}

	// Stale, several at once: one listing, which refreshes the snapshot.
	p.poll.mu.Lock()
	p.poll.snap.started = clock.now().Add(-snapshotFresh - time.Second)
	p.poll.mu.Unlock()
	want.Store(3)
	for _, name := range []string{"ns-a", "ns-b", "ns-c"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := p.describeFirst(ctx, name); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if !slices.Equal(f.calls[2:], []string{opListing}) {
		t.Errorf("calls %q, want one more listing", f.calls[2:])
	}
	if p.poll.snap.started != clock.now() {
		t.Errorf("the listing did not refresh the snapshot (started %v, now %v)", p.poll.snap.started, clock.now())
	}
}

// A first describe does not wait long for a running poller whose next
// round is dear: when that round is seconds away and costs several calls
// (per-stack rounds in an account with many stacks not ours), the stack
// is read with its own call.
func TestDescribeFirstDoesNotWaitForASlowRound(t *testing.T) {
	f := newFake()
	f.put("ns-a", "CREATE_COMPLETE")
	clock := &testClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	p := New(f, Options{Sleep: noSleep, Now: clock.now})
	p.poll.mu.Lock()
	p.poll.running = true
	p.poll.nextAt = clock.now().Add(5 * time.Second)
	p.poll.lastCost = 3
	p.poll.mu.Unlock()
	st, err := p.describeFirst(context.Background(), "ns-a")
	if err != nil || st == nil || st.Status != "CREATE_COMPLETE" {
		t.Fatalf("got %+v, %v", st, err)
	}
	if f.byName != 1 || p.poll.rounds != 0 {
		t.Errorf("%d calls by name, %d rounds; want its own call", f.byName, p.poll.rounds)
	}
}

// When the running poller's next round costs one call, a first describe
// brings it forward instead: the sleeping poller is woken, and one round
// answers both the new stack and the one already waiting (a chain, where
// each stack is ready as the last finishes, does not wait a paced
// interval for every first describe, nor pay a call of its own).
func TestDescribeFirstBringsACheapRoundForward(t *testing.T) {
	f := newFake()
	f.put("ns-a", "CREATE_COMPLETE")
	waiting := f.put("ns-b", "CREATE_IN_PROGRESS")
	var woken atomic.Int32
	slept := make(chan struct{}, 8)
	sleep := func(ctx context.Context, d time.Duration) error {
		if d < time.Second {
			return nil
		}
		// A paced wait (4 s at 0.5 reads/s): it ends only when woken, or
		// after a while so that the test never hangs.
		slept <- struct{}{}
		select {
		case <-ctx.Done():
			woken.Add(1)
			return ctx.Err()
		case <-time.After(5 * time.Second):
			return nil
		}
	}
	p := New(f, Options{Sleep: sleep, ReadRate: func() float64 { return 0.5 }})
	ctx := context.Background()
	done := make(chan pollResult, 1)
	go func() { done <- p.poll.nextResult(ctx, waiting.id) }()
	<-slept // the poller sleeps before its first round
	st, err := p.describeFirst(ctx, "ns-a")
	if err != nil || st == nil || st.Status != "CREATE_COMPLETE" {
		t.Fatalf("got %+v, %v", st, err)
	}
	if r := <-done; r.err != nil || r.st == nil || r.st.Status != "CREATE_IN_PROGRESS" {
		t.Fatalf("the waiting stack got %+v, %v", r.st, r.err)
	}
	if woken.Load() != 1 || f.byName != 0 || p.poll.rounds != 1 {
		t.Errorf("woken %d times, %d calls by name, %d rounds; want one round brought forward", woken.Load(), f.byName, p.poll.rounds)
	}
}

// snapshotOf makes p's snapshot, started now, of the given stacks (as a
// listing would show them).
func snapshotOf(p *Provider, stacks ...*Stack) {
	snap := &snapshot{started: p.now(), byName: map[string]*Stack{}, byID: map[string]*Stack{}}
	for _, st := range stacks {
		snap.byName[st.Name], snap.byID[st.ID] = st, st
	}
	p.poll.mu.Lock()
	p.poll.snap = snap
	p.poll.mu.Unlock()
}

func listed(status string) *Stack {
	return &Stack{Name: "ns-vpc", ID: "arn:aws:cloudformation:us-east-1:111111111111:stack/ns-vpc/old", Status: status,
		Outputs: map[string]string{}, Parameters: map[string]string{}, Tags: map[string]string{"stacker_namespace": "ns"}}
}

// A decision taken from a snapshot that turns out wrong when the stack is
// submitted is taken again, once, from one direct DescribeStacks: the
// build neither fails nor does the wrong thing because its snapshot was a
// few seconds old.
func TestLaunchRecoversFromAStaleSnapshot(t *testing.T) {
	for _, tc := range []struct {
		name     string
		snapshot *Stack // nil: the stack is not listed
		setup    func(f *fakeCFN)
		spec     func(s *LaunchSpec)
		want     []string
		calls    []string
		byName   int // direct DescribeStacks by name (re-reads)
	}{
		{name: "created by someone since the listing: AlreadyExists, then update",
			setup: func(f *fakeCFN) { f.put("ns-vpc", "CREATE_COMPLETE") },
			want:  []string{"submitted (updating existing stack)", "complete (updating existing stack)"},
			calls: []string{"CreateStack", "UpdateStack"}, byName: 1},
		{name: "deleted by someone since the listing: does not exist, then create",
			snapshot: listed("CREATE_COMPLETE"),
			want:     []string{"submitted (creating new stack)", "complete (creating new stack)"},
			calls:    []string{"UpdateStack", "CreateStack"}, byName: 1},
		{name: "updated by someone since the listing: waited for, then updated",
			snapshot: listed("CREATE_COMPLETE"),
			setup: func(f *fakeCFN) {
				f.put("ns-vpc", "UPDATE_IN_PROGRESS").seq = []string{"UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"}
			},
			spec:  func(s *LaunchSpec) { s.WaitInProgress = true },
			want:  []string{"pending (waiting)", "submitted (updating existing stack)", "complete (updating existing stack)"},
			calls: []string{"UpdateStack", "UpdateStack"}, byName: 1},
		{name: "updated by someone since the listing, in_progress_behavior fail",
			snapshot: listed("CREATE_COMPLETE"),
			setup: func(f *fakeCFN) {
				f.put("ns-vpc", "UPDATE_IN_PROGRESS").seq = []string{"UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"}
			},
			want:  []string{`failed (Stack: "ns-vpc" cannot be updated nor re-created from state UPDATE_IN_PROGRESS: Update already in-progress)`},
			calls: []string{"UpdateStack"}, byName: 1},
		{name: "rolled back since the listing: the re-creation rules apply",
			snapshot: listed("CREATE_COMPLETE"),
			setup: func(f *fakeCFN) {
				f.put("ns-vpc", "ROLLBACK_COMPLETE", withTags(map[string]string{"stacker_namespace": "ns"}))
			},
			spec:  func(s *LaunchSpec) { s.RecreateFailed = true },
			want:  []string{"submitted (destroying stack for re-creation)", "submitted (re-creating stack)", "complete (re-creating stack)"},
			calls: []string{"UpdateStack", "DeleteStack", "CreateStack"}, byName: 1},
		{name: "only once: a second stale answer fails the stack",
			setup: func(f *fakeCFN) {
				f.put("ns-vpc", "CREATE_COMPLETE")
				f.onDescribe = func(int) { // deleted right after the re-read
					f.mu.Lock()
					delete(f.stacks, "ns-vpc")
					f.mu.Unlock()
				}
			},
			want:  []string{"failed (update stack: Stack [ns-vpc] does not exist)"},
			calls: []string{"CreateStack", "UpdateStack"}, byName: 1},
		{name: "-i, updated by someone since the listing: waited for, then its change set",
			snapshot: listed("CREATE_COMPLETE"),
			setup: func(f *fakeCFN) {
				f.put("ns-vpc", "UPDATE_IN_PROGRESS").seq = []string{"UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"}
			},
			spec:  func(s *LaunchSpec) { s.Interactive, s.Approved, s.WaitInProgress = true, true, true },
			want:  []string{"pending (waiting)", "submitted (updating existing stack)", "complete (updating existing stack)"},
			calls: []string{"CreateChangeSet", "CreateChangeSet", "ExecuteChangeSet"}, byName: 1},
		{name: "-i, deleted by someone since the listing: created",
			snapshot: listed("CREATE_COMPLETE"),
			spec:     func(s *LaunchSpec) { s.Interactive, s.Approved = true, true },
			want:     []string{"submitted (creating new stack)", "complete (creating new stack)"},
			calls:    []string{"CreateChangeSet", "CreateStack"}, byName: 1},
		{name: "a fresh and right snapshot: no describe at all",
			snapshot: listed("CREATE_COMPLETE"),
			setup:    func(f *fakeCFN) { f.put("ns-vpc", "CREATE_COMPLETE") },
			want:     []string{"submitted (updating existing stack)", "complete (updating existing stack)"},
			calls:    []string{"UpdateStack"}, byName: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			if tc.setup != nil {
				tc.setup(f)
			}
			p := New(f, Options{Sleep: noSleep, Now: fixedNow})
			if tc.snapshot != nil {
				snapshotOf(p, tc.snapshot)
			} else {
				snapshotOf(p)
			}
			s := baseSpec()
			if tc.spec != nil {
				tc.spec(s)
			}
			var got []string
			o := p.Launch(context.Background(), s, func(st engine.Status) { got = append(got, line(st)) })
			got = append(got, line(o.Status))
			if !slices.Equal(got, tc.want) {
				t.Errorf("statuses:\n got %q\nwant %q", got, tc.want)
			}
			muts := mutations(f)
			if !slices.Equal(muts, tc.calls) {
				t.Errorf("mutating calls %q, want %q", muts, tc.calls)
			}
			if f.byName != tc.byName {
				t.Errorf("%d DescribeStacks by name, want %d", f.byName, tc.byName)
			}
		})
	}
}

// destroy takes its first describe from the snapshot too, and recovers
// when DeleteStack says the stack is not what the snapshot showed.
func TestDestroyFromAStaleSnapshot(t *testing.T) {
	for _, tc := range []struct {
		name          string
		missingDelErr bool
		want          string
		byName        int
	}{
		// AWS and the sandbox accept DeleteStack of a deleted stack: the
		// poll by id then finds it gone.
		{name: "deleted by someone, DeleteStack accepted", want: "complete (stack destroyed)"},
		{name: "deleted by someone, DeleteStack says it does not exist", missingDelErr: true, want: "skipped (does not exist in cloudformation)", byName: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			f.deleteMissingErr = tc.missingDelErr
			p := New(f, Options{Sleep: noSleep, Now: fixedNow})
			snapshotOf(p, listed("CREATE_COMPLETE"))
			o := p.Destroy(context.Background(), &DestroySpec{Name: "vpc", FQN: "ns-vpc"}, func(engine.Status) {})
			if got := line(o.Status); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if f.byName != tc.byName {
				t.Errorf("%d DescribeStacks by name, want %d", f.byName, tc.byName)
			}
		})
	}
}

// Destroying a graph level: one listing answers every first describe, and
// every stack that leaves the listing is still confirmed gone with one
// DescribeStacks of its own.
func TestDestroyLevelSharesOneListing(t *testing.T) {
	f := newFake()
	f.deleteSeq = []string{"DELETE_IN_PROGRESS", "DELETE_COMPLETE"}
	const n = 20
	ids := map[string]string{}
	for i := range n {
		name := fmt.Sprintf("ns-s%02d", i)
		ids[name] = f.put(name, "CREATE_COMPLETE").id
	}
	var p *Provider
	var want atomic.Int32
	want.Store(n)
	p = New(f, Options{Sleep: gatherSleep(&p, &want), Now: fixedNow})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			name := fmt.Sprintf("ns-s%02d", i)
			o := p.Destroy(context.Background(), &DestroySpec{Name: name, FQN: name}, func(engine.Status) {})
			if got := line(o.Status); got != "complete (stack destroyed)" {
				t.Errorf("%s: %s", name, got)
			}
		}(i)
	}
	wg.Wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	if got := callsBefore(f.calls); !slices.Equal(got, []string{opListing}) {
		t.Errorf("calls before the first DeleteStack: %q, want one listing", got)
	}
	if f.byName != 0 {
		t.Errorf("%d DescribeStacks by name, want none", f.byName)
	}
	for name, id := range ids {
		if f.byID[id] < 1 {
			t.Errorf("%s left the listing without a DescribeStacks of its own", name)
		}
	}
}

// A target whose listing is refused (a role allowed to describe its own
// stacks by name only) costs one failed listing: its first describes are
// then read stack by stack, and the poller does not list again.
func TestDescribeFirstWhenTheListingIsDenied(t *testing.T) {
	f := newFake()
	f.listDenied = true
	f.put("ns-a", "CREATE_COMPLETE")
	var p *Provider
	var want atomic.Int32
	want.Store(3)
	p = New(f, Options{Sleep: gatherSleep(&p, &want), Now: fixedNow})
	names := []string{"ns-a", "ns-b", "ns-c"}
	describe := func() {
		var wg sync.WaitGroup
		for _, name := range names {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st, err := p.describeFirst(context.Background(), name)
				if err != nil || (name == "ns-a") != (st != nil) {
					t.Errorf("%s: %+v, %v", name, st, err)
				}
			}()
		}
		wg.Wait()
	}
	describe()
	describe()
	f.mu.Lock()
	defer f.mu.Unlock()
	if n := strings.Count(strings.Join(f.calls, " "), opListing); n != 1 || f.byName != 6 {
		t.Errorf("%d listings, %d DescribeStacks by name; want 1 and 6 (calls %q)", n, f.byName, f.calls)
	}
}
