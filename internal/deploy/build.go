package deploy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/stacker-go/stacker/internal/cfn"
	"github.com/stacker-go/stacker/internal/config"
	"github.com/stacker-go/stacker/internal/engine"
	"github.com/stacker-go/stacker/internal/event"
	"github.com/stacker-go/stacker/internal/hookrun"
	"github.com/stacker-go/stacker/internal/preflight"
	"github.com/stacker-go/stacker/internal/target"
	"github.com/stacker-go/stacker/internal/template"
)

// Build creates or updates the stacks of the graph, dependencies first.
func Build(ctx context.Context, o Options) error {
	if err := o.check(); err != nil {
		return err
	}
	if err := target.PreflightConfig(ctx, o.Targets, o.Config, o.Graph.Order()); err != nil { // credentials (MFA) before any change
		return err
	}
	if err := preflightHooks(ctx, o.Targets, o.Config.PreBuild, o.Config.PostBuild); err != nil {
		return err
	}
	r := newRun(&o, event.Build)
	if err := r.checkApprovals(ctx); err != nil { // updates needing a person, without one: before any change
		return err
	}
	if err := r.preflight(ctx); err != nil { // every known template checked before any change
		return err
	}
	hr := r.hookRunner()
	if err := hr.Run(ctx, hookrun.PreBuild, o.Config.PreBuild); err != nil {
		return err
	}
	r.hookData = hr.Context.HookData
	if err := r.walkGraph(ctx, o.Graph, r.buildStep); err != nil {
		return err
	}
	// stacker runs post_build only after a successful build.
	return hr.Run(ctx, hookrun.PostBuild, o.Config.PostBuild)
}

func (r *run) buildStep(ctx context.Context, name string, report func(engine.Status)) engine.Status {
	st, p, fqn, done, ok := r.stepStack(ctx, name, true)
	if !ok {
		return done
	}
	spec := &cfn.LaunchSpec{
		Name:                  name,
		FQN:                   fqn,
		Locked:                st.Locked,
		Forced:                slices.Contains(r.o.Force, name) || slices.Contains(r.o.Force, fqn),
		Protected:             st.Protected,
		WaitInProgress:        r.inProgress(st) != "fail",
		RecreateFailed:        r.o.RecreateFailed,
		Interactive:           r.o.Interactive,
		ReplacementsOnly:      r.o.ReplacementsOnly,
		Approved:              r.approved(st),
		Tags:                  r.tags(st),
		TerminationProtection: st.TerminationProtection,
		NotificationARNs:      st.NotificationARNs,
		RoleARN:               r.serviceRole(st),
		Deps:                  r.stackDeps(st, func(ctx context.Context) (*cfn.Request, error) { return r.prepare(ctx, st, fqn) }),
	}
	if r.needsApproval(st) {
		spec.Deps.Converse = r.converse()
	}
	out := p.Launch(ctx, spec, report)
	r.explainTemplateAccess(ctx, st, &out)
	if out.Outputs != nil && out.Status.OK() {
		r.setOutputs(name, out.Outputs)
	}
	if out.Changing {
		r.addChanging(ChangingStack{Name: name, FQN: fqn, Status: out.LastStatus})
	}
	return out.Status
}

// stepStack is the prologue of a per-stack step: the stack, its provider and
// its CloudFormation name. ok false means the step ends with done: the
// stack is not in the config or has no provider (failed), or skipDisabled
// and it is disabled (skipped).
func (r *run) stepStack(ctx context.Context, name string, skipDisabled bool) (st *config.Stack, p *cfn.Provider, fqn string, done engine.Status, ok bool) {
	st = r.cfg.Stack(name)
	if st == nil {
		return nil, nil, "", engine.Status{State: engine.Failed, Reason: fmt.Sprintf("stack %q is not in the config", name)}, false
	}
	if skipDisabled && !st.Enabled {
		return nil, nil, "", engine.Status{State: engine.Skipped, Reason: cfn.ReasonDisabled}, false
	}
	p, err := r.provider(ctx, stackKey(st))
	if err != nil {
		return nil, nil, "", engine.Status{State: engine.Failed, Reason: err.Error(), Err: err}, false
	}
	return st, p, st.CFNName(r.cfg), engine.Status{}, true
}

// prepare resolves the stack's lookups (its dependencies are done), renders
// its template, reads its stack policy, and uploads the template or checks
// the inline size.
func (r *run) prepare(ctx context.Context, st *config.Stack, fqn string) (*cfn.Request, error) {
	return r.prepareWith(ctx, st, fqn, false)
}

// prepareDiff is prepare for diff: templates go inline when they fit, and
// the bucket is never created.
func (r *run) prepareDiff(ctx context.Context, st *config.Stack, fqn string) (*cfn.Request, error) {
	return r.prepareWith(ctx, st, fqn, true)
}

func (r *run) prepareWith(ctx context.Context, st *config.Stack, fqn string, diff bool) (*cfn.Request, error) {
	resolved, err := r.o.Lookups.Resolve(ctx, st.Variables, r.lookupEnv(st))
	if err != nil {
		return nil, err
	}
	vars, _ := resolved.(map[string]any)
	if vars == nil {
		vars = map[string]any{}
	}
	tpl, err := template.RenderWith(ctx, r.cfg, st, vars, r.hookData)
	if err != nil {
		return nil, err
	}
	req := &cfn.Request{Declared: tpl.Parameters, Values: tpl.ParameterValues, Outputs: tpl.Outputs}
	if !diff && r.o.DeployRecords != "" {
		req.NoteTemplate(tpl.Body) // no-change detection (cfn.Records): only when records are kept
	}
	if diff {
		defs, err := cfn.OutputDefinitions(string(tpl.Body))
		if err != nil {
			return nil, err
		}
		req.OutputDefs = defs
	}
	bucketName, useBucket := r.bucketName()
	if diff && len(tpl.Body) <= cfn.MaxTemplateBody {
		useBucket = false
	}
	if !useBucket {
		if len(tpl.Body) > cfn.MaxTemplateBody {
			return nil, fmt.Errorf("template is %d bytes, over CloudFormation's %d-byte limit for inline templates: set stacker_bucket so templates are uploaded to S3", len(tpl.Body), cfn.MaxTemplateBody)
		}
		req.TemplateBody = string(tpl.Body)
	} else {
		b, err := r.templateBucket(ctx, bucketName)
		if err != nil {
			return nil, err
		}
		ct := "application/json"
		if tpl.Format == "yaml" {
			ct = "application/x-yaml"
		}
		url, err := b.Upload(ctx, template.ObjectKey(fqn, st.Name, tpl), tpl.Body, ct)
		if err != nil {
			return nil, err
		}
		req.TemplateURL = url
	}
	if st.StackPolicyPath != "" {
		path := st.StackPolicyPath
		if !filepath.IsAbs(path) {
			path = filepath.Join(r.cfg.Dir, path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read stack policy: %w", err)
		}
		req.StackPolicy = string(b)
	}
	logRequest(st.Name, fqn, req)
	return req, nil
}

// logRequest writes the -v lines of what a stack sends: where its template
// is and the parameters, NoEcho values masked.
func logRequest(name, fqn string, req *cfn.Request) {
	if !slog.Default().Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	if req.TemplateURL != "" {
		slog.Debug(fmt.Sprintf("stack %s (%s): template %s", name, fqn, req.TemplateURL))
	} else {
		slog.Debug(fmt.Sprintf("stack %s (%s): template inline, %d bytes", name, fqn, len(req.TemplateBody)))
	}
	slog.Debug(fmt.Sprintf("stack %s (%s): parameters %s", name, fqn, cfn.MaskedParameters(req.Declared, req.Values)))
}

// bucketName is the template bucket: stacker_bucket, else
// stacker-<namespace>; false means templates go inline.
func (r *run) bucketName() (string, bool) {
	name := r.cfg.BucketName()
	return name, name != ""
}

// templateBucket returns the bucket, with the top-level credentials
// (--profile) in stacker_bucket_region (default: --region).
func (r *run) templateBucket(ctx context.Context, name string) (*cfn.Bucket, error) {
	r.bucketOnce.Do(func() {
		k := target.Key{Region: r.cfg.StackerBucketRegion}
		client, region, endpoint, err := r.clients.S3(ctx, k)
		if err != nil {
			r.bucketErr = fmt.Errorf("template bucket %s: %w", name, err)
			return
		}
		acct, err := r.o.Targets.Account(ctx, k)
		if err != nil {
			r.bucketErr = fmt.Errorf("template bucket %s: %w", name, err)
			return
		}
		r.bucket = cfn.NewBucket(name, region, client, endpoint)
		r.bucket.NoCreate = r.diff
		r.bucketAcct = acct
	})
	return r.bucket, r.bucketErr
}

// preflight renders and checks every stack whose inputs are known before
// anything changes (see package preflight): all problems are listed
// together, as config errors (exit 2). Stacks that use outputs of this run
// or hook data are checked by their own step, before their first call.
func (r *run) preflight(ctx context.Context) error {
	rep := preflight.Run(ctx, preflight.Options{
		Config: r.cfg, Lookups: r.o.Lookups, Stacks: r.o.Graph.Order(),
		Env: r.lookupEnv,
		Exists: func(ctx context.Context, st *config.Stack) (bool, error) {
			p, err := r.provider(ctx, stackKey(st))
			if err != nil {
				return false, err
			}
			s, err := p.Describe(ctx, st.CFNName(r.cfg))
			return s != nil, err
		},
		Defer: func(st *config.Stack) bool { return strings.Contains(fmt.Sprint(st.Variables), "${hook_data ") },
	})
	if ctx.Err() != nil {
		// Interrupted while checking: nothing was changed yet, and what
		// failed was the cancellation, not the config.
		r.events.Emit(event.Interrupted{Time: r.now(), NextRun: nextRun})
		return &InterruptedError{}
	}
	warns, err := r.checkBucket(ctx)
	rep.Warnings = append(rep.Warnings, warns...)
	var ps *preflight.Problems
	switch {
	case ctx.Err() != nil:
		r.events.Emit(event.Interrupted{Time: r.now(), NextRun: nextRun})
		return &InterruptedError{}
	case errors.As(err, &ps):
		rep.Problems = append(rep.Problems, ps.Errors...)
	case err != nil:
		return err
	}
	for _, w := range rep.Warnings {
		r.o.console().Errorf("WARNING: %s\n", w)
	}
	return rep.Err()
}

// checkBucket is the template-bucket part of the preflight (see
// preflight.Bucket): read-only calls with the top-level credentials, and
// the identity of every target whose stacks CloudFormation deploys.
func (r *run) checkBucket(ctx context.Context) ([]string, error) {
	name, ok := r.bucketName()
	if !ok {
		return nil, nil
	}
	k := target.Key{Region: r.cfg.StackerBucketRegion}
	client, region, _, err := r.clients.S3(ctx, k)
	if err != nil {
		return nil, fmt.Errorf("template bucket %s: %w", name, err)
	}
	owner, err := r.o.Targets.Identity(ctx, k)
	if err != nil {
		return nil, fmt.Errorf("template bucket %s: %w", name, err)
	}
	c := preflight.BucketCheck{Name: name, Region: region, Profile: r.o.Targets.Profile(k), Account: owner.Account, API: client}
	byRole := map[string]int{}
	for _, n := range r.o.Graph.Order() {
		st := r.cfg.Stack(n)
		if st == nil || !st.Enabled || st.ClassPath == "" && st.TemplatePath == "" {
			continue
		}
		id, err := r.o.Targets.Identity(ctx, stackKey(st))
		if err != nil {
			return nil, fmt.Errorf("stack %s: %w", n, err)
		}
		i, seen := byRole[id.RoleARN()]
		if !seen {
			i = len(c.Readers)
			byRole[id.RoleARN()] = i
			c.Readers = append(c.Readers, preflight.Reader{Account: id.Account, RoleARN: id.RoleARN()})
		}
		c.Readers[i].Stacks = append(c.Readers[i].Stacks, n)
	}
	return preflight.Bucket(ctx, c)
}

// inProgress is what build does with a stack CloudFormation is still
// changing: --in-progress when given, else the stack's in_progress_behavior
// ("" is wait).
func (r *run) inProgress(st *config.Stack) string {
	if r.o.InProgress != "" {
		return r.o.InProgress
	}
	return st.InProgressBehavior
}
