package cfn

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/stacker-go/stacker/internal/priority"
)

// throttledCFN answers DescribeStacks only, throttling a fraction of the
// calls (seeded). Its stacks are ours (in progress until their doneAt-th
// successful read, listing or direct) and foreign ones (complete), listed
// 100 a page.
type throttledCFN struct {
	API // only DescribeStacks is called

	mu        sync.Mutex
	rnd       *rand.Rand
	throttle  float64
	ids       []string // listing order: ours, then foreign
	doneAt    map[string]int
	served    map[string]int // successful reads of each of ours
	calls     int
	throttled int
}

func (f *throttledCFN) status(id string) string {
	if at, ok := f.doneAt[id]; ok {
		f.served[id]++
		if f.served[id] < at {
			return "CREATE_IN_PROGRESS"
		}
	}
	return "CREATE_COMPLETE"
}

func (f *throttledCFN) DescribeStacks(ctx context.Context, in *cloudformation.DescribeStacksInput, _ ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.rnd.Float64() < f.throttle {
		f.throttled++
		return nil, apiErr("Throttling", "Rate exceeded")
	}
	stack := func(id string) types.Stack {
		return types.Stack{StackId: aws.String(id), StackName: aws.String(id), StackStatus: types.StackStatus(f.status(id))}
	}
	if in.StackName != nil {
		return &cloudformation.DescribeStacksOutput{Stacks: []types.Stack{stack(*in.StackName)}}, nil
	}
	start := 0
	if in.NextToken != nil {
		start, _ = strconv.Atoi(*in.NextToken)
	}
	end := min(start+100, len(f.ids))
	out := &cloudformation.DescribeStacksOutput{}
	for _, id := range f.ids[start:end] {
		out.Stacks = append(out.Stacks, stack(id))
	}
	if end < len(f.ids) {
		out.NextToken = aws.String(strconv.Itoa(end))
	}
	return out, nil
}

// Fairness under a saturated read budget: at 90% throttling of
// DescribeStacks every waiting stack is served by every round (a round
// retries its throttled calls until they succeed, for everyone at once),
// so every ask is answered by the next round that starts (the one in
// flight when it asked does not serve it): no stack waits more than one
// round for a status, and every stack finishes. Measured in rounds, not
// wall time.
func TestPollerServesEveryWaiterEachRoundUnderHeavyThrottling(t *testing.T) {
	for _, tc := range []struct {
		name          string
		ours, foreign int
		wantPerStack  bool // few waiters among many foreign stacks: per-stack polls
		throttle      float64
		maxWait       int
	}{
		{name: "listing, 40 waiting among 160 foreign", ours: 40, foreign: 160, throttle: 0.9, maxWait: 1},
		{name: "per-stack, 2 waiting among 900 foreign", ours: 2, foreign: 900, wantPerStack: true, throttle: 0.9, maxWait: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &throttledCFN{rnd: rand.New(rand.NewPCG(7, 7)), throttle: tc.throttle, doneAt: map[string]int{}, served: map[string]int{}}
			for i := range tc.ours {
				id := fmt.Sprintf("ours-%02d", i)
				f.ids = append(f.ids, id)
				f.doneAt[id] = 3 + i%7 // finishing at different rounds
			}
			for i := range tc.foreign {
				f.ids = append(f.ids, fmt.Sprintf("foreign-%04d", i))
			}
			p := New(f, Options{
				ReadRate: func() float64 { return 1e6 }, // rounds back to back: the throttles saturate
				Sleep: func(ctx context.Context, d time.Duration) error {
					time.Sleep(100 * time.Microsecond)
					return ctx.Err()
				},
			})
			if tc.wantPerStack {
				// Learn the listing's size first, as a run does once it
				// has listed.
				p.poll.pages = (tc.ours + tc.foreign + 99) / 100
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			type seen struct {
				waits     []int // rounds waited per ask
				doneRound int
			}
			got := make([]seen, tc.ours)
			var wg sync.WaitGroup
			for i := range tc.ours {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					id := f.ids[i]
					for {
						r := p.poll.nextResult(ctx, id)
						if r.err != nil {
							t.Errorf("%s: %v", id, r.err)
							return
						}
						got[i].waits = append(got[i].waits, r.round-r.asked)
						if r.st != nil && !InProgress(r.st.Status) {
							got[i].doneRound = r.round
							return
						}
					}
				}(i)
			}
			wg.Wait()
			if f.throttled*10 < f.calls*8 {
				t.Fatalf("only %d of %d calls throttled", f.throttled, f.calls)
			}
			for i, s := range got {
				// Ticks without status: rounds waited for each answer.
				if m := slices.Max(s.waits); m > tc.maxWait {
					t.Errorf("%s waited %d rounds for a status (per ask: %v)", f.ids[i], m, s.waits)
				}
				if s.doneRound == 0 {
					t.Errorf("%s never finished", f.ids[i])
				}
			}
			if tc.wantPerStack && f.calls > 0 && p.poll.pages != (tc.ours+tc.foreign+99)/100 {
				t.Errorf("the poller listed (%d pages) where per-stack polls were cheaper", p.poll.pages)
			}
			t.Logf("%d rounds, %d DescribeStacks calls, %d throttled", p.poll.rounds, f.calls, f.throttled)
		})
	}
}

// The round's kind follows the measured crossover: at the default budget
// a call costs 500 ms of the poller's share whatever it reads, so
// per-stack polls win while the waiting stacks are no more than the
// listing's pages; at a high read rate the measured time of a page (15 ms
// on the sandbox against 0.5 ms for one stack) moves the crossover.
func TestPollerPerStackCheaperFollowsTheCrossover(t *testing.T) {
	for _, tc := range []struct {
		name           string
		rate           float64
		pageT, stackT  time.Duration
		waiting, pages int
		wantPerStack   bool
	}{
		{"one waiting, never listed", 4, 0, 0, 1, 0, true},
		{"two waiting, never listed", 4, 0, 0, 2, 0, false},
		{"10 waiting, 1,000 foreign stacks", 4, 15 * time.Millisecond, time.Millisecond / 2, 10, 10, true},
		{"11 waiting, 1,000 foreign stacks", 4, 15 * time.Millisecond, time.Millisecond / 2, 11, 10, false},
		{"50 waiting, 30 pages", 4, 15 * time.Millisecond, time.Millisecond / 2, 50, 30, false},
		{"fast budget: 7 waiting cost less than one slow page", 1000, 15 * time.Millisecond, time.Millisecond / 2, 7, 1, true},
		{"fast budget: 8 waiting cost more", 1000, 15 * time.Millisecond, time.Millisecond / 2, 8, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := New(nil, Options{ReadRate: func() float64 { return tc.rate }})
			p.poll.pageTime, p.poll.stackTime = tc.pageT, tc.stackT
			if got := p.poll.perStackCheaper(tc.waiting, tc.pages); got != tc.wantPerStack {
				t.Errorf("perStackCheaper(%d waiting, %d pages) = %v", tc.waiting, tc.pages, got)
			}
		})
	}
}

// A round's interval follows what it is worth: half the read budget while
// few stacks wait, a quarter call per second for each waiting stack when
// more wait, never more than 90% of the budget, and 90% whenever -j
// binds (stacks wait for a slot).
func TestPollerSpendFollowsTheWaitingStacksAndTheBacklog(t *testing.T) {
	for _, tc := range []struct {
		name    string
		rate    float64
		waiting int
		backlog bool
		want    time.Duration // interval of a one-call round
	}{
		{"one waiting: half the budget", 4, 1, false, 500 * time.Millisecond},
		{"eight waiting: still half", 4, 8, false, 500 * time.Millisecond},
		{"ten waiting: 2.5 calls/s", 4, 10, false, 400 * time.Millisecond},
		{"twenty waiting: capped at 90%", 4, 20, false, time.Second * 10 / 36},
		{"-j binds: 90% with one waiting", 4, 1, true, time.Second * 10 / 36},
		{"throttled to 1/s: half of it", 1, 1, false, 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := New(nil, Options{ReadRate: func() float64 { return tc.rate }, Backlog: func() bool { return tc.backlog }})
			got := p.poll.interval(1, tc.waiting)
			if d := got - tc.want; d < -time.Millisecond || d > time.Millisecond {
				t.Errorf("interval(1 call, %d waiting) = %v, want %v", tc.waiting, got, tc.want)
			}
		})
	}
}

// spareAPI refuses DescribeStackEvents as a budget with nothing to spare
// would (priority.ErrNotSpared) while refuse is set, and records whether
// each call was marked spare.
type spareAPI struct {
	*fakeCFN
	refuse bool
	spare  []bool
}

func (a *spareAPI) DescribeStackEvents(ctx context.Context, in *cloudformation.DescribeStackEventsInput, o ...func(*cloudformation.Options)) (*cloudformation.DescribeStackEventsOutput, error) {
	a.spare = append(a.spare, priority.IsSpare(ctx))
	if a.refuse && priority.IsSpare(ctx) {
		return nil, priority.ErrNotSpared
	}
	return a.fakeCFN.DescribeStackEvents(ctx, in, o...)
}

// A live view's tail (TailSpare) reads a stack's events as spare calls, at
// most every 2 s; a call the budget could not spare is tried again on the
// next poll, not 2 s later. --tail's reads are ordinary calls, every poll.
func TestLiveViewTailReadsOnlySpareCallsEveryTwoSeconds(t *testing.T) {
	for _, tc := range []struct {
		name      string
		spare     bool
		refuse    bool
		wantCalls int // of 5 polls, 1 s apart
		wantEmits int
	}{
		{"live view", true, false, 3, 1},               // at 0, 2 and 4 s
		{"live view, nothing spare", true, true, 5, 0}, // tried every poll, none read
		{"--tail", false, false, 5, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			s := f.put("ns-a", "CREATE_IN_PROGRESS")
			clock := &testClock{t: f.now}
			api := &spareAPI{fakeCFN: f, refuse: tc.refuse}
			p := New(api, Options{Sleep: noSleep, Now: clock.now})
			f.event(s, "Handle", "AWS::CloudFormation::WaitConditionHandle", "CREATE_IN_PROGRESS", "")
			emits := 0
			tl := &tailer{seen: map[string]bool{}, spare: tc.spare, emit: func(Event) { emits++ }}
			for range 5 {
				tl.poll(context.Background(), p, s.id)
				clock.add(time.Second)
			}
			if len(api.spare) != tc.wantCalls || emits != tc.wantEmits {
				t.Errorf("%d DescribeStackEvents, %d events emitted; want %d, %d", len(api.spare), emits, tc.wantCalls, tc.wantEmits)
			}
			for i, sp := range api.spare {
				if sp != tc.spare {
					t.Errorf("call %d spare=%v, want %v", i+1, sp, tc.spare)
				}
			}
		})
	}
}
