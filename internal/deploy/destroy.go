package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/stacker-go/stacker/internal/cfn"
	"github.com/stacker-go/stacker/internal/engine"
	"github.com/stacker-go/stacker/internal/event"
	"github.com/stacker-go/stacker/internal/hookrun"
	"github.com/stacker-go/stacker/internal/target"
)

// Destroy deletes the stacks of the graph, dependants first (the graph is
// walked reversed), between the pre_destroy and post_destroy hooks. The
// caller prints the plan without --force (and runs no hook then). locked, enabled and protected do not stop a destroy (as
// in stacker), termination protection does: such a stack fails and its
// dependencies are kept.
func Destroy(ctx context.Context, o Options) error {
	if err := o.check(); err != nil {
		return err
	}
	if err := target.PreflightConfig(ctx, o.Targets, o.Config, o.Graph.Order()); err != nil { // credentials (MFA) before any change
		return err
	}
	if err := preflightHooks(ctx, o.Targets, o.Config.PreDestroy, o.Config.PostDestroy); err != nil {
		return err
	}
	r := newRun(&o, event.Destroy)
	hr := r.hookRunner()
	if err := hr.Run(ctx, hookrun.PreDestroy, o.Config.PreDestroy); err != nil {
		return err
	}
	if err := r.walkGraph(ctx, o.Graph.Reverse(), r.destroyStep); err != nil {
		return err
	}
	// As in stacker, post_destroy runs only when every stack was deleted.
	return hr.Run(ctx, hookrun.PostDestroy, o.Config.PostDestroy)
}

func (r *run) destroyStep(ctx context.Context, name string, report func(engine.Status)) engine.Status {
	st, p, fqn, done, ok := r.stepStack(ctx, name, false) // disabled stacks are deleted too
	if !ok {
		return done
	}
	spec := &cfn.DestroySpec{Name: name, FQN: fqn, RoleARN: r.serviceRole(st), Deps: r.stackDeps(st, nil)}
	out := p.Destroy(ctx, spec, report)
	if out.Changing {
		r.addChanging(ChangingStack{Name: name, FQN: fqn, Status: out.LastStatus})
	}
	return out.Status
}

// StackInfo is one stack in `info --json`.
type StackInfo struct {
	Name    string            `json:"name"`
	FQN     string            `json:"fqn"`
	Profile string            `json:"profile,omitempty"`
	Region  string            `json:"region,omitempty"`
	Exists  bool              `json:"exists"`
	Status  string            `json:"status,omitempty"`
	Outputs map[string]string `json:"outputs"`
}

// Info prints the outputs of the graph's stacks (stacker §5.14, honouring
// --stacks) on Out, or a JSON array of StackInfo with JSON.
func Info(ctx context.Context, o Options) error {
	if err := o.check(); err != nil {
		return err
	}
	r := newRun(&o, "info")
	var infos []StackInfo
	// Config order, as stacker's info (not plan order).
	for _, st := range r.cfg.Stacks {
		name := st.Name
		if !o.Graph.Has(name) || o.Graph.IsTarget(name) {
			continue
		}
		p, err := r.provider(ctx, stackKey(st))
		if err != nil {
			return fmt.Errorf("stack %s: %w", name, err)
		}
		fqn := st.CFNName(r.cfg)
		s, err := p.Describe(ctx, fqn)
		if err != nil {
			return fmt.Errorf("stack %s: %w", name, err)
		}
		in := StackInfo{Name: name, FQN: fqn, Profile: st.Profile, Region: st.Region, Outputs: map[string]string{}}
		if s != nil {
			in.Exists, in.Status, in.Outputs = true, s.Status, s.Outputs
		}
		infos = append(infos, in)
	}
	r.writeStats()
	con := r.con
	if o.JSON {
		if infos == nil {
			infos = []StackInfo{}
		}
		b, err := json.MarshalIndent(infos, "", "  ")
		if err != nil {
			return err
		}
		con.Outf("%s\n", b)
		return nil
	}
	con.Outf("Outputs for stacks: %s\n", r.cfg.Namespace)
	// stacker's header is the CloudFormation name; stacks in different
	// accounts or regions may share it, so those also name the config stack.
	for _, in := range infos {
		label := r.label(in.Name, in.FQN)
		if !in.Exists {
			con.Outf("Stack %q does not exist.\n", label)
			continue
		}
		con.Outf("%s:\n", label)
		keys := make([]string, 0, len(in.Outputs))
		for k := range in.Outputs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			con.Outf("\t%s: %s\n", k, in.Outputs[k])
		}
	}
	return nil
}

// label is how output names a stack: its CloudFormation name (stacker's
// word), followed by the config name when another stack of the config, in
// another account or region, has the same CloudFormation name.
func (r *run) label(name, fqn string) string {
	n := 0
	for i := range r.cfg.Stacks {
		if r.cfg.Stacks[i].CFNName(r.cfg) == fqn {
			n++
		}
	}
	if n > 1 {
		return fmt.Sprintf("%s (%s)", fqn, name)
	}
	return fqn
}
