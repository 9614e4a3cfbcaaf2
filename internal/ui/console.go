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
}

// NewConsole returns a Console over the given streams.
func NewConsole(in io.Reader, out, errOut io.Writer) *Console {
	return &Console{In: in, Out: out, ErrOut: errOut}
}

// Errorf writes one line to ErrOut under the console lock.
func (c *Console) Errorf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(c.ErrOut, format, args...)
}

// Outf writes to Out under the console lock.
func (c *Console) Outf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(c.Out, format, args...)
}

// ErrNoTerminal is returned by Prompt when no person can answer.
var ErrNoTerminal = errors.New("no terminal to prompt on")

// IsTerminal reports whether In is an interactive terminal.
func (c *Console) IsTerminal() bool {
	f, ok := c.In.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Prompt asks a question on ErrOut and reads one line from In, holding the
// lock so no status line interleaves. Secret answers are read without echo
// when In is a terminal. It returns ErrNoTerminal when In is not a terminal
// and allowPipe is false.
func (c *Console) Prompt(label string, secret, allowPipe bool) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.IsTerminal() && !allowPipe {
		return "", ErrNoTerminal
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
