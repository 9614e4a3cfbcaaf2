package cfn

import (
	"context"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/stacker-go/stacker/internal/engine"
)

// fault is what lossy does to one mutating call.
type fault int

const (
	refused5xx fault = iota + 1 // 500 before acting
	lost                        // acts, then the answer is lost (500)
	throttled                   // refused for the rate
	invalid                     // a non-transient error
)

// lossy wraps the fake: the n-th call of an operation gets a fault.
type lossy struct {
	*fakeCFN
	faults map[string][]fault // by operation, one per call (0: none)
	seen   map[string]int
	tokens map[string][]string // ClientRequestToken sent, by operation
}

func serverError() error {
	return &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 500}},
		Err:      apiErr("InternalFailure", "We encountered an internal error. Please try again."),
	}}
}

// apply runs call under the fault planned for this call of op.
func (l *lossy) apply(op, token string, call func() error) error {
	l.tokens[op] = append(l.tokens[op], token)
	n := l.seen[op]
	l.seen[op]++
	var f fault
	if n < len(l.faults[op]) {
		f = l.faults[op][n]
	}
	if f != 0 {
		defer func() { l.mu.Lock(); l.record("!" + op); l.mu.Unlock() }()
	}
	switch f {
	case refused5xx:
		return serverError()
	case throttled:
		return apiErr("Throttling", "Rate exceeded")
	case invalid:
		return apiErr("ValidationError", "Template format error")
	case lost:
		if err := call(); err != nil {
			return err
		}
		return serverError()
	}
	return call()
}

func (l *lossy) CreateStack(ctx context.Context, in *cloudformation.CreateStackInput, o ...func(*cloudformation.Options)) (*cloudformation.CreateStackOutput, error) {
	var out *cloudformation.CreateStackOutput
	err := l.apply("CreateStack", aws.ToString(in.ClientRequestToken), func() (err error) {
		out, err = l.fakeCFN.CreateStack(ctx, in, o...)
		return err
	})
	return out, err
}

func (l *lossy) UpdateStack(ctx context.Context, in *cloudformation.UpdateStackInput, o ...func(*cloudformation.Options)) (*cloudformation.UpdateStackOutput, error) {
	var out *cloudformation.UpdateStackOutput
	err := l.apply("UpdateStack", aws.ToString(in.ClientRequestToken), func() (err error) {
		out, err = l.fakeCFN.UpdateStack(ctx, in, o...)
		return err
	})
	return out, err
}

func (l *lossy) DeleteStack(ctx context.Context, in *cloudformation.DeleteStackInput, o ...func(*cloudformation.Options)) (*cloudformation.DeleteStackOutput, error) {
	var out *cloudformation.DeleteStackOutput
	err := l.apply("DeleteStack", aws.ToString(in.ClientRequestToken), func() (err error) {
		out, err = l.fakeCFN.DeleteStack(ctx, in, o...)
		return err
	})
	return out, err
}

var tokenPattern = regexp.MustCompile(`^[a-zA-Z0-9][-a-zA-Z0-9]*$`)

// Mutating calls carry a ClientRequestToken; after a transient failure the
// stack is read before anything is decided: a call that took effect is
// waited on, one that did not is submitted again with the same token.
func TestSubmitRetries(t *testing.T) {
	cases := []struct {
		name     string
		existing bool // the stack exists (update); else create
		destroy  bool
		faults   map[string][]fault
		want     string   // final status line
		calls    []string // mutating calls, in order
		reads    bool     // the stack's state was read after the failure
	}{
		{name: "create answer lost: waited on, not created twice", faults: map[string][]fault{"CreateStack": {lost}},
			want: "complete (creating new stack)", calls: []string{"CreateStack"}, reads: true},
		{name: "create refused with 5xx: read, then submitted again", faults: map[string][]fault{"CreateStack": {refused5xx, refused5xx}},
			want: "complete (creating new stack)", calls: []string{"CreateStack", "CreateStack", "CreateStack"}, reads: true},
		{name: "create throttled: submitted again without reading", faults: map[string][]fault{"CreateStack": {throttled, throttled}},
			want: "complete (creating new stack)", calls: []string{"CreateStack", "CreateStack", "CreateStack"}},
		{name: "create invalid: fails at once", faults: map[string][]fault{"CreateStack": {invalid}},
			want: "failed (create stack: Template format error)", calls: []string{"CreateStack"}},
		{name: "update answer lost: waited on", existing: true, faults: map[string][]fault{"UpdateStack": {lost}},
			want: "complete (updating existing stack)", calls: []string{"UpdateStack"}, reads: true},
		{name: "update refused: submitted again", existing: true, faults: map[string][]fault{"UpdateStack": {refused5xx}},
			want: "complete (updating existing stack)", calls: []string{"UpdateStack", "UpdateStack"}, reads: true},
		{name: "delete answer lost: waited on", existing: true, destroy: true, faults: map[string][]fault{"DeleteStack": {lost}},
			want: "complete (stack destroyed)", calls: []string{"DeleteStack"}, reads: true},
		{name: "delete refused: submitted again", existing: true, destroy: true, faults: map[string][]fault{"DeleteStack": {refused5xx}},
			want: "complete (stack destroyed)", calls: []string{"DeleteStack", "DeleteStack"}, reads: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			if tc.existing {
				f.put("ns-vpc", "CREATE_COMPLETE", withTags(map[string]string{"stacker_namespace": "ns"}))
			}
			l := &lossy{fakeCFN: f, faults: tc.faults, seen: map[string]int{}, tokens: map[string][]string{}}
			p := New(l, Options{Sleep: noSleep, Now: fixedNow})
			var o Outcome
			if tc.destroy {
				o = p.Destroy(context.Background(), &DestroySpec{Name: "vpc", FQN: "ns-vpc"}, func(engine.Status) {})
			} else {
				o = p.Launch(context.Background(), baseSpec(), func(engine.Status) {})
			}
			if got := line(o.Status); got != tc.want {
				t.Fatalf("outcome %q, want %q", got, tc.want)
			}
			var muts []string
			for _, c := range f.calls {
				if c == "CreateStack" || c == "UpdateStack" || c == "DeleteStack" {
					muts = append(muts, c)
				}
			}
			// the fake records only calls that reached it
			var sent []string
			for op, toks := range l.tokens {
				for range toks {
					sent = append(sent, op)
				}
			}
			if len(sent) != len(tc.calls) {
				t.Errorf("mutating calls sent %v, want %v (reached the fake: %v)", sent, tc.calls, muts)
			}
			for op, toks := range l.tokens {
				for _, tok := range toks {
					if !tokenPattern.MatchString(tok) || len(tok) > 128 {
						t.Errorf("%s token %q does not match CloudFormation's pattern", op, tok)
					}
					if tok != toks[0] {
						t.Errorf("%s retried with token %q, first was %q", op, tok, toks[0])
					}
				}
			}
			// After the first failure, the next call reads the stack.
			i := slices.IndexFunc(f.calls, func(c string) bool { return strings.HasPrefix(c, "!") })
			if got := i >= 0 && i+1 < len(f.calls) && f.calls[i+1] == "DescribeStacks"; got != tc.reads {
				t.Errorf("stack read right after the failure: %v, want %v (calls %v)", got, tc.reads, f.calls)
			}
			if !tc.existing && !tc.destroy && o.Status.State == engine.Complete {
				n := 0
				for _, s := range f.stacks {
					if strings.HasPrefix(s.name, "ns-vpc") {
						n++
					}
				}
				if n != 1 {
					t.Errorf("%d stacks created", n)
				}
			}
		})
	}
}

// Two submissions never share a token; a token is unique to its run.
func TestTokensPerSubmission(t *testing.T) {
	p := New(newFake(), Options{})
	q := New(newFake(), Options{})
	a, b := p.token("create", "ns-vpc"), p.token("create", "ns-vpc")
	if a == b || a == q.token("create", "ns-vpc") || p.token("update", "ns-vpc") == p.token("create", "ns-app") {
		t.Fatalf("tokens repeat: %s %s", a, b)
	}
}
