package cfn

import (
	"context"
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
type poller struct {
	p *Provider

	mu      sync.Mutex
	waiting map[string][]chan pollResult // by stack id
	running bool
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

// pollShare is the part of a target's read budget the status poller may
// use; the rest serves first Describes, outputs, events and lookups.
const pollShare = 0.5

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
	if pl.waiting == nil {
		pl.waiting = map[string][]chan pollResult{}
	}
	pl.waiting[id] = append(pl.waiting[id], ch)
	asked := pl.rounds
	if !pl.running {
		pl.running = true
		go pl.run(context.WithoutCancel(ctx))
	}
	pl.mu.Unlock()
	select {
	case r := <-ch:
		r.asked = asked
		return r
	case <-ctx.Done():
		pl.drop(id, ch)
		return pollResult{err: ctx.Err()}
	}
}

func (pl *poller) drop(id string, ch chan pollResult) {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	list := pl.waiting[id]
	for i, c := range list {
		if c == ch {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(pl.waiting, id)
	} else {
		pl.waiting[id] = list
	}
}

// interval is the wait before the next round of the given cost.
func (pl *poller) interval(cost int) time.Duration {
	d := time.Duration(float64(cost) / (pollShare * pl.rate()) * float64(time.Second))
	return min(max(d, minRound), pl.p.pollCeiling)
}

// run does rounds while anyone waits. Its context outlives the waiters'
// (a cancelled waiter just leaves); it stops when nobody waits.
func (pl *poller) run(ctx context.Context) {
	ctx = priority.With(ctx, priority.Top) // rounds see stacks finish: never queued behind submissions
	cost := 1
	for {
		// The first round after a submission comes quickly (a stack that
		// finishes in 200 ms is seen done soon); later ones are paced.
		if err := pl.p.sleep(ctx, pl.interval(cost)); err != nil {
			return
		}
		pl.mu.Lock()
		if len(pl.waiting) == 0 {
			pl.running = false
			pl.mu.Unlock()
			return
		}
		// Only those waiting now get this round's answers.
		batch := pl.waiting
		pl.waiting = map[string][]chan pollResult{}
		pages := pl.pages
		pl.rounds++
		round := pl.rounds
		pl.mu.Unlock()

		ids := make([]string, 0, len(batch))
		for id := range batch {
			ids = append(ids, id)
		}
		var results map[string]pollResult
		if pl.perStackCheaper(len(ids), pages) {
			results = pl.perStack(ctx, ids)
			cost = len(ids)
		} else {
			results = pl.listing(ctx, ids)
			pl.mu.Lock()
			cost = max(pl.pages, 1)
			pl.mu.Unlock()
		}
		for id, chs := range batch {
			r := results[id]
			r.round = round
			for _, ch := range chs {
				ch <- r
			}
		}
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

// perStack reads each stack by id.
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

// listing reads every page of DescribeStacks and answers each waiting
// stack from it; those it does not show are confirmed one by one.
func (pl *poller) listing(ctx context.Context, ids []string) map[string]pollResult {
	byID := map[string]*Stack{}
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
			// The listing failed (not transiently): fall back to asking
			// each stack, which also names the failing stack in errors.
			return pl.perStack(ctx, ids)
		}
		pages++
		pl.mu.Lock()
		observe(&pl.pageTime, time.Since(start))
		pl.mu.Unlock()
		for _, s := range out.Stacks {
			st := fromSDK(s)
			byID[st.ID] = st
		}
		token = out.NextToken
		if aws.ToString(token) == "" {
			break
		}
	}
	pl.mu.Lock()
	pl.pages = pages
	pl.mu.Unlock()
	res := make(map[string]pollResult, len(ids))
	var missing []string
	for _, id := range ids {
		if st, ok := byID[id]; ok {
			res[id] = pollResult{st: st}
		} else {
			missing = append(missing, id)
		}
	}
	for id, r := range pl.perStack(ctx, missing) {
		res[id] = r
	}
	return res
}
