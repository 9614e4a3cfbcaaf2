package deploy

import (
	"context"
	"slices"
	"sync"

	"github.com/stacker-go/stacker/internal/cfn"
	"github.com/stacker-go/stacker/internal/config"
	"github.com/stacker-go/stacker/internal/ui"
	"golang.org/x/sync/errgroup"
)

// ApproveAll are the --approve values that approve every stack.
var ApproveAll = []string{"all", "*"}

// needsApproval reports whether updates of the stack wait for a person
// (interactive mode, protected: true).
func (r *run) needsApproval(st *config.Stack) bool {
	return r.o.Interactive || st.Protected
}

// approved reports whether --approve names the stack (by config name or
// CloudFormation name) or approves all of them.
func (r *run) approved(st *config.Stack) bool {
	for _, a := range r.o.Approve {
		if slices.Contains(ApproveAll, a) || a == st.Name || a == st.CFNName(r.cfg) {
			return true
		}
	}
	return false
}

// converse is the run's way to ask a person, nil when stdin is not a
// terminal. Every question of the run goes through the one console, so
// stacks ask one at a time.
func (r *run) converse() cfn.Converse {
	if !r.con.IsTerminal() {
		return nil
	}
	return func(ctx context.Context, talk func(cfn.Conversation) error) error {
		return r.con.Converse(ctx, func(t *ui.Turn) error { return talk(t) })
	}
}

// checkApprovals fails before any change when an existing stack's update
// would wait for a person (interactive mode, protected: true) but there
// is no terminal to ask on and --approve does not name it. New stacks are
// created without a question (as in stacker), so they are not listed.
func (r *run) checkApprovals(ctx context.Context) error {
	if r.con.IsTerminal() {
		return nil
	}
	var (
		mu    sync.Mutex
		found = map[string]string{}
		why   = map[string]bool{}
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	order := r.o.Graph.Order()
	for _, name := range order {
		st := r.cfg.Stack(name)
		if st == nil || !st.Enabled || !r.needsApproval(st) || r.approved(st) {
			continue
		}
		g.Go(func() error {
			p, err := r.provider(gctx, stackKey(st))
			if err != nil {
				return nil // the stack's step reports it
			}
			fqn := st.CFNName(r.cfg)
			s, err := p.Describe(gctx, fqn)
			if err != nil || s == nil || s.Status == "DELETE_COMPLETE" || s.Status == "REVIEW_IN_PROGRESS" {
				return nil
			}
			if st.Locked && !slices.Contains(r.o.Force, st.Name) && !slices.Contains(r.o.Force, fqn) {
				return nil
			}
			mu.Lock()
			defer mu.Unlock()
			found[name] = name + " (" + fqn + ")"
			if r.o.Interactive {
				why["-i/--interactive"] = true
			}
			if st.Protected {
				why["protected: true"] = true
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if len(found) == 0 {
		return nil
	}
	e := &cfn.ApprovalNeededError{}
	for _, name := range order {
		if f, ok := found[name]; ok {
			e.Stacks = append(e.Stacks, f)
		}
	}
	for _, w := range []string{"-i/--interactive", "protected: true"} {
		if why[w] {
			if e.Why != "" {
				e.Why += ", "
			}
			e.Why += w
		}
	}
	return e
}
