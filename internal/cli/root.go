// Package cli owns the command line: flags, one options struct and one run
// function per command. Commands get what they need from outside (streams,
// environment, credential factory) from one Factory; the graph comes from
// internal/graph, the demo from internal/demo. The root sets up the
// diagnostics logger and maps errors to documented exit codes.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/stacker-go/stacker/internal/config"
	"github.com/stacker-go/stacker/internal/deploy"
	"github.com/stacker-go/stacker/internal/doctor"
	"github.com/stacker-go/stacker/internal/target"
)

// Exit codes (documented in the README).
const (
	ExitOK          = 0
	ExitFailed      = 1 // a stack (or doctor row) failed
	ExitUsage       = 2 // bad usage or bad config
	ExitInterrupted = 130
)

// Version is the tool version, printed by --version.
var Version = "0.1.0"

// ExitError carries an exit code with the message to print (if any).
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit %d", e.Code)
	}
	return e.Err.Error()
}
func (e *ExitError) Unwrap() error { return e.Err }

// IO is where a command reads and writes.
type IO struct {
	In     io.Reader
	Out    io.Writer // stdout: graph output, machine output, sandbox ready line
	ErrOut io.Writer // stderr: status lines, logs, errors
}

// Main runs the CLI and returns the exit code.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, args, IO{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr})
}

// Run runs the CLI with explicit streams; tests call it directly.
func Run(ctx context.Context, args []string, stdio IO) int {
	return Execute(ctx, args, NewFactory(stdio))
}

// Execute runs the CLI with the dependencies of f (the demo gives its own
// environment this way). Every error is printed as "error: ..." lines on ErrOut (one per error
// when several are joined); a panic is reported in one line, never as a
// Go trace.
func Execute(ctx context.Context, args []string, f *Factory) (code int) {
	stdio := f.IO
	// Status lines (ui.Console), log/slog and cobra all write to ErrOut from
	// several goroutines. An *os.File is safe for that; any other writer (a
	// test's buffer) is wrapped so its writes never race.
	if _, ok := stdio.ErrOut.(*os.File); !ok && stdio.ErrOut != nil {
		stdio.ErrOut = &syncWriter{w: stdio.ErrOut}
		fc := *f
		fc.IO = stdio
		f = &fc
	}
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stdio.ErrOut, "error: internal error: %v (please report this)\n", r)
			code = ExitFailed
		}
	}()
	root := NewRootCmd(f)
	root.SetArgs(args)
	root.SetIn(stdio.In)
	root.SetOut(stdio.Out)
	root.SetErr(stdio.ErrOut)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			printError(stdio.ErrOut, ee.Err)
		}
		return ee.Code
	}
	if ExitCode(ctx, err) == ExitInterrupted {
		fmt.Fprintln(stdio.ErrOut, "interrupted:", err)
		return ExitInterrupted
	}
	// Errors from cobra itself (unknown flag, wrong arg count) are usage errors.
	printError(stdio.ErrOut, err)
	return ExitUsage
}

// ExitCode is the one mapping from an error's kind to the documented exit
// code: an *ExitError keeps its code; an interruption (the run's context
// cancelled, *deploy.InterruptedError, context.Canceled) is 130; a bad
// config (config.Errors, *config.Error) is 2; failed stacks
// (*deploy.FailedError) and any other error of a run are 1. Commands mark
// usage errors with usageErr (2) and run errors with runErr; errors cobra
// returns itself (unknown flag, wrong arguments) are usage errors (Execute).
func ExitCode(ctx context.Context, err error) int {
	var (
		ee    *ExitError
		ie    *deploy.InterruptedError
		fe    *deploy.FailedError
		cerrs config.Errors
		cerr  *config.Error
	)
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ee):
		return ee.Code
	case errors.As(err, &ie), errors.Is(err, context.Canceled), ctx.Err() != nil:
		return ExitInterrupted
	case errors.As(err, &cerrs), errors.As(err, &cerr):
		return ExitUsage
	case errors.As(err, &fe):
		return ExitFailed
	}
	return ExitFailed
}

// printError prints err as "error: " lines: one per error of a joined
// error (errors.Join, config.Errors), each on one line.
func printError(w io.Writer, err error) {
	if multi, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range multi.Unwrap() {
			printError(w, e)
		}
		return
	}
	msg := strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "\n  ")
	fmt.Fprintln(w, "error:", msg)
	// A credential failure (once per cause, every target it stops named)
	// gets doctor's diagnosis as its hint.
	var ce *target.CredentialError
	if errors.As(err, &ce) {
		fmt.Fprintf(w, "  hint: %s; `stacker doctor CONFIG` checks the credentials of every target\n", doctor.CredentialsFix(ce.Profile, ce.Err))
	}
}

// NewRootCmd builds the command tree. The root owns the diagnostics
// logger: before any command runs it points log/slog at stderr, at debug
// level when the command's -v was given and warnings otherwise.
func NewRootCmd(f *Factory) *cobra.Command {
	root := &cobra.Command{
		Use:           "stacker",
		Short:         "Build, diff and destroy CloudFormation stacks across accounts and regions",
		Version:       Version,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(cmd *cobra.Command, _ []string) {
			setupLogging(f.IO.ErrOut, verbosity(cmd))
		},
	}
	// --version without cobra's -v shorthand: -v means verbose on every
	// command that has it.
	root.Flags().Bool("version", false, "print the version and exit")
	root.SetVersionTemplate("stacker {{.Version}}\n")
	root.AddCommand(
		newBuildCmd(f),
		newDestroyCmd(f),
		newDiffCmd(f),
		newInfoCmd(f),
		newGraphCmd(f),
		newSandboxCmd(f.IO),
		newDoctorCmd(f),
		newDemoCmd(f),
		newCacheCmd(f.IO),
	)
	return root
}

// verbosity is the count of the command's -v/--verbose flag (0 when it has
// none, or when its -v is not a count).
func verbosity(cmd *cobra.Command) int {
	fl := cmd.Flags().Lookup("verbose")
	if fl == nil || fl.Value.Type() != "count" {
		return 0
	}
	n, _ := strconv.Atoi(fl.Value.String())
	return n
}

// setupLogging points log/slog at w: warnings only by default, debug with
// -v. It is reset on every run: an earlier in-process run (tests, the demo)
// may have pointed it at its own writer.
func setupLogging(w io.Writer, verbose int) {
	level := slog.LevelWarn
	if verbose > 0 {
		level = slog.LevelDebug
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})))
	slog.Debug("verbose logging on", "level", verbose)
}

// syncWriter serializes writes to a writer that is not safe for concurrent use.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
