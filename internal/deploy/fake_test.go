package deploy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/stacker-go/stacker/internal/cfn"
	"github.com/stacker-go/stacker/internal/config"
	"github.com/stacker-go/stacker/internal/event"
	"github.com/stacker-go/stacker/internal/graph"
	"github.com/stacker-go/stacker/internal/target"
)

// world is a set of fake accounts, one in-memory CloudFormation per
// (account, region), and a log of every mutating call in order across them.
type world struct {
	mu       sync.Mutex
	accounts map[string]string // profile → account
	clouds   map[string]*fakeCloud
	log      []string // "CreateStack prod/ns-b"

	// failCreate makes CreateStack of these stacks (FQN) roll back.
	failCreate map[string]bool
	// hang keeps these stacks (FQN) in CREATE_IN_PROGRESS; onHang runs when
	// one is polled.
	hang   map[string]bool
	onHang func()
}

func newWorld(accounts map[string]string) *world {
	return &world{accounts: accounts, clouds: map[string]*fakeCloud{}, failCreate: map[string]bool{}, hang: map[string]bool{}}
}

func (w *world) profile(k target.Key) string {
	if k.Profile == "" {
		return "default"
	}
	return k.Profile
}

func (w *world) cloud(k target.Key) *fakeCloud {
	w.mu.Lock()
	defer w.mu.Unlock()
	acct := w.accounts[w.profile(k)]
	key := acct + "/" + region(k)
	c, ok := w.clouds[key]
	if !ok {
		c = &fakeCloud{w: w, acct: acct, stacks: map[string]*fakeStack{}}
		w.clouds[key] = c
	}
	return c
}

func region(k target.Key) string {
	if k.Region == "" {
		return "us-east-1"
	}
	return k.Region
}

func (w *world) record(acct, op, stack string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.log = append(w.log, op+" "+acct+"/"+stack)
}

func (w *world) calls() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.log...)
}

// Targets.

func (w *world) Resolve(k target.Key) target.Key { return k }
func (w *world) Profile(k target.Key) string     { return w.profile(k) }
func (w *world) AWSConfig(ctx context.Context, k target.Key) (aws.Config, error) {
	return aws.Config{Region: region(k)}, nil
}
func (w *world) CloudFormation(ctx context.Context, k target.Key) (*cloudformation.Client, error) {
	return nil, errors.New("tests use Clients")
}
func (w *world) S3(ctx context.Context, k target.Key) (*s3.Client, string, error) {
	return nil, "", errors.New("tests use Clients")
}
func (w *world) Account(ctx context.Context, k target.Key) (string, error) {
	a, ok := w.accounts[w.profile(k)]
	if !ok {
		return "", fmt.Errorf("profile %s not found", w.profile(k))
	}
	return a, nil
}
func (w *world) Identity(ctx context.Context, k target.Key) (target.Identity, error) {
	a, err := w.Account(ctx, k)
	return target.Identity{Account: a, ARN: "arn:aws:sts::" + a + ":assumed-role/Stacker/s"}, err
}
func (w *world) CheckAccount(ctx context.Context, k target.Key, want string, accounts map[string]string, subject string) error {
	if want == "" {
		want = accounts[w.profile(k)]
	}
	got, err := w.Account(ctx, k)
	if err != nil || want == "" || got == want {
		return err
	}
	return &target.AccountMismatchError{Target: k, Profile: w.profile(k), Want: want, Got: got, Subject: subject}
}
func (w *world) Budget(ctx context.Context, k target.Key) (*target.Budget, error) {
	return nil, errors.New("tests use Clients")
}
func (w *world) Preflight(ctx context.Context, keys []target.Key) error { return nil }
func (w *world) APIStats() target.APIStats                              { return target.APIStats{} }

// Clients.

func (w *world) clientsFor() Clients { return worldClients{w} }

type worldClients struct{ w *world }

func (c worldClients) CloudFormation(ctx context.Context, k target.Key) (CFNClient, error) {
	if _, err := c.w.Account(ctx, k); err != nil {
		return CFNClient{}, err
	}
	return CFNClient{API: c.w.cloud(k), Region: region(k), ReadRate: func() float64 { return 50 }}, nil
}
func (c worldClients) S3(ctx context.Context, k target.Key) (cfn.S3API, string, string, error) {
	return nil, "", "", errors.New("no bucket in these tests")
}

// fakeCloud is one account's CloudFormation in one region: mutations
// finish at once unless the world says otherwise.
type fakeCloud struct {
	w      *world
	acct   string
	mu     sync.Mutex
	stacks map[string]*fakeStack
	n      int

	describes, listings int
	// updateCalls counts UpdateStack calls, refused ones included.
	updateCalls int
}

type fakeStack struct {
	id, name, status string
	params, outputs  map[string]string
	template         string
	created          time.Time
}

func apiErr(code, msg string) error { return &smithy.GenericAPIError{Code: code, Message: msg} }

func (c *fakeCloud) find(name string) *fakeStack {
	for _, s := range c.stacks {
		if s.name == name || s.id == name {
			return s
		}
	}
	return nil
}

func (c *fakeCloud) DescribeStacks(ctx context.Context, in *cloudformation.DescribeStacksInput, _ ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	c.mu.Lock()
	c.describes++
	if in.StackName == nil { // the status poller's listing: one page
		c.listings++
		var all []types.Stack
		for _, s := range c.stacks {
			all = append(all, types.Stack{StackName: aws.String(s.name), StackId: aws.String(s.id), StackStatus: types.StackStatus(s.status), CreationTime: aws.Time(s.created)})
		}
		c.mu.Unlock()
		return &cloudformation.DescribeStacksOutput{Stacks: all}, nil
	}
	s := c.find(aws.ToString(in.StackName))
	if s == nil {
		c.mu.Unlock()
		return nil, apiErr("ValidationError", "Stack with id "+aws.ToString(in.StackName)+" does not exist")
	}
	out := types.Stack{StackName: aws.String(s.name), StackId: aws.String(s.id), StackStatus: types.StackStatus(s.status), CreationTime: aws.Time(s.created)}
	for k, v := range s.outputs {
		out.Outputs = append(out.Outputs, types.Output{OutputKey: aws.String(k), OutputValue: aws.String(v)})
	}
	for k, v := range s.params {
		out.Parameters = append(out.Parameters, types.Parameter{ParameterKey: aws.String(k), ParameterValue: aws.String(v)})
	}
	hung := s.status == "CREATE_IN_PROGRESS"
	c.mu.Unlock()
	if hung && c.w.onHang != nil {
		c.w.onHang()
	}
	return &cloudformation.DescribeStacksOutput{Stacks: []types.Stack{out}}, nil
}

func (c *fakeCloud) DescribeStackEvents(ctx context.Context, in *cloudformation.DescribeStackEventsInput, _ ...func(*cloudformation.Options)) (*cloudformation.DescribeStackEventsOutput, error) {
	return &cloudformation.DescribeStackEventsOutput{}, nil
}

func params(ps []types.Parameter) map[string]string {
	m := map[string]string{}
	for _, p := range ps {
		m[aws.ToString(p.ParameterKey)] = aws.ToString(p.ParameterValue)
	}
	return m
}

func (c *fakeCloud) CreateStack(ctx context.Context, in *cloudformation.CreateStackInput, _ ...func(*cloudformation.Options)) (*cloudformation.CreateStackOutput, error) {
	name := aws.ToString(in.StackName)
	c.w.record(c.acct, "CreateStack", name)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	s := &fakeStack{id: fmt.Sprintf("arn:aws:cloudformation:us-east-1:%s:stack/%s/%d", c.acct, name, c.n), name: name,
		params: params(in.Parameters), template: aws.ToString(in.TemplateBody), created: time.Date(2026, 1, 1, 0, 0, c.n, 0, time.UTC)}
	s.outputs = map[string]string{"Out": c.acct + ":" + name}
	switch {
	case c.w.hang[name]:
		s.status = "CREATE_IN_PROGRESS"
	case c.w.failCreate[name]:
		s.status = "ROLLBACK_COMPLETE"
	default:
		s.status = "CREATE_COMPLETE"
	}
	c.stacks[s.id] = s
	return &cloudformation.CreateStackOutput{StackId: aws.String(s.id)}, nil
}

func (c *fakeCloud) UpdateStack(ctx context.Context, in *cloudformation.UpdateStackInput, _ ...func(*cloudformation.Options)) (*cloudformation.UpdateStackOutput, error) {
	name := aws.ToString(in.StackName)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.updateCalls++
	s := c.find(name)
	if s == nil {
		return nil, apiErr("ValidationError", "Stack ["+name+"] does not exist")
	}
	if aws.ToString(in.TemplateBody) == s.template && fmt.Sprint(params(in.Parameters)) == fmt.Sprint(s.params) {
		return nil, apiErr("ValidationError", "No updates are to be performed.")
	}
	c.w.record(c.acct, "UpdateStack", name)
	s.template, s.params, s.status = aws.ToString(in.TemplateBody), params(in.Parameters), "UPDATE_COMPLETE"
	return &cloudformation.UpdateStackOutput{StackId: aws.String(s.id)}, nil
}

func (c *fakeCloud) DeleteStack(ctx context.Context, in *cloudformation.DeleteStackInput, _ ...func(*cloudformation.Options)) (*cloudformation.DeleteStackOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.find(aws.ToString(in.StackName))
	if s == nil {
		return &cloudformation.DeleteStackOutput{}, nil
	}
	c.w.record(c.acct, "DeleteStack", s.name)
	delete(c.stacks, s.id)
	return &cloudformation.DeleteStackOutput{}, nil
}

func (c *fakeCloud) UpdateTerminationProtection(ctx context.Context, in *cloudformation.UpdateTerminationProtectionInput, _ ...func(*cloudformation.Options)) (*cloudformation.UpdateTerminationProtectionOutput, error) {
	return &cloudformation.UpdateTerminationProtectionOutput{}, nil
}
func (c *fakeCloud) CreateChangeSet(ctx context.Context, in *cloudformation.CreateChangeSetInput, _ ...func(*cloudformation.Options)) (*cloudformation.CreateChangeSetOutput, error) {
	return nil, errors.New("change sets are not faked")
}
func (c *fakeCloud) DescribeChangeSet(ctx context.Context, in *cloudformation.DescribeChangeSetInput, _ ...func(*cloudformation.Options)) (*cloudformation.DescribeChangeSetOutput, error) {
	return nil, errors.New("change sets are not faked")
}
func (c *fakeCloud) DeleteChangeSet(ctx context.Context, in *cloudformation.DeleteChangeSetInput, _ ...func(*cloudformation.Options)) (*cloudformation.DeleteChangeSetOutput, error) {
	return nil, errors.New("change sets are not faked")
}
func (c *fakeCloud) GetTemplate(ctx context.Context, in *cloudformation.GetTemplateInput, _ ...func(*cloudformation.Options)) (*cloudformation.GetTemplateOutput, error) {
	return nil, errors.New("templates are not faked")
}
func (c *fakeCloud) ExecuteChangeSet(ctx context.Context, in *cloudformation.ExecuteChangeSetInput, _ ...func(*cloudformation.Options)) (*cloudformation.ExecuteChangeSetOutput, error) {
	return nil, errors.New("change sets are not faked")
}

func (c *fakeCloud) SetStackPolicy(ctx context.Context, in *cloudformation.SetStackPolicyInput, _ ...func(*cloudformation.Options)) (*cloudformation.SetStackPolicyOutput, error) {
	return nil, errors.New("stack policies are not faked")
}

// recorder collects events.
type recorder struct {
	mu  sync.Mutex
	evs []event.Event
}

func (r *recorder) Emit(e event.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.evs = append(r.evs, e)
}

// lines are the status events as "name: state (reason)".
func (r *recorder) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.evs {
		if s, ok := e.(event.StackStatus); ok {
			l := s.Name + ": " + s.State.String()
			if s.Reason != "" {
				l += " (" + s.Reason + ")"
			}
			out = append(out, l)
		}
	}
	return out
}

func (r *recorder) of(typ string) []event.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []event.Event
	for _, e := range r.evs {
		if fmt.Sprintf("%T", e) == typ {
			out = append(out, e)
		}
	}
	return out
}

// final is each stack's last status event.
func (r *recorder) final() map[string]event.StackStatus {
	out := map[string]event.StackStatus{}
	for _, e := range r.of("event.StackStatus") {
		s := e.(event.StackStatus)
		out[s.Name] = s
	}
	return out
}

// loadConfig writes a config (and a template with one parameter per name
// in params) into a temporary directory and loads it with its graph.
func loadConfig(t *testing.T, yaml string) (*config.Config, *graph.Graph) {
	t.Helper()
	dir := t.TempDir()
	tpl := `{"Parameters": {"Upstream": {"Type": "String", "Default": "none"}}, "Resources": {"Q": {"Type": "AWS::SQS::Queue"}}, "Outputs": {"Out": {"Value": {"Ref": "Q"}}}}`
	if err := os.WriteFile(filepath.Join(dir, "t.json"), []byte(tpl), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "stacker.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(config.LoadOptions{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	g, err := graph.FromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, g
}

func options(w *world, cfg *config.Config, g *graph.Graph, rec *recorder) Options {
	var out, errOut strings.Builder
	return Options{Config: cfg, Graph: g, Lookups: cfg.Registry(), Targets: w, Clients: w.clientsFor(), Events: rec, Out: &out, ErrOut: &errOut}
}

func sorted(s []string) []string {
	s = append([]string(nil), s...)
	sort.Strings(s)
	return s
}
