package target

import (
	"container/heap"
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stacker-go/stacker/internal/priority"
)

// Limiter is one token bucket of a budget whose rate backs off when the
// service throttles and recovers as calls succeed (additive increase,
// multiplicative decrease), shared by every goroutine and client that uses
// it. Every attempt of every call, the SDK's retries included, waits on it.
//
// When the bucket is empty, callers queue and each token, as it refills,
// goes to the waiter of the highest priority (priority.From of its
// context; ties in arrival order): the engine gives each stack's calls its
// longest remaining chain, so a submission on the critical chain does not
// wait behind stacks with nothing after them, and the status poller's
// rounds rank above everything. A call that can go at once goes.
type Limiter struct {
	ceiling float64 // the configured rate: recovery never exceeds it
	floor   float64
	burst   int
	clock   clock

	throttles atomic.Int64

	mu     sync.Mutex
	limit  float64   // current rate, calls per second
	tokens float64   // at last
	last   time.Time // when tokens was last brought up to date
	queue  waitQueue
	seq    uint64
	// dispatching is whether the goroutine handing tokens to waiters
	// runs; it runs only while someone waits.
	dispatching bool
	// wake tells the dispatcher to recompute its wait (the rate changed,
	// a token came back, a waiter arrived or left).
	wake chan struct{}
}

// clock is the time source of a Limiter (a fake in tests).
type clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed, and a
	// function that stops it.
	After(d time.Duration) (<-chan time.Time, func())
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }
func (realClock) After(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTimer(d)
	return t.C, func() { t.Stop() }
}

func newLimiter(rps float64) *Limiter { return newLimiterClock(rps, realClock{}) }

func newLimiterClock(rps float64, c clock) *Limiter {
	b := burst(rps)
	return &Limiter{
		ceiling: rps, floor: rps / 16, burst: b, clock: c,
		limit: rps, tokens: float64(b), last: c.Now(),
		wake: make(chan struct{}, 1),
	}
}

// burst is MaxBurst, CloudFormation's own: a budget's rate stays below the
// service's, so a burst as large as the service's never trips it, and a
// level of the graph whose stacks become ready at once (up to 10 first
// Describes, 10 submissions per target) starts without queueing. Below 1
// call per second the burst is the calls of 10 seconds, at least 1.
func burst(rps float64) int {
	return max(1, min(MaxBurst, int(math.Ceil(10*rps))))
}

// waiter is one call queued on a Limiter.
type waiter struct {
	prio    float64
	seq     uint64
	ready   chan struct{} // closed when it is given a token
	granted bool
	index   int // in the queue; -1 once out of it
}

// waitQueue is a heap of waiters: highest priority first, then arrival.
type waitQueue []*waiter

func (q waitQueue) Len() int { return len(q) }
func (q waitQueue) Less(a, b int) bool {
	if q[a].prio != q[b].prio {
		return q[a].prio > q[b].prio
	}
	return q[a].seq < q[b].seq
}
func (q waitQueue) Swap(a, b int) {
	q[a], q[b] = q[b], q[a]
	q[a].index, q[b].index = a, b
}
func (q *waitQueue) Push(x any) {
	w := x.(*waiter)
	w.index = len(*q)
	*q = append(*q, w)
}
func (q *waitQueue) Pop() any {
	old := *q
	w := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	w.index = -1
	return w
}

// tokenEpsilon absorbs floating-point error in the refill: a bucket
// this close to a whole token has it.
const tokenEpsilon = 1e-9

// refill brings tokens up to now at the current rate (l.mu held).
func (l *Limiter) refill(now time.Time) {
	if d := now.Sub(l.last); d > 0 {
		l.tokens = min(float64(l.burst), l.tokens+d.Seconds()*l.limit)
		l.last = now
	}
}

// Wait blocks until the budget allows one call or ctx ends. It returns
// ctx's error when ctx ends first; the caller then makes no call and no
// token is spent.
func (l *Limiter) Wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if priority.IsSpare(ctx) {
		if l.spare() {
			return nil
		}
		return priority.ErrNotSpared
	}
	w, ok := l.enqueue(priority.From(ctx))
	if ok {
		return nil
	}
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		l.leave(w)
		return ctx.Err()
	}
}

// enqueue takes a token at once when one is there and nobody waits
// (true), or queues a waiter of priority p.
func (l *Limiter) enqueue(p float64) (*waiter, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.refill(l.clock.Now())
	if len(l.queue) == 0 && l.tokens >= 1-tokenEpsilon {
		l.tokens--
		return nil, true
	}
	w := &waiter{prio: p, seq: l.seq, ready: make(chan struct{})}
	l.seq++
	heap.Push(&l.queue, w)
	l.kick()
	return w, false
}

// spare takes a token for a spare call (priority.WithSpare) when nobody
// waits and, after it, at least half the burst is left for the calls that
// matter (the status poller's next round).
func (l *Limiter) spare() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.refill(l.clock.Now())
	if len(l.queue) > 0 || l.tokens < 1+float64(l.burst/2)-tokenEpsilon {
		return false
	}
	l.tokens--
	return true
}

// leave takes a waiter whose context ended out of the queue; when it was
// given a token meanwhile, the token goes back to the bucket (and so to
// the next waiter).
func (l *Limiter) leave(w *waiter) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if w.granted {
		l.refill(l.clock.Now())
		l.tokens = min(float64(l.burst), l.tokens+1)
	} else if w.index >= 0 {
		heap.Remove(&l.queue, w.index)
	}
	if len(l.queue) > 0 {
		l.kick()
	}
}

// kick starts the dispatcher, or wakes it to recompute (l.mu held).
func (l *Limiter) kick() {
	if !l.dispatching {
		l.dispatching = true
		go l.dispatch()
		return
	}
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// dispatch hands tokens, as they refill, to the highest-priority waiter,
// and returns when nobody waits.
func (l *Limiter) dispatch() {
	l.mu.Lock()
	for {
		if len(l.queue) == 0 {
			l.dispatching = false
			l.mu.Unlock()
			return
		}
		l.refill(l.clock.Now())
		if l.tokens >= 1-tokenEpsilon {
			l.tokens--
			w := heap.Pop(&l.queue).(*waiter)
			w.granted = true
			close(w.ready)
			continue
		}
		var fired <-chan time.Time
		stop := func() {}
		if l.limit > 0 {
			need := (1 - l.tokens) / l.limit
			fired, stop = l.clock.After(time.Duration(math.Ceil(need * float64(time.Second))))
		}
		l.mu.Unlock()
		select {
		case <-fired:
		case <-l.wake:
		}
		stop()
		l.mu.Lock()
	}
}

// setLimit changes the rate from now on (l.mu held): tokens earned so far
// were earned at the old rate.
func (l *Limiter) setLimit(r float64) {
	l.refill(l.clock.Now())
	l.limit = r
	if len(l.queue) > 0 {
		l.kick()
	}
}

// Rate is the current rate in calls per second.
func (l *Limiter) Rate() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.limit
}

// Ceiling is the configured rate.
func (l *Limiter) Ceiling() float64 { return l.ceiling }

// Throttles is how many calls the service throttled so far.
func (l *Limiter) Throttles() int64 { return l.throttles.Load() }

// Throttled halves the rate (not below a sixteenth of the ceiling) after the
// service refused a call for its rate.
func (l *Limiter) Throttled() {
	l.throttles.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.setLimit(max(l.limit/2, l.floor))
}

// Succeeded adds a twentieth of the ceiling to the rate, up to the ceiling.
func (l *Limiter) Succeeded() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.limit >= l.ceiling {
		return
	}
	l.setLimit(min(l.limit+l.ceiling/20, l.ceiling))
}

// queued is how many calls wait (for tests).
func (l *Limiter) queued() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.queue)
}
