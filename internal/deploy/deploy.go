// Package deploy runs the plan actions (build, destroy, diff, info): it walks
// the graph with internal/engine, resolves each stack's lookups and template
// right before submission, and talks to CloudFormation only through
// internal/cfn, with clients built per target from Options.Targets.
package deploy

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stacker-go/stacker/internal/cfn"
	"github.com/stacker-go/stacker/internal/config"
	"github.com/stacker-go/stacker/internal/event"
	"github.com/stacker-go/stacker/internal/graph"
	"github.com/stacker-go/stacker/internal/hookrun"
	"github.com/stacker-go/stacker/internal/lookup"
	"github.com/stacker-go/stacker/internal/target"
	"github.com/stacker-go/stacker/internal/ui"
)

// Targets is what deploy needs from internal/target.Factory: every method
// it calls, so tests can fake it.
type Targets interface {
	// Resolve fills a key's default profile and region (--profile, --region).
	Resolve(k target.Key) target.Key
	// Profile is the profile name a key's credentials come from.
	Profile(k target.Key) string
	// AWSConfig is the aws.Config every client of the target is built
	// from (credentials, region, endpoint, the API budget).
	AWSConfig(ctx context.Context, k target.Key) (aws.Config, error)
	// CloudFormation and S3 are the target's clients of those services.
	CloudFormation(ctx context.Context, k target.Key) (*cloudformation.Client, error)
	S3(ctx context.Context, k target.Key) (*s3.Client, string, error)
	// Account and Identity are who the target's credentials are.
	Account(ctx context.Context, k target.Key) (string, error)
	Identity(ctx context.Context, k target.Key) (target.Identity, error)
	// Budget is the CloudFormation API budget of the target's (account,
	// region).
	Budget(ctx context.Context, k target.Key) (*target.Budget, error)
	// CheckAccount is the account guard.
	CheckAccount(ctx context.Context, k target.Key, want string, accounts map[string]string, subject string) error
	// Preflight resolves credentials (MFA prompts) before any change.
	Preflight(ctx context.Context, keys []target.Key) error
	// APIStats counts the calls made so far (STACKER_API_STATS).
	APIStats() target.APIStats
}

// Clients gives the provider and the template bucket their clients, per
// target. By default they are the Targets' SDK clients; tests give fakes.
type Clients interface {
	// CloudFormation returns the target's client.
	CloudFormation(ctx context.Context, k target.Key) (CFNClient, error)
	// S3 returns the target's client, its region and its custom endpoint
	// ("" on AWS).
	S3(ctx context.Context, k target.Key) (api cfn.S3API, region, endpoint string, err error)
}

// sdkClients are the Targets' SDK clients.
type sdkClients struct{ t Targets }

// CFNClient is a target's CloudFormation client.
type CFNClient struct {
	API    cfn.API
	Region string
	// ReadRate is the target's current read rate (nil: unknown).
	ReadRate func() float64
}

func (c sdkClients) CloudFormation(ctx context.Context, k target.Key) (CFNClient, error) {
	cl, err := c.t.CloudFormation(ctx, k)
	if err != nil {
		return CFNClient{}, err
	}
	b, err := c.t.Budget(ctx, k)
	if err != nil {
		return CFNClient{}, err
	}
	return CFNClient{API: cl, Region: cl.Options().Region, ReadRate: b.Reads.Rate}, nil
}

func (c sdkClients) S3(ctx context.Context, k target.Key) (cfn.S3API, string, string, error) {
	cl, endpoint, err := c.t.S3(ctx, k)
	if err != nil {
		return nil, "", "", err
	}
	return cl, cl.Options().Region, endpoint, nil
}

// Options for every action.
type Options struct {
	Config  *config.Config
	Graph   *graph.Graph     // already narrowed by --stacks; not reversed for destroy
	Lookups *lookup.Registry // nil: the config's (Config.Registry)
	Targets Targets
	// Clients builds service clients (nil: the Targets' SDK clients).
	Clients Clients
	// Console receives prompts and command output (nil: one over In,
	// Out, ErrOut).
	Console *ui.Console
	// Events receives the run's typed events (nil: ui.Plain over Console,
	// stacker's status lines).
	Events event.Sink
	// Now is the clock stamped on events (nil: time.Now).
	Now func() time.Time
	// Force names locked stacks to update anyway (build --force NAME).
	Force []string
	// InProgress is build's --in-progress: "wait" or "fail" for a stack
	// CloudFormation is still changing, overriding each stack's
	// in_progress_behavior; "" leaves each stack's (default wait).
	InProgress string
	// MaxParallel caps stacks in flight (-j); 0 means only the graph limits it.
	MaxParallel int
	Tail        bool
	// Resources asks for ResourceEvents on Events even without Tail (a
	// live view showing the resource changing); the renderer decides
	// whether to print them.
	Resources      bool
	RecreateFailed bool
	// Interactive sends every update through a change set shown to a
	// person, who approves it (-i); ReplacementsOnly asks only about
	// replacements. Approve names stacks (config or CloudFormation names,
	// or "all"/"*") whose change sets are approved without asking
	// (--approve, for runs without a terminal).
	Interactive      bool
	ReplacementsOnly bool
	Approve          []string
	// DeployRecords is the directory of the deploy records build keeps
	// per stack to skip stacks unchanged since this tool last deployed them
	// (no-change detection, cfn.Records); "" keeps none and submits every
	// stack (--no-deploy-cache).
	DeployRecords string
	// JSON makes info and diff print JSON on Out.
	JSON bool
	// HookFallback runs hooks not registered in Go (the Python bridge);
	// nil means only Go hooks run.
	HookFallback hookrun.Fallback
	Out, ErrOut  io.Writer
	In           io.Reader
}

// FailedError means some stacks failed (exit 1).
type FailedError struct{ Stacks []string }

func (e *FailedError) Error() string {
	return "The following steps failed: " + strings.Join(e.Stacks, ", ")
}

// InterruptedError means the run was cancelled (SIGINT/SIGTERM, exit 130);
// Changing lists stacks CloudFormation was still changing, with their last
// known status. It unwraps to context.Canceled.
type InterruptedError struct {
	Changing []ChangingStack
}

// ChangingStack is a stack left changing by an interrupted run.
type ChangingStack struct {
	Name, FQN, Status string
}

func (e *InterruptedError) Error() string {
	if len(e.Changing) == 0 {
		return "stopped: no stack was left changing in CloudFormation"
	}
	var parts []string
	for _, c := range e.Changing {
		parts = append(parts, c.Name+" ("+c.Status+")")
	}
	return "stopped waiting; still changing in CloudFormation: " + strings.Join(parts, ", ")
}

func (e *InterruptedError) Unwrap() error { return context.Canceled }

func (o *Options) console() *ui.Console {
	if o.Console == nil {
		o.Console = ui.NewConsole(o.In, o.Out, o.ErrOut)
	}
	return o.Console
}

func (o *Options) check() error {
	if o.Config == nil {
		return errors.New("deploy: no config")
	}
	if o.Graph == nil {
		return errors.New("deploy: no graph")
	}
	if o.Targets == nil {
		return errors.New("deploy: no targets")
	}
	if o.Lookups == nil {
		o.Lookups = o.Config.Registry()
	}
	return nil
}
