package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"
	"github.com/stacker-go/stacker/internal/cfn"
	"github.com/stacker-go/stacker/internal/config"
	"github.com/stacker-go/stacker/internal/engine"
	"github.com/stacker-go/stacker/internal/graph"
	"github.com/stacker-go/stacker/internal/lookup"
	"github.com/stacker-go/stacker/internal/target"
	"github.com/stacker-go/stacker/internal/ui"
	"golang.org/x/time/rate"
)

// DefaultReadRate is read calls per second per (account, region) when
// Options.ReadRate is 0: below the ~5 rps that CloudFormation accounts
// sustain for Describe* calls, leaving room for other tools and people.
const DefaultReadRate = 4.0

// EnvAPIStats names a file where a run writes its API call counts by
// operation as JSON (used by bench/provider).
const EnvAPIStats = "STACKER_API_STATS"

// run is the state of one action shared by its stacks.
type run struct {
	o   *Options
	cfg *config.Config
	con *ui.Console

	mu        sync.Mutex
	providers map[target.Key]*providerEntry
	limiters  map[string]*rate.Limiter
	outputs   map[string]map[string]string
	changing  []ChangingStack
	cache     *lookup.Cache

	// diff is set for diff runs: the template bucket is never created.
	diff       bool
	bucketOnce sync.Once
	bucket     *cfn.Bucket
	bucketAcct string
	bucketErr  error

	stats apiStats
}

type providerEntry struct {
	once sync.Once
	p    *cfn.Provider
	acct string
	err  error
}

func newRun(o *Options) *run {
	return &run{
		o: o, cfg: o.Config, con: o.console(),
		providers: map[target.Key]*providerEntry{},
		limiters:  map[string]*rate.Limiter{},
		outputs:   map[string]map[string]string{},
		cache:     lookup.NewCache(),
	}
}

// stackKey is the target of a stack: its profile and region.
func stackKey(st *config.Stack) target.Key {
	return target.Key{Profile: st.Profile, Region: st.Region}
}

// awsConfig returns the target's aws.Config with API call counting.
func (r *run) awsConfig(ctx context.Context, k target.Key) (aws.Config, error) {
	cfg, err := r.o.Targets.Config(ctx, k)
	if err != nil {
		return cfg, err
	}
	cfg.APIOptions = append(slices.Clone(cfg.APIOptions), r.stats.middleware)
	return cfg, nil
}

// provider returns the CloudFormation provider of a target, built once.
// Read calls of every target in the same (account, region) share a token
// bucket.
func (r *run) provider(ctx context.Context, k target.Key) (*cfn.Provider, error) {
	r.mu.Lock()
	e, ok := r.providers[k]
	if !ok {
		e = &providerEntry{}
		r.providers[k] = e
	}
	r.mu.Unlock()
	e.once.Do(func() {
		cfg, err := r.awsConfig(ctx, k)
		if err != nil {
			e.err = err
			return
		}
		acct, err := r.o.Targets.Account(ctx, k)
		if err != nil {
			e.err = err
			return
		}
		e.acct = acct
		read, write := cfn.NewClients(cfg)
		e.p = cfn.New(read, write, cfn.Options{Reads: r.limiter(acct, cfg.Region), PollCeiling: cfn.PollCeilingFromEnv()})
	})
	return e.p, e.err
}

func (r *run) limiter(acct, region string) *rate.Limiter {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := acct + "/" + region
	l, ok := r.limiters[key]
	if !ok {
		rps := r.o.ReadRate
		if rps <= 0 {
			rps = DefaultReadRate
		}
		// CloudFormation's own limit is a token bucket too: allow a burst of
		// ten seconds' worth (a short run never waits), then hold the rate.
		burst := int(rps * 10)
		if burst < 10 {
			burst = 10
		}
		l = rate.NewLimiter(rate.Limit(rps), burst)
		r.limiters[key] = l
	}
	return l
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
			return r.awsConfig(ctx, kk)
		},
		Target: k.String(),
		Cache:  r.cache,
	}
}

// profileName is the profile a key resolves to, for messages and the
// accounts map.
func (r *run) profileName(k target.Key) string {
	if res, ok := r.o.Targets.(interface{ Resolve(target.Key) target.Key }); ok {
		k = res.Resolve(k)
	}
	if k.Profile != "" {
		return k.Profile
	}
	if p := os.Getenv("AWS_PROFILE"); p != "" {
		return p
	}
	return "default"
}

// guard is the account guard: before the first mutation in a target, the
// account its credentials resolve to must match the stack's account_id or
// the config's accounts entry for its profile.
func (r *run) guard(st *config.Stack) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		k := stackKey(st)
		acct, err := r.o.Targets.Account(ctx, k)
		if err != nil {
			return fmt.Errorf("account guard: %w", err)
		}
		profile := r.profileName(k)
		want := st.AccountID
		if want == "" {
			want = r.cfg.Accounts[profile]
		}
		if want != "" && want != acct {
			return fmt.Errorf("account mismatch: stack %s must deploy to account %s but profile %q resolves to %s", st.CFNName(r.cfg), want, profile, acct)
		}
		return nil
	}
}

// wrapTemplateAccess explains a TemplateURL access error in a target other
// than the bucket's: the bucket policy must let that target's role read.
func (r *run) wrapTemplateAccess(st *config.Stack) func(ctx context.Context, err error) error {
	return func(ctx context.Context, err error) error {
		if !strings.Contains(err.Error(), cfn.TextTemplateURLAccess) || r.bucket == nil {
			return err
		}
		k := stackKey(st)
		acct, aerr := r.o.Targets.Account(ctx, k)
		if aerr != nil || acct == r.bucketAcct {
			return err
		}
		cfg, cerr := r.awsConfig(ctx, k)
		if cerr != nil {
			return err
		}
		id, ierr := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if ierr != nil {
			return err
		}
		role := RoleARN(aws.ToString(id.Arn))
		policy := fmt.Sprintf(`{"Effect": "Allow", "Principal": {"AWS": %q}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::%s/*"}`, role, r.bucket.Name)
		return fmt.Errorf("%w\nCloudFormation in account %s cannot read the template bucket %s (account %s) as %s; add this statement to the bucket policy of %s:\n%s",
			err, acct, r.bucket.Name, r.bucketAcct, role, r.bucket.Name, policy)
	}
}

// RoleARN turns an assumed-role session ARN
// (arn:aws:sts::123:assumed-role/Role/session) into the role's IAM ARN
// (arn:aws:iam::123:role/Role); other ARNs are returned unchanged.
func RoleARN(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[2] != "sts" || !strings.HasPrefix(parts[5], "assumed-role/") {
		return arn
	}
	res := strings.Split(strings.TrimPrefix(parts[5], "assumed-role/"), "/")
	return "arn:" + parts[1] + ":iam::" + parts[4] + ":role/" + res[0]
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
	res := r.walk(ctx, order, g.Deps, g.IsTarget, step)
	return r.finish(ctx, order, g.IsTarget, res)
}

// walk runs the engine over the graph's nodes and prints status lines
// (config targets print nothing).
func (r *run) walk(ctx context.Context, order []string, deps func(string) []string, isTarget func(string) bool, step engine.Step) engine.Result {
	nodes := make([]engine.Node, 0, len(order))
	for _, n := range order {
		nodes = append(nodes, engine.Node{Name: n, Deps: deps(n)})
	}
	res := engine.Walk(ctx, nodes, func(ctx context.Context, name string, report func(engine.Status)) engine.Status {
		if isTarget(name) {
			return engine.Status{State: engine.Complete}
		}
		return step(ctx, name, report)
	}, engine.Options{
		MaxParallel: r.o.MaxParallel,
		OnStatus: func(name string, s engine.Status) {
			if !isTarget(name) {
				r.con.Status(name, s.State.String(), s.Reason)
			}
		},
	})
	r.writeStats()
	return res
}

// finish turns a walk result into the action's error.
func (r *run) finish(ctx context.Context, order []string, isTarget func(string) bool, res engine.Result) error {
	if ctx.Err() != nil {
		r.mu.Lock()
		ch := slices.Clone(r.changing)
		r.mu.Unlock()
		sort.Slice(ch, func(i, j int) bool { return ch[i].Name < ch[j].Name })
		if len(ch) == 0 {
			r.con.Infof("Interrupted: no stack is still changing in CloudFormation")
		} else {
			for _, c := range ch {
				r.con.Infof("Interrupted: %s (%s) is still changing in CloudFormation, last status %s; a second run picks up from the state it reaches", c.Name, c.FQN, c.Status)
			}
		}
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

// apiStats counts API calls by "Service.Operation".
type apiStats struct {
	m sync.Map // string → *atomic.Int64
}

func (s *apiStats) middleware(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("stackerAPICount",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			op := awsmiddleware.GetServiceID(ctx) + "." + awsmiddleware.GetOperationName(ctx)
			v, _ := s.m.LoadOrStore(op, new(atomic.Int64))
			v.(*atomic.Int64).Add(1)
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
}

// Counts returns the calls made so far by operation.
func (s *apiStats) Counts() map[string]int64 {
	out := map[string]int64{}
	s.m.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	return out
}

func (r *run) writeStats() {
	path := os.Getenv(EnvAPIStats)
	if path == "" {
		return
	}
	b, _ := json.MarshalIndent(r.stats.Counts(), "", "  ")
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		slog.Warn("write API stats", "path", path, "err", err)
	}
}
