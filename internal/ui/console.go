// Package ui owns what a person sees: status lines, event tails, summaries
// and prompts. Every write and every prompt goes through one Console so a
// prompt (MFA code, approval) pauses status output.
package ui

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// Console serializes output lines and prompts.
type Console struct {
	mu     sync.Mutex
	In     io.Reader
	Out    io.Writer // stdout
	ErrOut io.Writer // stderr: status lines and logs
	reader *bufio.Reader

	// Clock gives the time printed on status lines (nil: time.Now).
	Clock func() time.Time
	// Colour forces colour on or off; nil decides: colour only when ErrOut
	// is a terminal and NO_COLOR is unset.
	Colour *bool

	// live is the live view drawn below the lines (TTY), erased before
	// anything else is written and drawn again after; nil when none.
	live liveArea
	// onPrompt is told of every question asked (the json renderer reports
	// prompts); called with the lock held, never with the answer.
	onPrompt func(t time.Time, label string, secret bool)

	// turn is held by the one conversation (Converse, Prompt) talking to
	// the person; the others queue for it. Created on first use.
	turn chan struct{}
	// holding is set while a conversation waits for an answer: other
	// writes are kept in held, in order, and written when it ends, so
	// they never interleave with the question (see Converse).
	holding bool
	held    []heldWrite
	// pending is the line read in progress: a read a cancelled question
	// left behind is collected by the next question.
	pending chan readResult
}

type heldWrite struct {
	w io.Writer
	s string
}

type readResult struct {
	line string
	err  error
}

// liveArea is a view redrawn in place under the console's lines. Both
// methods are called with the console's lock held.
type liveArea interface {
	erase()
	draw()
}

// write writes s to w under the held lock, with the live view (if any)
// erased first and drawn again after.
func (c *Console) write(w io.Writer, s string) {
	if c.holding {
		c.held = append(c.held, heldWrite{w, s})
		return
	}
	if c.live != nil {
		c.live.erase()
		defer c.live.draw()
	}
	io.WriteString(w, s)
}

// ErrWriter is ErrOut through the console: each Write is one line (or
// block) written under the lock, erasing and redrawing the live view, and
// held while a conversation waits for its answer. Point log/slog at it so
// diagnostics never cut into a question.
func (c *Console) ErrWriter() io.Writer { return consoleWriter{c} }

type consoleWriter struct{ c *Console }

func (w consoleWriter) Write(p []byte) (int, error) {
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	w.c.write(w.c.ErrOut, string(p))
	return len(p), nil
}

// NewConsole returns a Console over the given streams.
func NewConsole(in io.Reader, out, errOut io.Writer) *Console {
	return &Console{In: in, Out: out, ErrOut: errOut}
}

// Errorf writes one line to ErrOut under the console lock.
func (c *Console) Errorf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.write(c.ErrOut, fmt.Sprintf(format, args...))
}

// Outf writes to Out under the console lock.
func (c *Console) Outf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.write(c.Out, fmt.Sprintf(format, args...))
}

// ErrNoTerminal is returned by Prompt when no person can answer.
var ErrNoTerminal = errors.New("no terminal to prompt on")

// IsTerminal reports whether In is an interactive terminal.
func (c *Console) IsTerminal() bool {
	f, ok := c.In.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Prompt asks a question on ErrOut and reads one line from In, as one
// turn of a conversation (see Converse): no status line interleaves and
// the live view stays paused until it is answered. Secret answers are
// read without echo when In is a terminal. It returns ErrNoTerminal when
// In is not a terminal and allowPipe is false.
func (c *Console) Prompt(label string, secret, allowPipe bool) (string, error) {
	if !c.IsTerminal() && !allowPipe {
		return "", ErrNoTerminal
	}
	var answer string
	err := c.Converse(context.Background(), func(t *Turn) error {
		if f, ok := c.In.(*os.File); ok && secret && term.IsTerminal(int(f.Fd())) {
			t.notify(label, true)
			t.Print(label)
			b, err := term.ReadPassword(int(f.Fd()))
			t.Print("\n")
			if err != nil {
				return fmt.Errorf("read answer: %w", err)
			}
			answer = strings.TrimSpace(string(b))
			return nil
		}
		var err error
		answer, err = t.ask(context.Background(), label, secret)
		return err
	})
	return answer, err
}

// Turn is a conversation's hold of the terminal (see Converse).
type Turn struct{ c *Console }

// Converse gives fn the terminal: it waits for its turn (one conversation
// at a time, in arrival order of the lock; ctx ends the wait), erases the
// live view and holds every other write until fn returns, then writes
// what was held, in order, and redraws the view. Other stacks keep
// running meanwhile; only their lines wait.
func (c *Console) Converse(ctx context.Context, fn func(t *Turn) error) error {
	c.mu.Lock()
	if c.turn == nil {
		c.turn = make(chan struct{}, 1)
	}
	turn := c.turn
	c.mu.Unlock()
	select {
	case turn <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-turn }()
	c.mu.Lock()
	if c.live != nil {
		c.live.erase()
	}
	c.holding = true
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.holding = false
		held := c.held
		c.held = nil
		for _, h := range held {
			io.WriteString(h.w, h.s)
		}
		if c.live != nil {
			c.live.draw()
		}
	}()
	return fn(&Turn{c})
}

// Print writes s on ErrOut, where the questions are asked.
func (t *Turn) Print(s string) {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	io.WriteString(t.c.ErrOut, s)
}

// Ask prints question on ErrOut and returns the line the person answers,
// trimmed. ctx ends the wait (Ctrl-C): the error is then ctx's.
func (t *Turn) Ask(ctx context.Context, question string) (string, error) {
	return t.ask(ctx, question, false)
}

func (t *Turn) notify(label string, secret bool) {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.onPrompt != nil {
		c.onPrompt(c.now(), label, secret)
	}
}

func (t *Turn) ask(ctx context.Context, question string, secret bool) (string, error) {
	t.notify(question, secret)
	t.Print(question)
	c := t.c
	// Only the turn's holder reads, so pending needs no lock.
	if c.pending == nil {
		if c.reader == nil {
			c.reader = bufio.NewReader(c.In)
		}
		ch := make(chan readResult, 1)
		c.pending = ch
		r := c.reader
		go func() {
			line, err := r.ReadString('\n')
			ch <- readResult{line, err}
		}()
	}
	select {
	case res := <-c.pending:
		c.pending = nil
		if res.err != nil && res.line == "" {
			return "", fmt.Errorf("read answer: %w", res.err)
		}
		return strings.TrimSpace(res.line), nil
	case <-ctx.Done():
		t.Print("\n")
		return "", ctx.Err()
	}
}
