package target

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stacker-go/stacker/internal/priority"
)

// fakeClock is a clock that moves only when the test advances it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers map[*fakeTimer]bool
}

type fakeTimer struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), timers: map[*fakeTimer]bool{}}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) (<-chan time.Time, func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{at: c.now.Add(d), ch: make(chan time.Time, 1)}
	if d <= 0 {
		t.ch <- c.now
		return t.ch, func() {}
	}
	c.timers[t] = true
	return t.ch, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.timers, t)
	}
}

// Advance moves the clock and fires the timers due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for t := range c.timers {
		if !t.at.After(c.now) {
			t.ch <- c.now
			delete(c.timers, t)
		}
	}
}

// sleeping reports whether a timer is set for after now: the dispatcher
// has looked at the bucket at the current time and waits for the next
// token.
func (c *fakeClock) sleeping() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for t := range c.timers {
		if t.at.After(c.now) {
			return true
		}
	}
	return false
}

// eventually polls cond until it holds (or fails the test after 5 s of
// real time: the fake clock does not move meanwhile).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// drain empties the bucket through the fast path.
func drain(t *testing.T, l *Limiter) {
	t.Helper()
	for range l.burst {
		if _, ok := l.enqueue(priority.None); !ok {
			t.Fatal("a full bucket made a call wait")
		}
	}
}

// served is a Wait's outcome.
type served struct {
	name string
	err  error
}

// queue starts a Wait per (name, priority) in the order given, each once
// the previous one is queued, so arrival order is the order given.
func queueWaits(t *testing.T, ctx context.Context, l *Limiter, out chan<- served, names []string, prios []float64) {
	t.Helper()
	for i, name := range names {
		before := l.queued()
		go func() {
			out <- served{name, l.Wait(priority.With(ctx, prios[i]))}
		}()
		eventually(t, name+" queued", func() bool { return l.queued() == before+1 })
	}
}

// next advances the clock by one token's time and returns who got it,
// failing when nobody or more than one did.
func next(t *testing.T, c *fakeClock, l *Limiter, out <-chan served) served {
	t.Helper()
	eventually(t, "the dispatcher waits for a token", c.sleeping)
	c.Advance(time.Duration(float64(time.Second) / l.Rate()))
	var s served
	select {
	case s = <-out:
	case <-time.After(5 * time.Second):
		t.Fatal("nobody was served a token")
	}
	if l.queued() > 0 {
		eventually(t, "the dispatcher waits for the next token", c.sleeping)
	}
	select {
	case extra := <-out:
		t.Fatalf("one token served %s and %s", s.name, extra.name)
	default:
	}
	return s
}

func TestLimiterServesHighestPriorityFirst(t *testing.T) {
	tests := []struct {
		name  string
		names []string
		prios []float64
		want  []string
	}{
		{"by priority", []string{"p1", "p5", "p3"}, []float64{1, 5, 3}, []string{"p5", "p3", "p1"}},
		{"ties in arrival order", []string{"a", "b", "c"}, []float64{2, 2, 2}, []string{"a", "b", "c"}},
		{"none ranks lowest, top highest", []string{"lookup", "step", "poll"}, []float64{priority.None, 1, priority.Top}, []string{"poll", "step", "lookup"}},
		{"mixed", []string{"a1", "b4", "c1", "d4", "e9"}, []float64{1, 4, 1, 4, 9}, []string{"e9", "b4", "d4", "a1", "c1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newFakeClock()
			l := newLimiterClock(2, c)
			drain(t, l)
			out := make(chan served, len(tt.names))
			queueWaits(t, context.Background(), l, out, tt.names, tt.prios)
			for i, want := range tt.want {
				s := next(t, c, l, out)
				if s.err != nil || s.name != want {
					t.Fatalf("token %d went to %s (err %v), want %s", i+1, s.name, s.err, want)
				}
			}
		})
	}
}

func TestLimiterCallGoesAtOnceWhenItCan(t *testing.T) {
	c := newFakeClock()
	l := newLimiterClock(4, c)
	for i := range MaxBurst {
		if err := l.Wait(context.Background()); err != nil {
			t.Fatalf("call %d of a full bucket: %v", i+1, err)
		}
	}
	if l.queued() != 0 {
		t.Fatal("a call of a full bucket queued")
	}
	// Half a second later two tokens are back (4 per second).
	c.Advance(500 * time.Millisecond)
	for range 2 {
		if _, ok := l.enqueue(1); !ok {
			t.Fatal("a refilled token was not taken at once")
		}
	}
	if _, ok := l.enqueue(1); ok {
		t.Fatal("an empty bucket let a call through")
	}
}

func TestLimiterCancelledWaiterLeavesQueue(t *testing.T) {
	c := newFakeClock()
	l := newLimiterClock(2, c)
	drain(t, l)
	out := make(chan served, 3)
	ctx, cancel := context.WithCancel(context.Background())
	queueWaits(t, context.Background(), l, out, []string{"a"}, []float64{1})
	queueWaits(t, ctx, l, out, []string{"cancelled"}, []float64{9})
	queueWaits(t, context.Background(), l, out, []string{"b"}, []float64{2})
	cancel()
	s := <-out
	if s.name != "cancelled" || !errors.Is(s.err, context.Canceled) {
		t.Fatalf("got %s %v, want the cancelled waiter's context.Canceled", s.name, s.err)
	}
	eventually(t, "the cancelled waiter left", func() bool { return l.queued() == 2 })
	// Its place does not cost a token: the next two go to b then a.
	for _, want := range []string{"b", "a"} {
		if s := next(t, c, l, out); s.name != want || s.err != nil {
			t.Fatalf("got %s %v, want %s", s.name, s.err, want)
		}
	}
}

func TestLimiterTokenOfCancelledGrantedWaiterComesBack(t *testing.T) {
	c := newFakeClock()
	l := newLimiterClock(2, c)
	drain(t, l)
	w, ok := l.enqueue(5)
	if ok {
		t.Fatal("empty bucket")
	}
	eventually(t, "the dispatcher waits", c.sleeping)
	c.Advance(500 * time.Millisecond)
	<-w.ready // granted, but its context ends before it sees so
	l.leave(w)
	if _, ok := l.enqueue(1); !ok {
		t.Fatal("the token given to a waiter that left was lost")
	}
}

func TestLimiterAlreadyCancelled(t *testing.T) {
	l := newLimiterClock(2, newFakeClock())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait on a cancelled context = %v", err)
	}
	if _, ok := l.enqueue(1); !ok || l.tokens != float64(MaxBurst-1) {
		t.Fatalf("a cancelled Wait spent a token (%v left)", l.tokens)
	}
}

func TestLimiterRateChangesWhileQueued(t *testing.T) {
	c := newFakeClock()
	l := newLimiterClock(2, c) // a token every 500 ms
	drain(t, l)
	out := make(chan served, 3)
	queueWaits(t, context.Background(), l, out, []string{"a", "b", "c"}, []float64{1, 2, 3})
	eventually(t, "the dispatcher waits", c.sleeping)
	l.Throttled() // 1 per second: the waiters wait longer
	c.Advance(500 * time.Millisecond)
	eventually(t, "the dispatcher waits at the new rate", c.sleeping)
	select {
	case s := <-out:
		t.Fatalf("%s served after half a token at the throttled rate", s.name)
	default:
	}
	c.Advance(500 * time.Millisecond)
	if s := <-out; s.name != "c" {
		t.Fatalf("got %s, want c", s.name)
	}
	// Recovery while queued: back up to 2 per second.
	for range 20 {
		l.Succeeded()
	}
	if l.Rate() != 2 {
		t.Fatalf("rate %v, want 2", l.Rate())
	}
	for _, want := range []string{"b", "a"} {
		if s := next(t, c, l, out); s.name != want {
			t.Fatalf("got %s, want %s", s.name, want)
		}
	}
}

// TestLimiterUnderLoad runs many callers of mixed priorities on a real
// clock (for -race): everyone is served or leaves, no token is spent
// twice, and no goroutine is left behind.
func TestLimiterUnderLoad(t *testing.T) {
	before := runtime.NumGoroutine()
	l := newLimiter(400)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	servedN, cancelledN := 0, 0
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx := priority.With(ctx, float64(i%7))
			if i%5 == 0 {
				var c context.CancelFunc
				cctx, c = context.WithTimeout(cctx, time.Duration(i%3)*time.Millisecond)
				defer c()
			}
			err := l.Wait(cctx)
			if i%37 == 0 {
				l.Throttled()
			} else {
				l.Succeeded()
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				cancelledN++
			} else {
				servedN++
			}
		}()
	}
	wg.Wait()
	if servedN+cancelledN != 200 || servedN < 160 {
		t.Fatalf("served %d, cancelled %d of 200", servedN, cancelledN)
	}
	if l.queued() != 0 {
		t.Fatalf("%d still queued", l.queued())
	}
	eventually(t, "the dispatcher stops", func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return !l.dispatching
	})
	eventually(t, "no goroutine left", func() bool { return runtime.NumGoroutine() <= before })
}

// A spare call (the live view's events) goes only while the bucket keeps
// half its burst after it and nobody waits; otherwise it fails at once
// with priority.ErrNotSpared, never queueing or taking a token a status
// poll would need.
func TestLimiterSpareCallsTakeOnlyWhatIsSpare(t *testing.T) {
	c := newFakeClock()
	l := newLimiterClock(4, c) // burst 10
	spare := priority.WithSpare(context.Background())
	for i := range 5 {
		if err := l.Wait(spare); err != nil {
			t.Fatalf("spare call %d of a bucket holding %d: %v", i+1, 10-i, err)
		}
	}
	// 5 tokens left: a spare call would leave 4, under half the burst.
	if err := l.Wait(spare); !errors.Is(err, priority.ErrNotSpared) {
		t.Fatalf("spare call with 5 tokens left: %v, want ErrNotSpared", err)
	}
	// Every token left still serves ordinary calls at once.
	for i := range 5 {
		if _, ok := l.enqueue(1); !ok {
			t.Fatalf("ordinary call %d waited after spare calls were refused", i+1)
		}
	}
	// An ordinary call waits for the next token: no spare call meanwhile.
	out := make(chan served, 1)
	queueWaits(t, context.Background(), l, out, []string{"poll"}, []float64{priority.Top})
	if err := l.Wait(spare); !errors.Is(err, priority.ErrNotSpared) {
		t.Fatalf("spare call while a call waits: %v, want ErrNotSpared", err)
	}
	if got := next(t, c, l, out); got.name != "poll" || got.err != nil {
		t.Fatalf("the waiting call got %+v", got)
	}
	c.Advance(3 * time.Second) // refilled to the burst
	if err := l.Wait(spare); err != nil {
		t.Fatalf("spare call of a refilled bucket: %v", err)
	}
	if l.queued() != 0 {
		t.Fatal("a spare call queued")
	}
}
