package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/stacker-go/stacker/internal/cfn"
	"github.com/stacker-go/stacker/internal/engine"
	"github.com/stacker-go/stacker/internal/event"
	"github.com/stacker-go/stacker/internal/target"
	"github.com/stacker-go/stacker/internal/ui"
)

// Diff shows, for every stack of the graph, what build would change,
// through change sets it deletes afterwards (stacker §5.13). Stacks are
// compared in parallel by the graph as build runs them (-j, the targets'
// API budgets); status lines go to the console as they happen, and the
// plan is printed on Out once all are done, in graph order, from typed
// values: as text, or with JSON as one document (docs/diff-json.md). No
// hooks, no bucket creation: templates over the inline limit are uploaded
// only when the bucket exists.
func Diff(ctx context.Context, o Options) error {
	if err := o.check(); err != nil {
		return err
	}
	r := newRun(&o, event.Diff)
	if o.Interactive && !r.con.IsTerminal() {
		return ErrDiffNeedsTerminal
	}
	r.diff = true
	r.diffs = map[string]*cfn.StackDiff{}
	r.afterWalk = func(order []string, isTarget func(string) bool, res engine.Result) error {
		return r.writeDiff(ctx, order, isTarget, res)
	}
	return r.walkGraph(ctx, o.Graph, r.diffStep)
}

func (r *run) diffStep(ctx context.Context, name string, report func(engine.Status)) engine.Status {
	st, p, fqn, done, ok := r.stepStack(ctx, name, true)
	if !ok {
		return done
	}
	spec := &cfn.DiffSpec{
		Name: name, FQN: fqn, Locked: st.Locked,
		Forced: slices.Contains(r.o.Force, name) || slices.Contains(r.o.Force, fqn),
		Tags:   r.tags(st), RoleARN: r.serviceRole(st), NotificationARNs: st.NotificationARNs,
		Deps: r.stackDeps(st, func(ctx context.Context) (*cfn.Request, error) { return r.prepareDiff(ctx, st, fqn) }),
	}
	spec.Deps.CheckAccount = nil // diff changes nothing that stays
	out := p.Diff(ctx, spec)
	if out.Diff != nil {
		r.mu.Lock()
		r.diffs[name] = out.Diff
		r.mu.Unlock()
	}
	if out.Outputs != nil && out.Status.OK() {
		r.setOutputs(name, out.Outputs)
	}
	return out.Status
}

// diffPlan assembles the plan in graph order: what each stack's diff
// found, and for stacks never compared, why.
func (r *run) diffPlan(order []string, isTarget func(string) bool, res engine.Result) *cfn.DiffPlan {
	plan := &cfn.DiffPlan{Namespace: r.cfg.Namespace, Stacks: []cfn.StackDiff{}}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, name := range order {
		if isTarget(name) {
			continue
		}
		var d cfn.StackDiff
		if found := r.diffs[name]; found != nil {
			d = *found
		} else {
			d = cfn.StackDiff{Name: name, Parameters: []cfn.ValueDiff{}, Tags: []cfn.ValueDiff{}, ResourceChanges: []cfn.ResourceChange{}}
			if st := r.cfg.Stack(name); st != nil {
				d.FQN = st.CFNName(r.cfg)
			}
			s := res.Status[name]
			d.Reason = s.Reason
			switch {
			case s.State == engine.Skipped && s.Reason == cfn.ReasonLocked:
				d.Action = cfn.DiffLocked
			case s.State == engine.Skipped:
				d.Action = cfn.DiffSkipped
			case s.State == engine.Failed && s.Reason != engine.ReasonInterrupted:
				d.Action = cfn.DiffFailed
			default:
				d.Action = cfn.DiffCanceled
			}
		}
		if st := r.cfg.Stack(name); st != nil {
			e := r.providers[stackKey(st)]
			if e != nil {
				d.Target = cfn.DiffTarget{Account: e.target.Account, Region: e.target.Region, Profile: e.target.Profile}
			} else {
				k := r.o.Targets.Resolve(stackKey(st))
				d.Target = cfn.DiffTarget{Region: k.Region, Profile: r.o.Targets.Profile(stackKey(st))}
			}
		}
		plan.Stacks = append(plan.Stacks, d)
	}
	return plan
}

// spansTargets reports whether the graph's stacks live in more than one
// target (account or region).
func (r *run) spansTargets(order []string, isTarget func(string) bool) bool {
	seen := map[target.Key]bool{}
	for _, name := range order {
		if st := r.cfg.Stack(name); st != nil && !isTarget(name) {
			seen[r.o.Targets.Resolve(stackKey(st))] = true
		}
	}
	return len(seen) > 1
}

// ErrDiffNeedsTerminal is diff -i without a terminal to ask on.
var ErrDiffNeedsTerminal = errors.New("diff -i asks on a terminal whether to show each stack's full change set, and there is none: run diff without -i to print every change set in full")

// writeDiff prints the plan on Out in one write, so no other output lands
// inside it. With -i it goes stack by stack instead (askDiff).
func (r *run) writeDiff(ctx context.Context, order []string, isTarget func(string) bool, res engine.Result) error {
	plan := r.diffPlan(order, isTarget, res)
	if r.o.Interactive && !r.o.JSON {
		return r.askDiff(ctx, plan, cfn.DiffTextOptions{Colour: r.con.OutColour(), ShowTarget: r.spansTargets(order, isTarget)})
	}
	var b strings.Builder
	var err error
	if r.o.JSON {
		err = cfn.WriteDiffJSON(&b, plan)
	} else {
		err = cfn.WriteDiffText(&b, plan, cfn.DiffTextOptions{Colour: r.con.OutColour(), ShowTarget: r.spansTargets(order, isTarget)})
	}
	if err != nil {
		return err
	}
	if b.Len() > 0 {
		r.con.Outf("%s", b.String())
	}
	return nil
}

// askDiff is diff -i (stacker §5.13): for each stack with changes, in plan
// order, its change-set summary on stderr and "Show full change set?
// [y/n] "; y (or v) prints the stack's full diff on Out, any other answer
// nothing. Stacks without changes print as without -i. Ctrl-C at the
// question ends the run (exit 130); the change sets are already deleted.
func (r *run) askDiff(ctx context.Context, plan *cfn.DiffPlan, o cfn.DiffTextOptions) error {
	for i := range plan.Stacks {
		d := &plan.Stacks[i]
		switch d.Action {
		case cfn.DiffCreate, cfn.DiffUpdate, cfn.DiffReplace:
		default:
			if text := cfn.StackDiffText(d, o); text != "" {
				r.con.Outf("%s", text)
			}
			continue
		}
		var show bool
		err := r.con.Converse(ctx, func(t *ui.Turn) error {
			t.Print(cfn.DiffSummary(d, o.ShowTarget))
			answer, err := t.Ask(ctx, "Show full change set? [y/n] ")
			if err != nil {
				return err
			}
			show = strings.EqualFold(answer, "y") || strings.EqualFold(answer, "v")
			return nil
		})
		if err != nil {
			return fmt.Errorf("diff -i: stack %s: %w", d.Name, err)
		}
		if show {
			r.con.Outf("%s", cfn.StackDiffText(d, o))
		}
	}
	return nil
}
