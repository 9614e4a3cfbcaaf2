package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stacker-go/stacker/internal/cfn"
	"github.com/stacker-go/stacker/internal/config"
	"github.com/stacker-go/stacker/internal/engine"
	"github.com/stacker-go/stacker/internal/event"
	"github.com/stacker-go/stacker/internal/graph"
	"github.com/stacker-go/stacker/internal/lookup"
	"github.com/stacker-go/stacker/internal/target"
	"github.com/stacker-go/stacker/internal/ui"
)

// EnvAPIStats names a file where a run writes its API call counts by
// operation as JSON (used by bench/provider).
const EnvAPIStats = target.EnvAPIStats

// run is the state of one action shared by its stacks.
type run struct {
	o       *Options
	cfg     *config.Config
	con     *ui.Console
	events  event.Sink
	clients Clients
	action  event.Action
	now     func() time.Time

	mu        sync.Mutex
	providers map[target.Key]*providerEntry
	outputs   map[string]map[string]string
	changing  []ChangingStack
	cache     *lookup.Cache
	// hookData is what the pre_build hooks stored (nil outside build).
	hookData map[string]map[string]any

	// diff is set for diff runs: the template bucket is never created.
	diff bool
	// diffs are the diff run's results by stack (see Diff).
	diffs map[string]*cfn.StackDiff
	// afterWalk, when set, runs once the walk is over, before the run's
	// end is reported (diff prints its plan there).
	afterWalk  func(order []string, isTarget func(string) bool, res engine.Result) error
	bucketOnce sync.Once
	bucket     *cfn.Bucket
	bucketAcct string
	bucketErr  error
	// backlog is how many ready stacks wait for a -j slot (the engine says);
	// the status pollers spend more of the read budget while it is not 0.
	backlog atomic.Int64
}

type providerEntry struct {
	once   sync.Once
	p      *cfn.Provider
	target event.Target
	err    error
}

func newRun(o *Options, action event.Action) *run {
	r := &run{
		o: o, cfg: o.Config, con: o.console(), action: action, now: o.Now,
		providers: map[target.Key]*providerEntry{},
		outputs:   map[string]map[string]string{},
		cache:     lookup.NewCache(),
	}
	r.clients = o.Clients
	if r.clients == nil {
		r.clients = sdkClients{o.Targets}
	}
	r.events = o.Events
	if r.events == nil {
		r.events = ui.NewPlain(r.con)
	}
	if r.now == nil {
		r.now = time.Now
	}
	return r
}

// stackKey is the target of a stack: its profile and region.
func stackKey(st *config.Stack) target.Key {
	return target.Key{Profile: st.Profile, Region: st.Region}
}

// provider returns the CloudFormation provider of a target, built once.
// Its client is paced by the budget of the target's (account, region).
func (r *run) provider(ctx context.Context, k target.Key) (*cfn.Provider, error) {
	e := r.providerEntry(k)
	e.once.Do(func() {
		client, err := r.clients.CloudFormation(ctx, k)
		if err != nil {
			e.err = err
			return
		}
		acct, err := r.o.Targets.Account(ctx, k)
		if err != nil {
			e.err = err
			return
		}
		r.mu.Lock()
		e.target.Account, e.target.Region = acct, client.Region
		r.mu.Unlock()
		var records *cfn.Records
		if r.o.DeployRecords != "" && r.action == event.Build {
			records = &cfn.Records{Dir: r.o.DeployRecords, Account: acct, Region: client.Region}
		}
		e.p = cfn.New(client.API, cfn.Options{PollCeiling: cfn.PollCeilingFromEnv(), ReadRate: client.ReadRate, Records: records,
			Backlog: func() bool { return r.backlog.Load() > 0 }})
	})
	return e.p, e.err
}

func (r *run) providerEntry(k target.Key) *providerEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.providers[k]
	if !ok {
		e = &providerEntry{target: event.Target{Profile: r.o.Targets.Profile(k), Region: r.o.Targets.Resolve(k).Region}}
		r.providers[k] = e
	}
	return e
}

// stackRef names a stack in events: its config and CloudFormation names and
// its target (the account once its provider is built).
func (r *run) stackRef(name string) event.Stack {
	st := r.cfg.Stack(name)
	if st == nil {
		return event.Stack{Name: name}
	}
	e := r.providerEntry(stackKey(st))
	r.mu.Lock()
	defer r.mu.Unlock()
	return event.Stack{Name: name, FQN: st.CFNName(r.cfg), Target: e.target}
}

// stackDeps is what the provider needs from the run for one stack.
func (r *run) stackDeps(st *config.Stack, prepare func(ctx context.Context) (*cfn.Request, error)) cfn.StackDeps {
	return cfn.StackDeps{
		Target:       r.stackRef(st.Name).Target,
		Prepare:      prepare,
		CheckAccount: r.guard(st),
		Events:       r.events,
		Tail:         r.o.Tail || r.o.Resources,
		TailSpare:    !r.o.Tail && r.o.Resources,
	}
}

func (r *run) setOutputs(name string, out map[string]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.outputs[name] = out
}

func (r *run) addChanging(c ChangingStack) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changing = append(r.changing, c)
}

// stackOutputs returns the outputs of a stack for output lookups: those
// recorded in this run, else read with the producer's own credentials
// (stacks not run, e.g. outside --stacks, disabled).
func (r *run) stackOutputs(ctx context.Context, name string) (map[string]string, error) {
	r.mu.Lock()
	out, ok := r.outputs[name]
	r.mu.Unlock()
	if ok {
		return out, nil
	}
	st := r.cfg.Stack(name)
	if st == nil {
		return nil, fmt.Errorf("stack %q is not in the config", name)
	}
	p, err := r.provider(ctx, stackKey(st))
	if err != nil {
		return nil, err
	}
	fqn := st.CFNName(r.cfg)
	s, err := p.Describe(ctx, fqn)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, fmt.Errorf("stack %s (%s) does not exist", name, fqn)
	}
	r.setOutputs(name, s.Outputs)
	return s.Outputs, nil
}

// lookupEnv is what lookups of one stack see: its target's credentials and
// region, the outputs recorded in this run.
func (r *run) lookupEnv(st *config.Stack) *lookup.Env {
	k := stackKey(st)
	return &lookup.Env{
		Stack:       st.Name,
		Environment: r.cfg.Environment,
		ConfigDir:   r.cfg.Dir,
		Outputs:     r.stackOutputs,
		FQN:         r.cfg.FQN,
		AWS: func(ctx context.Context, region string) (aws.Config, error) {
			kk := k
			if region != "" {
				kk.Region = region
			}
			return r.o.Targets.AWSConfig(ctx, kk)
		},
		Target:   k.String(),
		Cache:    r.cache,
		HookData: r.hookData,
	}
}

// guard is the account guard: before the first mutation in a target, the
// account its credentials resolve to must match the stack's account_id or
// the config's accounts entry for its profile (target.CheckAccount).
func (r *run) guard(st *config.Stack) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		return r.o.Targets.CheckAccount(ctx, stackKey(st), st.AccountID, r.cfg.Accounts, "stack "+st.CFNName(r.cfg))
	}
}

// explainTemplateAccess adds to a CreateStack/UpdateStack refused because
// CloudFormation cannot read the TemplateURL, in a target other than the
// bucket's, the bucket policy statement that lets that target's role read.
func (r *run) explainTemplateAccess(ctx context.Context, st *config.Stack, out *cfn.Outcome) {
	var ce *cfn.CallError
	if !errors.As(out.Status.Err, &ce) || !ce.TemplateAccessDenied() || r.bucket == nil {
		return
	}
	k := stackKey(st)
	id, err := r.o.Targets.Identity(ctx, k)
	if err != nil || id.Account == r.bucketAcct {
		return
	}
	role := id.RoleARN()
	policy := fmt.Sprintf(`{"Effect": "Allow", "Principal": {"AWS": %q}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::%s/*"}`, role, r.bucket.Name)
	ce.Hint = fmt.Sprintf("CloudFormation in account %s cannot read the template bucket %s (account %s) as %s; add this statement to the bucket policy of %s:\n%s",
		id.Account, r.bucket.Name, r.bucketAcct, role, r.bucket.Name, policy)
	out.Status.Reason = ce.Error()
}

// tags are the config's tags (default {stacker_namespace: namespace})
// merged with the stack's.
func (r *run) tags(st *config.Stack) map[string]string {
	return r.cfg.StackTags(st)
}

func (r *run) serviceRole(st *config.Stack) string {
	if st.ServiceRole != "" {
		return st.ServiceRole
	}
	return r.cfg.ServiceRole
}

// walkGraph runs step for every node of g, dependencies first, and
// reports the result (finish).
func (r *run) walkGraph(ctx context.Context, g *graph.Graph, step engine.Step) error {
	order := g.Order()
	r.started(order, g.Deps, g.IsTarget)
	res := r.walk(ctx, order, g.Deps, g.IsTarget, step)
	err := r.finish(ctx, order, g.IsTarget, res)
	if r.afterWalk != nil {
		if werr := r.afterWalk(order, g.IsTarget, res); werr != nil && err == nil {
			err = werr
		}
	}
	final := make(map[string]event.StackStatus, len(res.Status))
	for name, s := range res.Status {
		if !g.IsTarget(name) {
			final[name] = r.statusEvent(name, s)
		}
	}
	r.events.Emit(event.RunFinished{Time: r.now(), Action: r.action, Final: final, Err: err})
	return err
}

// started emits RunStarted with the plan.
func (r *run) started(order []string, deps func(string) []string, isTarget func(string) bool) {
	var plan []event.PlannedStack
	for _, n := range order {
		if isTarget(n) {
			continue
		}
		var ds []string
		for _, d := range deps(n) {
			if !isTarget(d) {
				ds = append(ds, d)
			}
		}
		plan = append(plan, event.PlannedStack{Stack: r.stackRef(n), Deps: ds})
	}
	r.events.Emit(event.RunStarted{Time: r.now(), Action: r.action, Stacks: plan, MaxParallel: r.o.MaxParallel})
}

func (r *run) statusEvent(name string, s engine.Status) event.StackStatus {
	return event.StackStatus{Time: r.now(), Stack: r.stackRef(name), State: s.State, Reason: s.Reason, Err: s.Err, Outcome: outcome(r.action, s)}
}

// outcome is what an action did to a stack, from its status ("" while it
// is not done). The reasons matched are the provider's own constants.
func outcome(action event.Action, s engine.Status) event.Outcome {
	switch s.State {
	case engine.Pending:
		if s.Reason == engine.ReasonInterrupted {
			return event.OutcomeCancelled
		}
	case engine.Failed:
		if s.Reason == engine.ReasonInterrupted {
			return event.OutcomeCancelled
		}
		return event.OutcomeFailed
	case engine.Skipped:
		if s.Reason == cfn.ReasonNoChange {
			return event.OutcomeUnchanged
		}
		return event.OutcomeSkipped
	case engine.Complete:
		switch action {
		case event.Destroy:
			return event.OutcomeDeleted
		case event.Diff:
			return event.OutcomeCompared
		}
		if s.Reason == cfn.ReasonUpdating {
			return event.OutcomeUpdated
		}
		return event.OutcomeCreated
	}
	return ""
}

// walk runs the engine over the graph's nodes and emits a StackStatus
// event on every change (config targets emit nothing).
func (r *run) walk(ctx context.Context, order []string, deps func(string) []string, isTarget func(string) bool, step engine.Step) engine.Result {
	nodes := make([]engine.Node, 0, len(order))
	for _, n := range order {
		nodes = append(nodes, engine.Node{Name: n, Deps: deps(n)})
	}
	res := engine.Walk(ctx, nodes, func(ctx context.Context, name string, report func(engine.Status)) engine.Status {
		if isTarget(name) {
			return engine.Status{State: engine.Complete}
		}
		r.events.Emit(event.StackStarted{Time: r.now(), Stack: r.stackRef(name)})
		return step(ctx, name, report)
	}, engine.Options{
		MaxParallel: r.o.MaxParallel,
		// Priorities count the stacks left on a chain: config targets are
		// done at once and weigh nothing.
		Weight: func(name string) float64 {
			if isTarget(name) {
				return 0
			}
			return 1
		},
		OnStatus: func(name string, s engine.Status) {
			if !isTarget(name) {
				r.events.Emit(r.statusEvent(name, s))
			}
		},
		Backlog: func(queued int) { r.backlog.Store(int64(queued)) },
	})
	r.writeStats()
	return res
}

// nextRun says what the next run does with a stack this one left changing.
const nextRun = "the next run waits for it to finish, then handles it (unless its in_progress_behavior is fail)"

// finish turns a walk result into the action's error.
func (r *run) finish(ctx context.Context, order []string, isTarget func(string) bool, res engine.Result) error {
	if ctx.Err() != nil {
		r.mu.Lock()
		ch := slices.Clone(r.changing)
		r.mu.Unlock()
		sort.Slice(ch, func(i, j int) bool { return ch[i].Name < ch[j].Name })
		ev := event.Interrupted{Time: r.now(), NextRun: nextRun}
		for _, c := range ch {
			ev.Changing = append(ev.Changing, event.Changing{Stack: r.stackRef(c.Name), CFNStatus: c.Status})
		}
		r.events.Emit(ev)
		return &InterruptedError{Changing: ch}
	}
	var failedNames []string
	for _, n := range order {
		if !isTarget(n) && res.Status[n].State == engine.Failed {
			failedNames = append(failedNames, n)
		}
	}
	if len(failedNames) > 0 {
		return &FailedError{Stacks: failedNames}
	}
	return nil
}

func (r *run) writeStats() {
	path := os.Getenv(EnvAPIStats)
	if path == "" {
		return
	}
	b, _ := json.MarshalIndent(r.o.Targets.APIStats(), "", "  ")
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		slog.Warn("write API stats", "path", path, "err", err)
	}
}
