package cli

import (
	"context"
	"errors"
	"fmt"
	_ "github.com/stacker-go/stacker/blueprints/all" // built-in blueprints for class_path
	_ "github.com/stacker-go/stacker/hooks/builtin"  // built-in hooks for hook paths
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/stacker-go/stacker/internal/config"
	"github.com/stacker-go/stacker/internal/deploy"
	"github.com/stacker-go/stacker/internal/graph"
	"github.com/stacker-go/stacker/internal/hookrun"
	"github.com/stacker-go/stacker/internal/lookup"
	"github.com/stacker-go/stacker/internal/preflight"
	"github.com/stacker-go/stacker/internal/pybridge"
	"github.com/stacker-go/stacker/internal/suggest"
	"github.com/stacker-go/stacker/internal/target"
	"github.com/stacker-go/stacker/internal/ui"
)

// Environment variables read by the AWS flags.
const (
	envMFACode        = target.EnvMFACode
	envNoCredCache    = target.EnvNoCache
	envReadRate       = target.EnvReadRate
	defaultReadRate   = target.DefaultReadRate
	envWriteRate      = target.EnvWriteRate
	defaultWriteRate  = target.DefaultWriteRate
	positionalUsage   = "[environment] config"
	missingConfigHint = "missing config argument (usage: stacker %s [environment] config; use - to read the config from stdin)"
)

// CommonOptions are the flags and positional arguments the config-reading
// commands share (stacker §1.2, §1.3). Each command registers only the
// groups it uses (sharedFlags).
type CommonOptions struct {
	EnvFile    string   // optional environment file (first of two positionals)
	ConfigPath string   // config file, "-" = stdin
	Env        []string // raw KEY=VALUE from -e, validated
	Region     string
	Profile    string
	Verbose    int
	// Interactive, ReplacementsOnly and RecreateFailed are provider modes.
	Interactive      bool
	ReplacementsOnly bool
	RecreateFailed   bool
	// MFACode answers the MFA prompt (--mfa-code, STACKER_MFA_CODE). Never printed.
	MFACode           string
	NoCredentialCache bool
	// ReadRate is CloudFormation read calls per second per account+region.
	ReadRate float64
	// WriteRate is CloudFormation mutating calls per second per
	// account+region.
	WriteRate float64

	// Stdin is where "-" reads the config from (set by the command).
	Stdin io.Reader

	flags sharedFlags // the groups registered
}

// sharedFlags are the groups of shared flags a command registers; -e and
// -v are always there.
type sharedFlags struct {
	defaults    bool // -r/--region, -p/--profile: defaults for stacks without them
	provider    bool // -i, --replacements-only, --recreate-failed (build)
	interactive bool // -i alone (diff, which refuses it clearly)
	credentials bool // --mfa-code, --no-credential-cache
	readRate    bool // --read-rate, --write-rate
}

// Shared flag groups per kind of command.
var (
	awsRunFlags    = sharedFlags{defaults: true, credentials: true, readRate: true}
	buildFlags     = sharedFlags{defaults: true, provider: true, credentials: true, readRate: true}
	diffFlags      = sharedFlags{defaults: true, interactive: true, credentials: true, readRate: true}
	doctorFlags    = sharedFlags{defaults: true, credentials: true}
	offlineFlags   = sharedFlags{}
	defaultVerbose = "``debug logging on stderr (repeat for more)"
)

// addCommonFlags registers -e and -v and the groups in which on cmd.
func addCommonFlags(cmd *cobra.Command, o *CommonOptions, which sharedFlags) {
	o.flags = which
	f := cmd.Flags()
	f.StringArrayVarP(&o.Env, "env", "e", nil, "add `KEY=VALUE` to the environment, overriding the environment file (repeatable)")
	if which.defaults {
		f.StringVarP(&o.Region, "region", "r", "", "default AWS `REGION` for stacks without a region")
		f.StringVarP(&o.Profile, "profile", "p", "", "default AWS `PROFILE` for stacks without a profile")
	}
	f.CountVarP(&o.Verbose, "verbose", "v", defaultVerbose)
	if which.provider || which.interactive {
		help := "update every existing stack through a change set: print its summary and ask \"Execute the above changes? [y/n/v]\" (v shows the full change set); new stacks are created without asking"
		if which.interactive {
			help = "print each changed stack's change-set summary and ask \"Show full change set? [y/n]\" (y or v prints it); needs a terminal"
		}
		f.BoolVarP(&o.Interactive, "interactive", "i", false, help)
	}
	if which.provider {
		f.BoolVar(&o.ReplacementsOnly, "replacements-only", false, "with -i, show and ask only about replacements; updates that replace nothing and change no parameter run without asking")
		f.BoolVar(&o.RecreateFailed, "recreate-failed", false, "destroy and re-create stacks whose first create failed")
	}
	if which.credentials {
		f.StringVar(&o.MFACode, "mfa-code", "", "answer the MFA prompt of profiles with mfa_serial with `CODE` (env "+envMFACode+")")
		f.BoolVar(&o.NoCredentialCache, "no-credential-cache", false, "do not read or write the on-disk credential cache (env "+envNoCredCache+"=1)")
	}
	if which.readRate {
		o.ReadRate = defaultReadRate
		f.Float64Var(&o.ReadRate, "read-rate", defaultReadRate, "at most `N` CloudFormation read calls per second per account and region (env "+envReadRate+")")
		o.WriteRate = defaultWriteRate
		f.Float64Var(&o.WriteRate, "write-rate", defaultWriteRate, "at most `N` CloudFormation mutating calls (create, update, delete, change sets) per second per account and region (env "+envWriteRate+")")
	}
}

// complete fills positionals and environment defaults and validates
// everything that can be checked without reading the config. Errors are
// usage errors.
func (o *CommonOptions) complete(cmd *cobra.Command, args []string, getenv func(string) string) error {
	switch len(args) {
	case 0:
		return fmt.Errorf(missingConfigHint, cmd.Name())
	case 1:
		o.ConfigPath = args[0]
	case 2:
		o.EnvFile, o.ConfigPath = args[0], args[1]
	default:
		return fmt.Errorf("too many arguments %q (usage: stacker %s [environment] config)", args[2:], cmd.Name())
	}
	if o.ConfigPath == "" {
		return errors.New("config path is empty")
	}
	if o.EnvFile == "-" {
		return errors.New("the environment file cannot be read from stdin (-); only the config can")
	}
	for _, kv := range o.Env {
		if _, _, err := parseEnvFlag(kv); err != nil {
			return err
		}
	}
	if o.ConfigPath == "-" && o.Interactive {
		return errors.New("--interactive reads answers from stdin, so the config cannot also come from stdin (-); pass a file")
	}
	f := cmd.Flags()
	if o.flags.credentials {
		if !f.Changed("mfa-code") {
			o.MFACode = getenv(envMFACode)
		}
		if v := getenv(envNoCredCache); !f.Changed("no-credential-cache") && v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("%s=%q: want 1, true, 0 or false", envNoCredCache, v)
			}
			o.NoCredentialCache = b
		}
	}
	if o.flags.readRate {
		for _, r := range []struct {
			flag, env string
			v         *float64
		}{{"read-rate", envReadRate, &o.ReadRate}, {"write-rate", envWriteRate, &o.WriteRate}} {
			if !f.Changed(r.flag) {
				if s := getenv(r.env); s != "" {
					v, err := strconv.ParseFloat(s, 64)
					if err != nil {
						return fmt.Errorf("%s=%q: not a number", r.env, s)
					}
					*r.v = v
				}
			}
			if !(*r.v > 0) || *r.v > 1e6 {
				return fmt.Errorf("--%s %v: must be a positive number of calls per second", r.flag, *r.v)
			}
		}
	}
	return nil
}

// parseEnvFlag splits one -e value at its first "=". The key must be
// non-empty and contain no whitespace; the value may be empty.
func parseEnvFlag(kv string) (key, value string, err error) {
	key, value, ok := strings.Cut(kv, "=")
	if !ok || key == "" || strings.ContainsAny(key, " \t\r\n") {
		return "", "", fmt.Errorf("-e %q does not match KEY=VALUE format", kv)
	}
	return key, value, nil
}

// targetOptions are the credential settings of this run from the flags.
func (o *CommonOptions) targetOptions(console *ui.Console) target.Options {
	return target.Options{
		DefaultProfile: o.Profile,
		DefaultRegion:  o.Region,
		MFACode:        o.MFACode,
		NoCache:        o.NoCredentialCache,
		Console:        console,
		ReadRate:       o.ReadRate,
		WriteRate:      o.WriteRate,
	}
}

// loadConfig reads and validates the config named by the options and
// returns it with its lookup registry (built-ins, the config's custom
// lookups and its environment).
func loadConfig(common *CommonOptions) (*config.Config, *lookup.Registry, error) {
	stdin := common.Stdin
	if stdin == nil {
		stdin = os.Stdin
	}
	cfg, err := config.Load(config.LoadOptions{
		Path:         common.ConfigPath,
		Stdin:        stdin,
		EnvFile:      common.EnvFile,
		EnvOverrides: common.Env,
	})
	if err != nil {
		return nil, nil, err
	}
	return cfg, cfg.Registry(), nil
}

func didYouMean(name string, names []string) string {
	return suggest.DidYouMean(graph.Nearest(name, names))
}

// printWarnings writes config warnings as "WARNING: ..." lines on stderr.
func printWarnings(stdio IO, cfg *config.Config) {
	for _, w := range cfg.Warnings {
		fmt.Fprintln(stdio.ErrOut, "WARNING:", w)
	}
}

// warnNoStacks prints stacker's warning for a config without stacks.
func warnNoStacks(stdio IO, cfg *config.Config) {
	if len(cfg.Stacks) == 0 {
		fmt.Fprintln(stdio.ErrOut, "WARNING: No stacks detected (error in config?)")
	}
}

// checkHooks is the config check of the hooks a command runs (stages),
// before anything runs: every enabled hook's path must be a registered Go
// hook or runnable by the Python bridge, data_keys must be unique, and for
// build every ${hook_data key::...} of the graph's stacks must name a key a
// pre_build hook stores. Errors are config errors (exit 2).
func checkHooks(ctx context.Context, cfg *config.Config, reg *lookup.Registry, g *graph.Graph, stages ...string) error {
	if err := hookrun.Check(ctx, cfg, hookFallback(ctx), stages...); err != nil {
		return usageErr(err)
	}
	if slices.Contains(stages, hookrun.PreBuild) {
		if err := hookrun.CheckHookData(cfg, reg, g.Order()); err != nil {
			return usageErr(err)
		}
	}
	return nil
}

// checkForce rejects --force names that are not stacks of the config.
func checkForce(cfg *config.Config, force []string) error {
	all := make([]string, len(cfg.Stacks))
	for i, st := range cfg.Stacks {
		all[i] = st.Name
	}
	for _, name := range force {
		if cfg.Stack(name) == nil {
			return fmt.Errorf("--force %q: no such stack%s", name, didYouMean(name, all))
		}
	}
	return nil
}

// checkMaxParallel rejects a negative -j/--max-parallel.
func checkMaxParallel(n int) error {
	if n < 0 {
		return fmt.Errorf("-j/--max-parallel %d: must be 0 (no limit) or more", n)
	}
	return nil
}

// runE is the RunE of a config-reading command: it completes the common
// options, runs the command's own checks (validate, nil for none), both as
// usage errors, points "-" at the factory's stdin and calls run.
func (o *CommonOptions) runE(f *Factory, validate func(*cobra.Command) error, run func(context.Context) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if err := o.complete(cmd, args, f.getenv); err != nil {
			return usageErr(err)
		}
		if validate != nil {
			if err := validate(cmd); err != nil {
				return usageErr(err)
			}
		}
		o.Stdin = f.IO.In
		// The run's Python bridge (started only if Python code is needed),
		// stopped when the run ends, interrupted or not.
		bridge := pybridge.New(pybridge.Options{Stderr: f.IO.ErrOut, Getenv: f.getenv})
		defer bridge.Close()
		return run(pybridge.NewContext(cmd.Context(), bridge))
	}
}

// stackSelection is how a command narrows the graph to its --stacks.
type stackSelection int

const (
	wholeGraph     stackSelection = iota // no narrowing and no "no stacks" warning (graph)
	withDeps                             // the stacks plus their dependencies (build, diff)
	withDependants                       // the stacks plus everything that depends on them (destroy)
	onlyStacks                           // exactly the stacks (info)
)

// loadSpec is what differs between commands in load.
type loadSpec struct {
	configOnly bool           // stop after the config (doctor): no graph
	renders    bool           // the command renders templates: check Python class paths import
	force      []string       // --force names, checked against the config's stacks
	stacks     []string       // --stacks
	selection  stackSelection // how stacks narrows the graph
}

// load is the shared start of a config-reading command: the config and its warnings, the graph, the --force check and the --stacks
// selection (with the "no stacks" warning). Every error is a usage error.
// With configOnly the graph is nil.
func (o *CommonOptions) load(ctx context.Context, f *Factory, s loadSpec) (*config.Config, *lookup.Registry, *graph.Graph, error) {
	stdio := f.IO
	cfg, reg, err := loadConfig(o)
	if err != nil {
		return nil, nil, nil, usageErr(err)
	}
	printWarnings(stdio, cfg)
	o.configurePython(ctx, f, cfg)
	if err := o.checkClassPaths(ctx, cfg, s.renders); err != nil {
		return nil, nil, nil, usageErr(err)
	}
	if s.configOnly {
		return cfg, reg, nil, nil
	}
	g, err := graph.FromConfig(cfg)
	if err != nil {
		return nil, nil, nil, usageErr(err)
	}
	if err := checkForce(cfg, s.force); err != nil {
		return nil, nil, nil, usageErr(err)
	}
	switch s.selection {
	case wholeGraph:
		return cfg, reg, g, nil
	case withDeps:
		g, err = g.Select(s.stacks, false)
	case withDependants:
		g, err = g.Select(s.stacks, true)
	case onlyStacks:
		g, err = g.Subset(s.stacks)
	}
	if err != nil {
		return nil, nil, nil, usageErr(fmt.Errorf("--stacks: %w", err))
	}
	warnNoStacks(stdio, cfg)
	return cfg, reg, g, nil
}

// deployOptions prints the provider mode line (newConsole) and returns the
// deploy options every AWS command shares; the caller adds its own. Before
// any AWS call it checks that every profile the graph's stacks use exists
// (preflight.Profiles): an unknown one is a config error (exit 2) at the
// stack's profile: key or a hook's profile arg (the hooks of the stages
// given, those the command runs), or naming --profile / AWS_PROFILE.
func (o *CommonOptions) deployOptions(ctx context.Context, f *Factory, cfg *config.Config, reg *lookup.Registry, g *graph.Graph, hookStages ...string) (deploy.Options, error) {
	stdio := f.IO
	console := o.newConsole(f)
	targets := f.targets(o.targetOptions(console))
	var hs []config.Hook
	for _, stage := range hookStages {
		hs = append(hs, hookrun.Hooks(cfg, stage)...)
	}
	if err := preflight.Profiles(cfg, g.Order(), targets, hs...); err != nil {
		return deploy.Options{}, usageErr(err)
	}
	return deploy.Options{
		Config:           cfg,
		Graph:            g,
		Lookups:          reg,
		Targets:          targets,
		Console:          console,
		RecreateFailed:   o.RecreateFailed || o.Interactive,
		Interactive:      o.Interactive,
		ReplacementsOnly: o.ReplacementsOnly,
		HookFallback:     hookFallback(ctx),
		Out:              stdio.Out,
		ErrOut:           stdio.ErrOut,
		In:               stdio.In,
	}, nil
}

// usageErr marks err as bad usage or bad config (exit 2).
func usageErr(err error) error {
	if err == nil {
		return nil
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return err
	}
	return &ExitError{Code: ExitUsage, Err: err}
}

// runErr marks an error from an action with its exit code (ExitCode);
// an interruption says so.
func runErr(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return err
	}
	code := ExitCode(ctx, err)
	if code == ExitInterrupted {
		err = fmt.Errorf("interrupted: %w", err)
	}
	return &ExitError{Code: code, Err: err}
}

// stringsValue is a repeatable string flag that several flag names can
// share (--stacks and its alias --targets) without one resetting another.
type stringsValue struct{ p *[]string }

func (v stringsValue) String() string {
	if v.p == nil {
		return ""
	}
	return strings.Join(*v.p, ",")
}
func (v stringsValue) Set(s string) error { *v.p = append(*v.p, s); return nil }
func (v stringsValue) Type() string       { return "NAME" }

var _ pflag.Value = stringsValue{}

// addStacksFlag registers --stacks (and --targets as an alias when
// withTargets) appending to p.
func addStacksFlag(cmd *cobra.Command, p *[]string, withTargets bool, help string) {
	cmd.Flags().Var(stringsValue{p}, "stacks", help+" (repeatable)")
	if withTargets {
		cmd.Flags().Var(stringsValue{p}, "targets", "alias of --stacks")
	}
}

// positionalArgs lets complete() report a missing config clearly.
var positionalArgs = cobra.ArbitraryArgs

// newConsole returns the run's console and prints stacker's provider mode
// line (§1.1): "Using default AWS provider mode" or, with -i, "Using
// interactive AWS provider mode." (stacker's punctuation, period included).
func (o *CommonOptions) newConsole(f *Factory) *ui.Console {
	console := f.console()
	// Diagnostics go through the console too, so a question (MFA code,
	// change-set approval) is never cut by a -v line.
	level := slog.LevelWarn
	if o.Verbose > 0 {
		level = slog.LevelDebug
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(console.ErrWriter(), &slog.HandlerOptions{Level: level})))
	if o.Interactive {
		console.Infof("Using interactive AWS provider mode.")
	} else {
		console.Infof("Using default AWS provider mode")
	}
	return console
}
