// Package faults is the fault suite's harness, shared by its tests and by
// bench/faults: a 30-stack config (ten independent stacks and four chains
// of five linked by ${output}), the fault kinds with their fixed seeds, a
// sandbox with small latencies, runs of the built binary over HTTP, and a
// read of every stack's real state with faults switched off.
package faults

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/stacker-go/stacker/internal/sandbox"
	"github.com/stacker-go/stacker/internal/sandbox/platform"
)

// Namespace of the config; stack s is CloudFormation stack "flt-s".
const Namespace = "flt"

// Independent and Chains shape the config: Independent stacks with no
// dependencies and Chains chains of ChainLength stacks, each reading the
// previous one's output.
const (
	Independent = 10
	Chains      = 4
	ChainLength = 5
)

// Template is every stack's template: its output Value is its Input.
const Template = `AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Input:
    Type: String
Resources:
  Handle:
    Type: AWS::CloudFormation::WaitConditionHandle
Outputs:
  Value:
    Value: !Ref Input
`

// Names are the config's stack names, independent ones first, then the
// chains in order.
func Names() []string {
	var out []string
	for i := 1; i <= Independent; i++ {
		out = append(out, fmt.Sprintf("solo%02d", i))
	}
	for c := 1; c <= Chains; c++ {
		for s := 1; s <= ChainLength; s++ {
			out = append(out, fmt.Sprintf("c%ds%d", c, s))
		}
	}
	return out
}

// FQN is the CloudFormation name of a config stack.
func FQN(name string) string { return Namespace + "-" + name }

// Config is the stacker config; ${rev} (-e rev=N) changes every stack.
// Templates go through the template bucket, so S3 faults hit uploads.
func Config() string {
	var b strings.Builder
	fmt.Fprintf(&b, "namespace: %s\nstacker_bucket: %s-templates\nstacks:\n", Namespace, Namespace)
	for i := 1; i <= Independent; i++ {
		fmt.Fprintf(&b, "  - name: solo%02d\n    template_path: templates/t.yaml\n    variables:\n      Input: ${rev}-solo%02d\n", i, i)
	}
	for c := 1; c <= Chains; c++ {
		fmt.Fprintf(&b, "  - name: c%ds1\n    template_path: templates/t.yaml\n    variables:\n      Input: ${rev}-c%d\n", c, c)
		for s := 2; s <= ChainLength; s++ {
			fmt.Fprintf(&b, "  - name: c%ds%d\n    template_path: templates/t.yaml\n    variables:\n      Input: ${output c%ds%d::Value}-%d\n", c, s, c, s-1, s)
		}
	}
	return b.String()
}

// Expected is the output Value every stack has after a build with rev.
func Expected(rev string) map[string]string {
	out := map[string]string{}
	for i := 1; i <= Independent; i++ {
		out[fmt.Sprintf("solo%02d", i)] = fmt.Sprintf("%s-solo%02d", rev, i)
	}
	for c := 1; c <= Chains; c++ {
		v := fmt.Sprintf("%s-c%d", rev, c)
		out[fmt.Sprintf("c%ds1", c)] = v
		for s := 2; s <= ChainLength; s++ {
			v += fmt.Sprintf("-%d", s)
			out[fmt.Sprintf("c%ds%d", c, s)] = v
		}
	}
	return out
}

// WriteProject writes stacker.yaml and the template into dir.
func WriteProject(dir string) error {
	if err := os.MkdirAll(filepath.Join(dir, "templates"), 0o755); err != nil {
		return fmt.Errorf("write project: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "templates", "t.yaml"), []byte(Template), 0o644); err != nil {
		return fmt.Errorf("write project: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "stacker.yaml"), []byte(Config()), 0o644); err != nil {
		return fmt.Errorf("write project: %w", err)
	}
	return nil
}

// Kind is one fault kind of the suite.
type Kind struct {
	Name   string
	Faults sandbox.FaultSpec
}

// Kinds are the suite's fault kinds, each with a fixed seed. Throttling
// hits CloudFormation's Describe* calls (the reads a build makes most of);
// server errors and dropped connections hit every call, mutating ones
// included.
func Kinds() []Kind {
	return []Kind{
		{"cfn-throttle-50", sandbox.FaultSpec{Seed: 50, Rules: []sandbox.FaultRule{{Kind: "throttle", Service: "cloudformation", Action: "Describe*", Rate: 0.5}}}},
		{"cfn-throttle-90", sandbox.FaultSpec{Seed: 90, Rules: []sandbox.FaultRule{{Kind: "throttle", Service: "cloudformation", Action: "Describe*", Rate: 0.9}}}},
		{"cfn-5xx-20", sandbox.FaultSpec{Seed: 20, Rules: []sandbox.FaultRule{{Kind: "error", Service: "cloudformation", Rate: 0.2}}}},
		{"drop-10", sandbox.FaultSpec{Seed: 10, Rules: []sandbox.FaultRule{{Kind: "drop", Rate: 0.1}}}},
		{"s3-throttle-50", sandbox.FaultSpec{Seed: 5, Rules: []sandbox.FaultRule{{Kind: "throttle", Service: "s3", Rate: 0.5}}}},
		// The mutating calls that carry a ClientRequestToken take effect,
		// then their answer is lost.
		{"cfn-lost-20", sandbox.FaultSpec{Seed: 21, Rules: []sandbox.FaultRule{
			{Kind: "lost", Service: "cloudformation", Action: "CreateStack", Rate: 0.2},
			{Kind: "lost", Service: "cloudformation", Action: "UpdateStack", Rate: 0.2},
			{Kind: "lost", Service: "cloudformation", Action: "DeleteStack", Rate: 0.2},
			{Kind: "lost", Service: "cloudformation", Action: "ExecuteChangeSet", Rate: 0.2},
		}}},
	}
}

// Sandbox is a running sandbox with the default accounts and small
// latencies, and the AWS config file naming it.
type Sandbox struct {
	Server     *sandbox.Server
	URL        string
	ConfigFile string
}

// StartSandbox starts a sandbox on 127.0.0.1:0; stackTime is each stack
// operation's backend time (0: resources only, 10 ms each). The config file
// is written into dir.
func StartSandbox(dir string, stackTime time.Duration) (*Sandbox, error) {
	spec := sandbox.DefaultSpec()
	spec.Latency = platform.LatencyModel{Default: 10 * time.Millisecond}
	if stackTime > 0 {
		spec.Latency.StackTime = map[string]time.Duration{"*": stackTime}
	}
	srv, err := sandbox.New(spec)
	if err != nil {
		return nil, fmt.Errorf("start sandbox: %w", err)
	}
	url, err := srv.Start("127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start sandbox: %w", err)
	}
	s := &Sandbox{Server: srv, URL: url, ConfigFile: filepath.Join(dir, "aws-config")}
	if err := srv.WriteAWSConfig(s.ConfigFile); err != nil {
		srv.Close()
		return nil, fmt.Errorf("write aws config: %w", err)
	}
	return s, nil
}

// Close stops the sandbox.
func (s *Sandbox) Close() error { return s.Server.Close() }

// Env is the environment of the binary: the sandbox's profiles, no other
// credentials, a short poll ceiling and a read budget high enough that the
// budget's back-off under injected throttling (it halves per throttle,
// down to a sixteenth) does not dominate the suite's time.
func (s *Sandbox) Env(home string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "STACKER_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"HOME="+home,
		"AWS_CONFIG_FILE="+s.ConfigFile,
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "no-credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
		"STACKER_NO_CREDENTIAL_CACHE=1",
		"STACKER_STACK_POLL_TIME=1",
		"STACKER_READ_RATE=200",
		"NO_COLOR=1",
	)
}

// Args are the common arguments after the command: the sandbox's prod
// account in us-east-1.
func Args(cmd string, extra ...string) []string {
	a := []string{cmd, "-p", "sandbox-prod", "-r", "us-east-1"}
	a = append(a, extra...)
	return append(a, "stacker.yaml")
}

// Result of one run of the binary.
type Result struct {
	Code           int
	Stdout, Stderr string
	Took           time.Duration
	// Signalled is true when the run was sent SIGINT.
	Signalled bool
}

// Status returns the last "<name>: <status>" line of each stack.
func (r Result) Status() map[string]string {
	out := map[string]string{}
	names := Names()
	for _, l := range strings.Split(r.Stderr, "\n") {
		if strings.HasPrefix(l, "[") {
			if i := strings.Index(l, "] "); i > 0 {
				l = l[i+2:]
			}
		}
		name, status, ok := strings.Cut(l, ": ")
		if ok && slices.Contains(names, name) {
			out[name] = status
		}
	}
	return out
}

// Run runs bin in dir with env. When stop is not nil the run is sent
// SIGINT once stop returns true; it is asked with every stderr line and,
// with "", every 20 ms. A run is killed after timeout.
func Run(ctx context.Context, bin, dir string, env []string, timeout time.Duration, stop func(line string) bool, args ...string) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir, cmd.Env = dir, env
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	var res Result
	var mu sync.Mutex
	check := func(line string) {
		mu.Lock()
		defer mu.Unlock()
		if stop != nil && !res.Signalled && stop(line) {
			res.Signalled = true
			_ = cmd.Process.Signal(syscall.SIGINT)
		}
	}
	began := time.Now()
	if err := cmd.Start(); err != nil {
		pw.Close()
		return res, fmt.Errorf("start %s: %w", bin, err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			stderr.WriteString(sc.Text() + "\n")
			check(sc.Text())
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	done := make(chan struct{})
	if stop != nil {
		go func() {
			t := time.NewTicker(20 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					check("")
				}
			}
		}()
	}
	err := cmd.Wait()
	close(done)
	pw.Close()
	wg.Wait()
	res.Took = time.Since(began)
	res.Stdout, res.Stderr = stdout.String(), stderr.String()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		res.Code = ee.ExitCode()
	default:
		return res, fmt.Errorf("run stacker %s: %w\n%s", strings.Join(args, " "), err, res.Stderr)
	}
	return res, nil
}

// OnLine stops a run at the first stderr line containing text.
func OnLine(text string) func(string) bool {
	return func(line string) bool { return line != "" && strings.Contains(line, text) }
}

// Calls counts the calls of a service's action the sandbox has seen.
func (s *Sandbox) Calls(service, action string) int64 {
	for _, a := range s.Server.Stats() {
		if a.Service == service && a.Action == action {
			return a.Calls
		}
	}
	return 0
}

// State is what CloudFormation holds of the config's stacks.
type State struct {
	// Status by config name of every live stack.
	Status map[string]string
	// Outputs (Value) by config name.
	Outputs map[string]string
	// ChangeSets counts the change sets of the live stacks.
	ChangeSets int
	// Created counts by config name the stacks ever created under its
	// name (live and deleted: distinct stack ids in ListStacks).
	Created map[string]int
}

// Inspect reads the real state of every stack with faults switched off
// (they are restored afterwards).
func (s *Sandbox) Inspect(ctx context.Context, restore sandbox.FaultSpec) (State, error) {
	if err := s.Server.SetFaults(sandbox.FaultSpec{}); err != nil {
		return State{}, err
	}
	defer s.Server.SetFaults(restore)
	k := sandbox.DefaultAccessKey("222222222222")
	cfg := aws.Config{
		Region: "us-east-1", BaseEndpoint: aws.String(s.URL),
		Credentials: credentials.NewStaticCredentialsProvider(k.ID, k.Secret, ""),
		HTTPClient:  &http.Client{Timeout: 30 * time.Second},
	}
	c := cloudformation.NewFromConfig(cfg)
	st := State{Status: map[string]string{}, Outputs: map[string]string{}, Created: map[string]int{}}
	var token *string
	for {
		out, err := c.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{NextToken: token})
		if err != nil {
			return st, fmt.Errorf("list stacks: %w", err)
		}
		for _, x := range out.Stacks {
			name, ok := strings.CutPrefix(aws.ToString(x.StackName), Namespace+"-")
			if !ok {
				continue
			}
			st.Status[name] = string(x.StackStatus)
			for _, o := range x.Outputs {
				if aws.ToString(o.OutputKey) == "Value" {
					st.Outputs[name] = aws.ToString(o.OutputValue)
				}
			}
			cs, err := c.ListChangeSets(ctx, &cloudformation.ListChangeSetsInput{StackName: x.StackId})
			if err != nil {
				return st, fmt.Errorf("list change sets of %s: %w", aws.ToString(x.StackName), err)
			}
			st.ChangeSets += len(cs.Summaries)
		}
		token = out.NextToken
		if aws.ToString(token) == "" {
			break
		}
	}
	ids := map[string]bool{}
	token = nil
	for {
		out, err := c.ListStacks(ctx, &cloudformation.ListStacksInput{NextToken: token})
		if err != nil {
			return st, fmt.Errorf("list stacks with deleted ones: %w", err)
		}
		for _, x := range out.StackSummaries {
			name, ok := strings.CutPrefix(aws.ToString(x.StackName), Namespace+"-")
			if ok && !ids[aws.ToString(x.StackId)] {
				ids[aws.ToString(x.StackId)] = true
				st.Created[name]++
			}
		}
		token = out.NextToken
		if aws.ToString(token) == "" {
			break
		}
	}
	return st, nil
}

// CreatedOnce requires every config stack to have been created exactly
// once (no duplicate created by a retried submission).
func (st State) CreatedOnce() error {
	var errs []string
	for _, n := range Names() {
		if st.Created[n] != 1 {
			errs = append(errs, fmt.Sprintf("%s: created %d times, want once", n, st.Created[n]))
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}

// InProgress lists the stacks CloudFormation is still changing.
func (st State) InProgress() []string {
	var out []string
	for n, s := range st.Status {
		if strings.HasSuffix(s, "_IN_PROGRESS") {
			out = append(out, n+" "+s)
		}
	}
	slices.Sort(out)
	return out
}

// Check compares the state with the expected one: want maps every config
// stack to its status ("" for no live stack); outputs, when not nil, are
// the expected output values. It also requires no stack in progress and no
// change set left.
func (st State) Check(want map[string]string, outputs map[string]string) error {
	var errs []string
	if ip := st.InProgress(); len(ip) > 0 {
		errs = append(errs, "still in progress: "+strings.Join(ip, ", "))
	}
	if st.ChangeSets > 0 {
		errs = append(errs, fmt.Sprintf("%d change sets left", st.ChangeSets))
	}
	for _, n := range Names() {
		if got := st.Status[n]; got != want[n] {
			errs = append(errs, fmt.Sprintf("%s: %q, want %q", n, got, want[n]))
		}
		if outputs != nil && want[n] != "" && st.Outputs[n] != outputs[n] {
			errs = append(errs, fmt.Sprintf("%s: output %q, want %q", n, st.Outputs[n], outputs[n]))
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}

// All maps every stack to status.
func All(status string) map[string]string {
	out := map[string]string{}
	for _, n := range Names() {
		out[n] = status
	}
	return out
}

// Injected sums the faults the sandbox injected (throttled, errors,
// dropped connections and lost answers) since its counters were last
// cleared.
func (s *Sandbox) Injected() int64 {
	var n int64
	for _, a := range s.Server.Stats() {
		n += a.Throttled + a.Errors + a.Dropped + a.Lost
	}
	return n
}
