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

// A first describe does not wait long for a running poller: when its next
// round is more than maxNameWait away (per-stack rounds paced seconds
// apart), the stack is read with its own call.
func TestDescribeFirstDoesNotWaitForASlowRound(t *testing.T) {
	f := newFake()
	f.put("ns-a", "CREATE_COMPLETE")
	clock := &testClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	p := New(f, Options{Sleep: noSleep, Now: clock.now})
	p.poll.mu.Lock()
	p.poll.running = true
	p.poll.nextAt = clock.now().Add(maxNameWait + time.Second)
	p.poll.mu.Unlock()
	st, err := p.describeFirst(context.Background(), "ns-a")
	if err != nil || st == nil || st.Status != "CREATE_COMPLETE" {
		t.Fatalf("got %+v, %v", st, err)
	}
	if f.byName != 1 || p.poll.rounds != 0 {
		t.Errorf("%d calls by name, %d rounds; want its own call", f.byName, p.poll.rounds)
	}
}
