package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"

	"github.com/spf13/cobra"
	"github.com/stacker-go/stacker/internal/cfn"
	"github.com/stacker-go/stacker/internal/config"
	"github.com/stacker-go/stacker/internal/deploy"
	"github.com/stacker-go/stacker/internal/event"
	"github.com/stacker-go/stacker/internal/hookrun"
	"github.com/stacker-go/stacker/internal/target"
)

// BuildOptions are the flags of `stacker build`.
type BuildOptions struct {
	Common      CommonOptions
	Outline     bool
	Force       []string // update these locked stacks anyway
	Stacks      []string // --stacks/--targets: these plus their dependencies
	MaxParallel int      // 0 = no limit
	Tail        bool
	Dump        string // --dump DIR: render templates into DIR, no AWS
	// InProgress is --in-progress: "wait" or "fail" for every stack,
	// overriding in_progress_behavior ("" = each stack's own).
	InProgress string
	DumpSet    bool // --dump was given (an empty DIR is an error)
	Progress   ProgressFlags
	// Approve names stacks whose change sets (-i, protected: true) are
	// approved without asking: config or CloudFormation names, or all.
	Approve []string
	// NoDeployCache turns no-change detection's deploy records off
	// (--no-deploy-cache, STACKER_NO_DEPLOY_CACHE=1).
	NoDeployCache bool
}

func newBuildCmd(f *Factory) *cobra.Command { return newBuildCmdWith(f, runBuild) }

func newBuildCmdWith(f *Factory, runF func(context.Context, *Factory, *BuildOptions) error) *cobra.Command {
	o := &BuildOptions{}
	cmd := &cobra.Command{
		Use:   "build [environment] config",
		Short: "Create or update the stacks of a config",
		Long: `Create or update every stack of the config in dependency order.

Before any change, build checks every profile the stacks use, the
credentials of every target, every template whose inputs are known and the
template bucket: problems are listed together at their file:line:col and
exit 2 with nothing changed (credential failures: once per cause, with a
hint, exit 1).

--outline prints the plan and --dump DIR renders the templates into DIR;
neither makes any AWS call (both run the offline template checks).

Updates of protected stacks (protected: true), and with -i every update,
go through a change set: its summary is printed and the question
"Execute the above changes? [y/n/v]" asked on the terminal (v prints the
full change set, y executes it, anything else leaves the stack as it is
and deletes the change set). One stack asks at a time; the others keep
building unless they depend on it. New stacks are created without asking.
Without a terminal such an update fails before anything is changed,
unless --approve names the stack: review the plan with "stacker diff",
then run "stacker build --approve NAME ..." (or --approve all) in CI.

An existing stack left as this tool last deployed it is not submitted:
"skipped (nochange)" without an UpdateStack call. Build keeps a record per
stack of what it sent (digests only, never parameter values) and of
CloudFormation's last-change time; a stack changed since (console, another
machine) or whose template has a Transform, a nested stack, a dynamic
reference or an SSM parameter type is always submitted. --no-deploy-cache
submits every stack ("stacker cache clear" removes the records).`,
		Args: positionalArgs,
		RunE: o.Common.runE(f, func(cmd *cobra.Command) error {
			if err := o.Progress.complete(cmd, f.getenv); err != nil {
				return err
			}
			if v := f.getenv(target.EnvNoDeployCache); !cmd.Flags().Changed("no-deploy-cache") && v != "" {
				b, err := strconv.ParseBool(v)
				if err != nil {
					return fmt.Errorf("%s=%q: want 1, true, 0 or false", target.EnvNoDeployCache, v)
				}
				o.NoDeployCache = b
			}
			return o.validate(cmd)
		}, func(ctx context.Context) error { return runF(ctx, f, o) }),
	}
	addCommonFlags(cmd, &o.Common, buildFlags)
	fl := cmd.Flags()
	fl.BoolVarP(&o.Outline, "outline", "o", false, "print the plan outline on stderr and exit (no AWS calls)")
	fl.StringArrayVar(&o.Force, "force", nil, "update the locked stack `NAME` anyway (repeatable)")
	addStacksFlag(cmd, &o.Stacks, true, "only this stack or target and its dependencies")
	fl.IntVarP(&o.MaxParallel, "max-parallel", "j", 0, "at most `N` stacks in flight (0 = no limit)")
	fl.BoolVarP(&o.Tail, "tail", "t", false, "print stack events while stacks change")
	fl.StringVarP(&o.Dump, "dump", "d", "", "render every template into `DIR` and exit (no AWS calls)")
	fl.StringVar(&o.InProgress, "in-progress", "", "`MODE` for every stack CloudFormation is still changing: wait (wait for it, then handle it) or fail (fail it at once); overrides in_progress_behavior (default: each stack's, wait)")
	fl.StringArrayVar(&o.Approve, "approve", nil, "execute the change sets of stack `NAME` (config or CloudFormation name; all or * for every stack) without asking: for protected stacks and -i without a terminal (repeatable)")
	fl.BoolVar(&o.NoDeployCache, "no-deploy-cache", false, "do not read or write the on-disk deploy records: submit every existing stack, unchanged ones too (env "+target.EnvNoDeployCache+"=1)")
	addProgressFlags(cmd, &o.Progress)
	return cmd
}

// validate checks build's own flags (after the common ones).
func (o *BuildOptions) validate(cmd *cobra.Command) error {
	o.DumpSet = cmd.Flags().Changed("dump")
	if o.DumpSet && o.Dump == "" {
		return errors.New(`--dump needs a directory (got "")`)
	}
	if o.DumpSet && o.Outline {
		return errors.New("--dump and --outline cannot be used together")
	}
	if o.InProgress != "" && o.InProgress != "wait" && o.InProgress != "fail" {
		return fmt.Errorf(`--in-progress %q: must be "wait" or "fail"`, o.InProgress)
	}
	if cmd.Flags().Changed("in-progress") && o.InProgress == "" {
		return errors.New(`--in-progress needs "wait" or "fail" (got "")`)
	}
	return checkMaxParallel(o.MaxParallel)
}

func runBuild(ctx context.Context, f *Factory, o *BuildOptions) error {
	cfg, reg, g, err := o.Common.load(ctx, f, loadSpec{force: o.Force, stacks: o.Stacks, selection: withDeps, renders: true})
	if err != nil {
		return err
	}
	switch {
	case o.Outline:
		if err := offlineChecks(ctx, f.IO, cfg, reg, g); err != nil {
			return err
		}
		printPlan(f.IO, "Create/Update stacks", "_launch_stack", g, "")
		return nil
	case o.DumpSet:
		if err := offlineChecks(ctx, f.IO, cfg, reg, g); err != nil {
			return err
		}
		return dumpTemplates(ctx, f.IO, cfg, reg, g, o.Dump)
	}
	if err := checkHooks(ctx, cfg, reg, g, hookrun.PreBuild, hookrun.PostBuild); err != nil {
		return err
	}
	if err := checkApprove(cfg, o.Approve); err != nil {
		return usageErr(err)
	}
	do, err := o.Common.deployOptions(ctx, f, cfg, reg, g, hookrun.PreBuild, hookrun.PostBuild)
	if err != nil {
		return err
	}
	do.Force, do.MaxParallel, do.Tail, do.InProgress, do.Approve = o.Force, o.MaxParallel, o.Tail, o.InProgress, o.Approve
	if !o.NoDeployCache {
		if dir, err := target.DeployCacheDir(f.getenv); err == nil {
			do.DeployRecords = dir
		} else {
			slog.Debug("no-change detection off: " + err.Error())
		}
	}
	err = o.Progress.run(ctx, f, do, o.Common.Verbose > 0, o.Tail, event.Build, deploy.Build)
	var ane *cfn.ApprovalNeededError
	if errors.As(err, &ane) {
		return usageErr(err) // nothing was changed: a usage error (exit 2)
	}
	return runErr(ctx, err)
}

// checkApprove rejects --approve names that are no stack of the config
// (by config or CloudFormation name), all and * excepted.
func checkApprove(cfg *config.Config, names []string) error {
	var all []string
	for _, st := range cfg.Stacks {
		all = append(all, st.Name)
	}
	for _, name := range names {
		if slices.Contains(deploy.ApproveAll, name) {
			continue
		}
		known := false
		for _, st := range cfg.Stacks {
			if st.Name == name || st.CFNName(cfg) == name {
				known = true
			}
		}
		if !known {
			return fmt.Errorf("--approve %q: no such stack%s", name, didYouMean(name, all))
		}
	}
	return nil
}
