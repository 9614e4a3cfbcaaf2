// Package ui owns what a person sees: status lines, event tails, summaries
// and prompts. Every write and every prompt goes through one Console so a
// prompt (MFA code, approval) pauses status output.
package ui

import (
	"bufio"
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
	if c.live != nil {
		c.live.erase()
		defer c.live.draw()
	}
	io.WriteString(w, s)
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

// Prompt asks a question on ErrOut and reads one line from In, holding the
// lock so no status line interleaves and the live view (erased while the
// question waits) stays paused. Secret answers are read without echo
// when In is a terminal. It returns ErrNoTerminal when In is not a terminal
// and allowPipe is false.
func (c *Console) Prompt(label string, secret, allowPipe bool) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.IsTerminal() && !allowPipe {
		return "", ErrNoTerminal
	}
	if c.live != nil {
		c.live.erase()
		defer c.live.draw()
	}
	if c.onPrompt != nil {
		c.onPrompt(c.now(), label, secret)
	}
	fmt.Fprint(c.ErrOut, label)
	if f, ok := c.In.(*os.File); ok && secret && term.IsTerminal(int(f.Fd())) {
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(c.ErrOut)
		if err != nil {
			return "", fmt.Errorf("read answer: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	if c.reader == nil {
		c.reader = bufio.NewReader(c.In)
	}
	line, err := c.reader.ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("read answer: %w", err)
	}
	return strings.TrimSpace(line), nil
}
