package ui

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stacker-go/stacker/internal/event"
)

// syncBuffer is a bytes.Buffer safe for the writers of a test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestConverseHoldsOtherLines: while a conversation waits for its answer,
// another stack's status line is held back (its goroutine is not blocked)
// and written after the conversation, never inside it.
func TestConverseHoldsOtherLines(t *testing.T) {
	in, answer := io.Pipe()
	var out syncBuffer
	off := false
	c := NewConsole(in, &out, &out)
	c.Colour, c.Clock = &off, func() time.Time { return t0 }
	p := NewPlain(c)
	asked := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- c.Converse(context.Background(), func(tn *Turn) error {
			tn.Print("ns-a changes:\n- Modify Q (AWS::SQS::Queue)\n")
			close(asked)
			a, err := tn.Ask(context.Background(), "Execute the above changes? [y/n/v] ")
			if err == nil && a != "y" {
				err = errors.New("answer " + a)
			}
			return err
		})
	}()
	<-asked
	emitted := make(chan struct{})
	go func() {
		p.Emit(event.StackStatus{Stack: event.Stack{Name: "b"}, State: event.Complete, Reason: "creating new stack", Outcome: event.OutcomeCreated})
		close(emitted)
	}()
	select {
	case <-emitted: // the other stack is not blocked by the question
	case <-time.After(30 * time.Second):
		t.Fatal("another stack's line blocked while a question waits")
	}
	if strings.Contains(out.String(), "b: complete") {
		t.Fatalf("a line was written inside the conversation:\n%s", out.String())
	}
	io.WriteString(answer, "y\n")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := out.String()
	want := "ns-a changes:\n- Modify Q (AWS::SQS::Queue)\nExecute the above changes? [y/n/v] "
	if !strings.HasPrefix(got, want) || !strings.Contains(got[len(want):], "b: complete (creating new stack)") {
		t.Errorf("output:\n%q", got)
	}
}

// TestConverseOneAtATime: a second conversation waits for the first to
// end; its context ends the wait.
func TestConverseOneAtATime(t *testing.T) {
	in, answer := io.Pipe()
	var out syncBuffer
	c := NewConsole(in, &out, &out)
	first := make(chan struct{})
	done := make(chan struct{})
	go func() {
		c.Converse(context.Background(), func(tn *Turn) error {
			close(first)
			_, err := tn.Ask(context.Background(), "first? ")
			return err
		})
		close(done)
	}()
	<-first
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	ran := false
	err := c.Converse(ctx, func(*Turn) error { ran = true; return nil })
	if !errors.Is(err, context.DeadlineExceeded) || ran {
		t.Fatalf("second conversation: err %v, ran %v", err, ran)
	}
	io.WriteString(answer, "n\n")
	<-done
	if err := c.Converse(context.Background(), func(*Turn) error { ran = true; return nil }); err != nil || !ran {
		t.Fatalf("after the first ended: err %v, ran %v", err, ran)
	}
}

// TestAskInterrupted: a cancelled context ends the wait for an answer;
// the line typed later goes to the next question.
func TestAskInterrupted(t *testing.T) {
	in, answer := io.Pipe()
	var out syncBuffer
	c := NewConsole(in, &out, &out)
	ctx, cancel := context.WithCancel(context.Background())
	err := c.Converse(context.Background(), func(tn *Turn) error {
		go func() { time.Sleep(20 * time.Millisecond); cancel() }()
		_, err := tn.Ask(ctx, "q1? ")
		return err
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want canceled", err)
	}
	go io.WriteString(answer, "later\n")
	var got string
	err = c.Converse(context.Background(), func(tn *Turn) error {
		var err error
		got, err = tn.Ask(context.Background(), "q2? ")
		return err
	})
	if err != nil || got != "later" {
		t.Fatalf("next answer %q, %v", got, err)
	}
}

// TestConversePausesLiveView: the view is erased when a conversation
// starts, not redrawn by the timer while it waits, and drawn again after.
func TestConversePausesLiveView(t *testing.T) {
	var out syncBuffer
	off := false
	now := t0
	c := NewConsole(strings.NewReader("y\n"), &out, &out)
	c.Clock, c.Colour = func() time.Time { return now }, &off
	l := NewLive(c, 100, false)
	for _, e := range sampleBuild()[:3] {
		l.Emit(e)
	}
	before := strings.Count(out.String(), "\033[J")
	err := c.Converse(context.Background(), func(tn *Turn) error {
		l.Tick() // the timer must not draw while the question is on screen
		if n := strings.Count(out.String(), "\033[J"); n != before+1 {
			t.Errorf("view erased %d times during the conversation, want once", n-before)
		}
		_, err := tn.Ask(context.Background(), "Execute the above changes? [y/n/v] ")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if i := strings.LastIndex(got, "Execute the above changes? [y/n/v] "); i < 0 || !strings.Contains(got[i:], "stacks done") {
		t.Errorf("view not drawn again after the question:\n%q", got)
	}
	l.Stop()
}

// TestErrWriterHeldDuringConversation: log lines written through the
// console (slog) wait for the question's answer too.
func TestErrWriterHeldDuringConversation(t *testing.T) {
	var out syncBuffer
	c := NewConsole(strings.NewReader("y\n"), &out, &out)
	err := c.Converse(context.Background(), func(tn *Turn) error {
		io.WriteString(c.ErrWriter(), "level=DEBUG msg=poll\n")
		_, err := tn.Ask(context.Background(), "q? ")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "q? level=DEBUG msg=poll\n" {
		t.Errorf("output %q", got)
	}
}
