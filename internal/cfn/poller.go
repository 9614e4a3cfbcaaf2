package cfn

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/stacker-go/stacker/internal/priority"
)

// poller is the one status poller of a target (a Provider): every stack
// waiting in it reads its status from the same rounds instead of polling on
// its own schedule.
//
// A round reads either the whole listing (DescribeStacks without a name,
// every page) or each waiting stack by id, whichever costs less
// (perStackCheaper): the listing costs one call per page of 100 stacks (a
// real account may hold thousands that are not ours), per-stack polls one
// call per waiting stack.
// Stacks a listing does not show (deleted, or not yet listed) are confirmed
// with one direct call before anyone treats them as gone.
//
// Rounds run only while someone waits. Their interval adapts to what a
// round costs and to the read budget: a round of c calls every
// c / (share × rate) seconds, where rate is the target's current read rate
// (it drops when CloudFormation throttles) and share the part of it the
// poller may use, between minRound and the poll ceiling. A waiter that
// arrives during a round gets the next round's answer, so every answer it
// gets was read after it asked.
//
// First describes (describeFirst) use the poller too: every listing round
// keeps the listing as the target's snapshot, and a stack's first describe
// is answered from a snapshot that started less than snapshotFresh ago
// without any call; otherwise the stack joins the next round as a by-name
// waiter (see describeFirst).
type poller struct {
	p *Provider

	mu      sync.Mutex
	waiting map[string][]chan pollResult // by stack id
	// byName are first describes waiting for a round, by stack name.
	byName  map[string][]chan pollResult
	running bool
	// nextAt is when the sleeping run loop starts its next round (zero
	// while a round is in flight); lastCost what the last round cost and
	// lastWaiting how many stacks it answered.
	nextAt                time.Time
	lastCost, lastWaiting int
	// hurry asks the run loop to start its next round within gatherWindow;
	// wake, while it sleeps, ends the sleep early.
	hurry bool
	wake  context.CancelFunc
	// snap is the last complete listing of the target (nil: none yet).
	snap *snapshot
	// noListing is set once a listing failed for good: every later round
	// reads stack by stack.
	noListing bool
	// pages is how many pages the last listing had (0: never listed).
	pages int
	// pageTime and stackTime are moving averages of how long one listing
	// page and one single-stack DescribeStacks take (0: not measured yet).
	pageTime, stackTime time.Duration
	// rounds counts rounds, for tests.
	rounds int
}

type pollResult struct {
	st  *Stack // nil: the stack is gone (confirmed)
	err error
	// round is the round that answered (1, 2, ...); asked is the last
	// round started when the waiter asked. round-asked is how many rounds
	// the waiter waited: always 1, whatever the throttling (fairness).
	round, asked int
}

// snapshot is one complete listing of a target: every stack DescribeStacks
// without a name showed (the listing omits deleted stacks), by name and by
// id, and when the listing started (a stack changed after that may show
// either state).
type snapshot struct {
	started time.Time
	byName  map[string]*Stack
	byID    map[string]*Stack
}

// snapshotFresh is how old (from the start of its listing) a snapshot may
// be to answer a first describe without a call. Within a run, a stack's
// first describe comes before anything this run does to it, so a snapshot
// can be wrong only about a stack someone else (another run, the console)
// changed since its listing started: the same race a direct call has, with
// a window a few seconds wider. Every such wrong answer is caught by the
// submission it leads to (AlreadyExistsException, "does not exist", "can
// not be updated"); the stack is then read again and decided anew, once
// (launch, destroy), so staleness costs a call, never a failure. 5 s
// covers the rounds of a
// running build (one every 0.1 to 2.5 s at the default budget), so while
// stacks are being waited for, every first describe is free; it is short
// enough that a snapshot from an earlier phase of the run (before a hook, or
// a long wait for a person's approval) is not trusted.
const snapshotFresh = 5 * time.Second

// gatherWindow is how long an idle poller waits after a first describe
// asks before it runs the round, so that the stacks of a graph level that
// become ready together (their goroutines start within microseconds to a
// few milliseconds of each other) share one listing instead of each paying
// a call.
const gatherWindow = 30 * time.Millisecond

// The status poller's spending: the calls per second its rounds may make
// (spend), a part of the target's read budget that grows with what a
// round is worth.
//
//   - pollShare: at least half the budget; the rest serves destroy's
//     confirmations, events, outputs and lookups. This is the pace when few
//     stacks wait (the 300-stack benchmark build: about 1.8 Describe calls
//     per stack).
//   - perWaiter: a round answers every waiting stack at once, so with many
//     waiting it is worth more: up to perWaiter calls per second for each
//     waiting stack (1,000 stacks over 6 targets: 15-20 wait per target, and
//     polling at half the budget made the build 1.46x its critical path,
//     at 90% 1.17x).
//   - pollShareMax: never more than 90% of the budget, so the calls behind
//     the poller's (which always go first, priority.Top) still go.
//   - When -j binds (Options.Backlog: stacks are ready but wait for a slot),
//     every stack seen done a round earlier starts another a round earlier:
//     the poller spends pollShareMax (-j 20 on the 300-stack graph: 1.10x
//     the best schedule at half the budget, 1.07x at the whole).
const (
	pollShare    = 0.5
	pollShareMax = 0.9
	perWaiter    = 0.25
)

// minRound is the shortest interval between two rounds.
const minRound = 100 * time.Millisecond

// next waits for the next round that starts after the call and returns the
// stack's status in it (nil when the stack is confirmed gone).
func (pl *poller) next(ctx context.Context, id string) (*Stack, error) {
	r := pl.nextResult(ctx, id)
	return r.st, r.err
}

// nextResult is next with the round that answered.
func (pl *poller) nextResult(ctx context.Context, id string) pollResult {
	ch := make(chan pollResult, 1)
	pl.mu.Lock()
	asked := pl.join(ctx, &pl.waiting, id, ch, 0)
	pl.mu.Unlock()
	select {
	case r := <-ch:
		r.asked = asked
		return r
	case <-ctx.Done():
		pl.drop(false, id, ch)
		return pollResult{err: ctx.Err()}
	}
}

// join adds a waiter for key to one of the waiting sets and starts the
// run loop, first round after first, when it is idle; it returns the
// rounds started so far (pl.mu held).
func (pl *poller) join(ctx context.Context, set *map[string][]chan pollResult, key string, ch chan pollResult, first time.Duration) int {
	if *set == nil {
		*set = map[string][]chan pollResult{}
	}
	(*set)[key] = append((*set)[key], ch)
	if !pl.running {
		pl.running = true
		go pl.run(context.WithoutCancel(ctx), first)
	}
	return pl.rounds
}

// fresh answers a first describe from the snapshot when it started less
// than snapshotFresh ago: the stack listed (a copy), or nil when it is not
// listed (it does not exist). ok is false without a fresh snapshot.
func (pl *poller) fresh(name string) (st *Stack, ok bool) {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if pl.snap == nil {
		return nil, false
	}
	if age := pl.p.now().Sub(pl.snap.started); age < 0 || age > snapshotFresh {
		return nil, false
	}
	if s := pl.snap.byName[name]; s != nil {
		return s.clone(), true
	}
	return nil, true
}

// byNameResult waits for a round that starts after the call and returns
// the named stack in it (nil when it does not exist). An idle poller
// starts one after gatherWindow. A running poller's next round is joined
// when it starts within gatherWindow, or brought forward to start within
// gatherWindow when it costs one call (it then answers this stack and the
// waiting ones at once: a chain of stacks, each ready as the last
// finishes, does not wait a paced interval for each first describe).
// Otherwise (a round of several per-stack calls paced seconds apart, in an
// account with many stacks not ours) joined is false: the caller reads
// the stack with its own call.
func (pl *poller) byNameResult(ctx context.Context, name string) (r pollResult, joined bool) {
	ch := make(chan pollResult, 1)
	pl.mu.Lock()
	if pl.running {
		soon := !pl.nextAt.IsZero() && pl.nextAt.Sub(pl.p.now()) <= gatherWindow
		if !soon {
			if pl.lastCost > 1 {
				pl.mu.Unlock()
				return pollResult{}, false
			}
			pl.hurry = true
			if pl.wake != nil {
				pl.wake()
			}
		}
	}
	asked := pl.join(ctx, &pl.byName, name, ch, gatherWindow)
	pl.mu.Unlock()
	select {
	case r := <-ch:
		r.asked = asked
		return r, true
	case <-ctx.Done():
		pl.drop(true, name, ch)
		return pollResult{err: ctx.Err()}, true
	}
}

func remove(list []chan pollResult, ch chan pollResult) []chan pollResult {
	for i, c := range list {
		if c == ch {
			return append(list[:i], list[i+1:]...)
		}
	}
	return list
}

// drop takes a waiter whose context ended out of its waiting set (the
// by-name one for a first describe); the set is read under the lock, since
// each round replaces it.
func (pl *poller) drop(byName bool, key string, ch chan pollResult) {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	set := pl.waiting
	if byName {
		set = pl.byName
	}
	if list := remove(set[key], ch); len(list) > 0 {
		set[key] = list
	} else {
		delete(set, key)
	}
}

// interval is the wait before the next round of the given cost, when
// waiting stacks wait.
func (pl *poller) interval(cost, waiting int) time.Duration {
	d := time.Duration(float64(cost) / pl.spend(waiting) * float64(time.Second))
	return min(max(d, minRound), pl.p.pollCeiling)
}

// spend is the calls per second the poller's rounds may make while waiting
// stacks wait (see pollShare).
func (pl *poller) spend(waiting int) float64 {
	r := pl.rate()
	if pl.p.backlog != nil && pl.p.backlog() {
		return pollShareMax * r
	}
	return max(pollShare*r, min(pollShareMax*r, perWaiter*float64(waiting)))
}

// run does rounds while anyone waits. Its context outlives the waiters'
// (a cancelled waiter just leaves); it stops when nobody waits. first is
// the wait before the first round (0: paced like any round).
func (pl *poller) run(ctx context.Context, first time.Duration) {
	ctx = priority.With(ctx, priority.Top) // rounds see stacks finish: never queued behind submissions
	cost := 1
	wait := first
	if wait <= 0 {
		wait = pl.interval(cost, 1)
	}
	stop := func() {
		pl.mu.Lock()
		pl.running, pl.nextAt, pl.wake = false, time.Time{}, nil
		pl.mu.Unlock()
	}
	for {
		// A first describe that asked for it brings the round forward
		// (byNameResult): during the sleep it cancels the sleep's context,
		// and the round follows after gatherWindow.
		pl.mu.Lock()
		if pl.hurry {
			wait = min(wait, gatherWindow)
		}
		sctx, cancel := context.WithCancel(ctx)
		pl.nextAt, pl.wake = pl.p.now().Add(wait), cancel
		pl.mu.Unlock()
		err := pl.p.sleep(sctx, wait)
		cancel()
		if ctx.Err() != nil {
			stop()
			return
		}
		if err != nil {
			// Woken: let the stacks ready with this one join.
			if err := pl.p.sleep(ctx, gatherWindow); err != nil {
				stop()
				return
			}
		}
		pl.mu.Lock()
		pl.nextAt, pl.wake, pl.hurry = time.Time{}, nil, false
		if len(pl.waiting) == 0 && len(pl.byName) == 0 {
			pl.running = false
			pl.mu.Unlock()
			return
		}
		// Only those waiting now get this round's answers.
		batch, names := pl.waiting, pl.byName
		pl.waiting, pl.byName = map[string][]chan pollResult{}, map[string][]chan pollResult{}
		pages, noListing := pl.pages, pl.noListing
		pl.rounds++
		round := pl.rounds
		pl.mu.Unlock()

		ids := make([]string, 0, len(batch))
		for id := range batch {
			ids = append(ids, id)
		}
		nameList := make([]string, 0, len(names))
		for n := range names {
			nameList = append(nameList, n)
		}
		waiting := len(ids) + len(nameList)
		var results, byName map[string]pollResult
		if noListing || pl.perStackCheaper(waiting, pages) {
			results = pl.perStack(ctx, ids)
			byName = pl.perStack(ctx, nameList)
			cost = waiting
		} else {
			results, byName = pl.listing(ctx, ids, nameList)
			pl.mu.Lock()
			cost = max(pl.pages, 1)
			pl.mu.Unlock()
		}
		pl.mu.Lock()
		pl.lastCost, pl.lastWaiting = cost, waiting
		pl.mu.Unlock()
		for _, set := range []struct {
			waiters map[string][]chan pollResult
			res     map[string]pollResult
		}{{batch, results}, {names, byName}} {
			for key, chs := range set.waiters {
				r := set.res[key]
				r.round = round
				for _, ch := range chs {
					ch <- r
				}
			}
		}
		wait = pl.interval(cost, waiting)
	}
}

// perStackCheaper decides a round's kind: per-stack polls of the waiting
// stacks when they cost no more than the listing's pages (pages 0: not
// listed yet, counted as 1). A call costs the larger of its share of the
// read budget and its measured time: at the default budget (4 reads/s,
// half of it for the poller, so 500 ms a call) the budget dominates, and
// the crossover is in calls: per-stack while waiting <= pages. Measured on
// the sandbox (BenchmarkPollRound): a page of 100 stacks takes 7-16 ms,
// a single-stack call 0.2-0.6 ms, so only above about 100 reads/s does a
// page's time make the listing dearer than its call count says.
func (pl *poller) perStackCheaper(waiting, pages int) bool {
	budget := time.Duration(float64(time.Second) / (pollShare * pl.rate()))
	pl.mu.Lock()
	pageT, stackT := pl.pageTime, pl.stackTime
	pl.mu.Unlock()
	perStack := time.Duration(waiting) * max(budget, stackT)
	listing := time.Duration(max(pages, 1)) * max(budget, pageT)
	return perStack <= listing
}

// observe folds one call's time into a moving average (weight 1/5).
func observe(avg *time.Duration, d time.Duration) {
	if *avg == 0 {
		*avg = d
		return
	}
	*avg += (d - *avg) / 5
}

// rate is the target's current read rate (4 when unknown).
func (pl *poller) rate() float64 {
	if pl.p.readRate != nil {
		if r := pl.p.readRate(); r > 0 {
			return r
		}
	}
	return 4.0
}

// perStack reads each stack by id (or, for first describes, by name).
func (pl *poller) perStack(ctx context.Context, ids []string) map[string]pollResult {
	out := make(map[string]pollResult, len(ids))
	for _, id := range ids {
		start := time.Now()
		st, err := pl.p.Describe(ctx, id)
		if err == nil {
			pl.mu.Lock()
			observe(&pl.stackTime, time.Since(start))
			pl.mu.Unlock()
		}
		out[id] = pollResult{st: st, err: err}
	}
	return out
}

// listing reads every page of DescribeStacks, keeps it as the target's
// snapshot and answers each waiting stack from it: by id (those it does
// not show are confirmed one by one) and by name (those it does not show
// do not exist: the listing omits deleted stacks).
func (pl *poller) listing(ctx context.Context, ids, names []string) (map[string]pollResult, map[string]pollResult) {
	snap := &snapshot{started: pl.p.now(), byName: map[string]*Stack{}, byID: map[string]*Stack{}}
	var token *string
	pages := 0
	for {
		var out *cloudformation.DescribeStacksOutput
		start := time.Now()
		err := pl.p.doRead(ctx, func() error {
			var err error
			out, err = pl.p.read.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{NextToken: token})
			return err
		})
		if err != nil {
			// The listing failed (not transiently: a role allowed to
			// describe its stacks by name only, say): fall back to asking
			// each stack, which also names the failing stack in errors,
			// and do not list again in this run.
			slog.Debug("cfn: listing the target's stacks failed; polling stack by stack from now on", "err", err)
			pl.mu.Lock()
			pl.noListing = true
			pl.mu.Unlock()
			return pl.perStack(ctx, ids), pl.perStack(ctx, names)
		}
		pages++
		pl.mu.Lock()
		observe(&pl.pageTime, time.Since(start))
		pl.mu.Unlock()
		for _, s := range out.Stacks {
			st := fromSDK(s)
			snap.byID[st.ID] = st
			if st.Status != "DELETE_COMPLETE" {
				snap.byName[st.Name] = st
			}
		}
		token = out.NextToken
		if aws.ToString(token) == "" {
			break
		}
	}
	pl.mu.Lock()
	pl.pages = pages
	if pl.snap == nil || !snap.started.Before(pl.snap.started) {
		pl.snap = snap
	}
	pl.mu.Unlock()
	res := make(map[string]pollResult, len(ids))
	var missing []string
	for _, id := range ids {
		if st, ok := snap.byID[id]; ok {
			res[id] = pollResult{st: st.clone()}
		} else {
			missing = append(missing, id)
		}
	}
	for id, r := range pl.perStack(ctx, missing) {
		res[id] = r
	}
	byName := make(map[string]pollResult, len(names))
	for _, n := range names {
		var st *Stack
		if s := snap.byName[n]; s != nil {
			st = s.clone()
		}
		byName[n] = pollResult{st: st}
	}
	return res, byName
}
