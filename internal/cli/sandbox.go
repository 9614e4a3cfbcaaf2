package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/stacker-go/stacker/internal/sandbox"
)

// SandboxServeOptions are the flags of `stacker sandbox serve`.
type SandboxServeOptions struct {
	Listen       string
	SpecFile     string
	AWSConfigOut string
	StateDir     string
	Debug        bool
}

// SandboxTOTPOptions are the flags of `stacker sandbox totp`.
type SandboxTOTPOptions struct {
	Seed string
	At   time.Time // zero = now (tests set it)
}

func newSandboxCmd(stdio IO) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sandbox",
		Short: "Run the local multi-account AWS sandbox",
		Long: `A local multi-account AWS (CloudFormation, S3, STS, IAM) for trying stacker
without an AWS account. See docs/sandbox.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newSandboxServeCmd(stdio, runSandboxServe), newSandboxTOTPCmd(stdio, runSandboxTOTP))
	return cmd
}

func newSandboxServeCmd(stdio IO, runF func(context.Context, IO, *SandboxServeOptions) error) *cobra.Command {
	o := &SandboxServeOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the sandbox until interrupted",
		Long: `Serve the sandbox. When ready it prints "sandbox ready: http://HOST:PORT" on
stdout and serves until SIGINT or SIGTERM.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, _, err := net.SplitHostPort(o.Listen); err != nil {
				return &ExitError{Code: ExitUsage, Err: fmt.Errorf("--listen %q: %w", o.Listen, err)}
			}
			return runF(cmd.Context(), stdio, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Listen, "listen", "127.0.0.1:4566", "listen on `HOST:PORT` (port 0 picks a free port)")
	f.StringVar(&o.SpecFile, "spec", "", "sandbox spec `FILE` (YAML); default: master/prod/stage")
	f.StringVar(&o.AWSConfigOut, "aws-config-out", "", "write an AWS config `FILE` with a profile per account")
	f.StringVar(&o.StateDir, "state-dir", "", "load state from `DIR` at start and save it there on shutdown")
	f.BoolVar(&o.Debug, "debug", false, "log every request on stderr")
	return cmd
}

func runSandboxServe(ctx context.Context, stdio IO, o *SandboxServeOptions) error {
	spec := sandbox.DefaultSpec()
	if o.SpecFile != "" {
		var err error
		if spec, err = sandbox.LoadSpec(o.SpecFile); err != nil {
			return &ExitError{Code: ExitUsage, Err: err}
		}
	}
	level := slog.LevelInfo
	if o.Debug {
		level = slog.LevelDebug
	}
	opts := []sandbox.Option{sandbox.WithLogger(slog.New(slog.NewTextHandler(stdio.ErrOut, &slog.HandlerOptions{Level: level})))}
	if o.StateDir != "" {
		opts = append(opts, sandbox.WithStateDir(o.StateDir))
	}
	srv, err := sandbox.New(spec, opts...)
	if err != nil {
		return &ExitError{Code: ExitFailed, Err: err}
	}
	url, err := srv.Start(o.Listen)
	if err != nil {
		return &ExitError{Code: ExitFailed, Err: err}
	}
	if o.AWSConfigOut != "" {
		if err := srv.WriteAWSConfig(o.AWSConfigOut); err != nil {
			_ = srv.Close()
			return &ExitError{Code: ExitFailed, Err: err}
		}
	}
	fmt.Fprintf(stdio.Out, "sandbox ready: %s\n", url)
	if f, ok := stdio.Out.(*os.File); ok {
		_ = f.Sync()
	}
	<-ctx.Done()
	if err := srv.Close(); err != nil {
		return &ExitError{Code: ExitFailed, Err: fmt.Errorf("sandbox shutdown: %w", err)}
	}
	return nil
}

func newSandboxTOTPCmd(stdio IO, runF func(context.Context, IO, *SandboxTOTPOptions) error) *cobra.Command {
	o := &SandboxTOTPOptions{}
	cmd := &cobra.Command{
		Use:   "totp",
		Short: "Print the current 6-digit code of a virtual MFA device",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runF(cmd.Context(), stdio, o)
		},
	}
	cmd.Flags().StringVar(&o.Seed, "seed", sandbox.DefaultMFASeed, "base32 TOTP `SEED` of the virtual MFA device")
	return cmd
}

func runSandboxTOTP(_ context.Context, stdio IO, o *SandboxTOTPOptions) error {
	at := o.At
	if at.IsZero() {
		at = time.Now()
	}
	code := sandbox.TOTP(o.Seed, at)
	if code == "" {
		return &ExitError{Code: ExitUsage, Err: fmt.Errorf("--seed: not a base32 TOTP seed")}
	}
	fmt.Fprintln(stdio.Out, code)
	return nil
}
