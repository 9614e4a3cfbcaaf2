package sandbox_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/stacker-go/stacker/internal/sandbox"
	"github.com/stacker-go/stacker/internal/sandbox/platform"
	"github.com/stacker-go/stacker/internal/sandbox/sandboxtest"
)

func statsOf(env *sandboxtest.Env, service, action string) sandbox.ActionStats {
	for _, s := range env.Stats() {
		if s.Service == service && s.Action == action {
			return s
		}
	}
	return sandbox.ActionStats{}
}

// TestFaultRulesPerKind: each kind at its rate, only on the calls it
// matches, reproducible from the seed, counted per action.
func TestFaultRulesPerKind(t *testing.T) {
	env := sandboxtest.Start(t)
	ctx := context.Background()
	cfg := env.AWSConfig(ctx, "prod")
	cf := cloudformation.NewFromConfig(cfg, cfnNoRetry)
	stc := sts.NewFromConfig(cfg, noRetry)
	run := func(seed int64) (codes []string) {
		env.ClearStats()
		env.SetFaults(sandbox.FaultSpec{Seed: seed, Rules: []sandbox.FaultRule{
			{Kind: "throttle", Service: "cloudformation", Action: "Describe*", Rate: 0.5},
			{Kind: "error", Service: "cloudformation", Action: "ListStacks", Rate: 0.2},
		}})
		for i := 0; i < 40; i++ {
			_, err := cf.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{})
			codes = append(codes, codeOf(err))
			_, err = cf.ListStacks(ctx, &cloudformation.ListStacksInput{})
			codes = append(codes, codeOf(err))
			if _, err := stc.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
				t.Fatalf("unmatched call faulted: %v", err)
			}
		}
		return codes
	}
	a := run(7)
	d, l := statsOf(env, "cloudformation", "DescribeStacks"), statsOf(env, "cloudformation", "ListStacks")
	if d.Calls != 40 || d.Throttled < 10 || d.Throttled > 30 || d.Errors != 0 {
		t.Errorf("DescribeStacks stats %+v, want 40 calls, about half throttled", d)
	}
	if l.Calls != 40 || l.Errors < 2 || l.Errors > 16 || l.Throttled != 0 {
		t.Errorf("ListStacks stats %+v, want 40 calls, about a fifth 500s", l)
	}
	if g := statsOf(env, "sts", "GetCallerIdentity"); g.Calls != 40 || g.Throttled+g.Errors+g.Dropped != 0 {
		t.Errorf("GetCallerIdentity stats %+v", g)
	}
	if b := run(7); strings.Join(a, ",") != strings.Join(b, ",") {
		t.Errorf("the same seed gave different faults:\n%v\n%v", a, b)
	}
	for _, c := range a {
		if c != "OK" && c != "Throttling" && c != "InternalFailure" {
			t.Errorf("unexpected outcome %s", c)
		}
	}

	// Dropped connections and S3 throttling.
	env.SetFaults(sandbox.FaultSpec{Seed: 1, Rules: []sandbox.FaultRule{
		{Kind: "drop", Service: "sts", Rate: 1},
		{Kind: "throttle", Service: "s3", Rate: 1},
	}})
	_, err := stc.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	var re *awshttp.ResponseError
	if err == nil || (errors.As(err, &re) && re.HTTPStatusCode() != 0) {
		t.Errorf("dropped connection: got %v, want a transport error (no response)", err)
	}
	_, err = s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true; o.RetryMaxAttempts = 1 }).ListBuckets(ctx, &s3.ListBucketsInput{})
	if got := describeErr(err); got != "HTTP 503 SlowDown: Please reduce your request rate." {
		t.Errorf("S3 throttling: %s", got)
	}
	if s := statsOf(env, "sts", "GetCallerIdentity"); s.Dropped != 1 {
		t.Errorf("dropped not counted: %+v", s)
	}
	// Each protocol answers in its services' words.
	env.SetFaults(sandbox.FaultSpec{Seed: 1, Rules: []sandbox.FaultRule{{Kind: "throttle", Service: "ssm", Rate: 1}, {Kind: "throttle", Service: "ec2", Rate: 1}, {Kind: "error", Service: "ecs", Rate: 1}}})
	_, err = ssm.NewFromConfig(cfg, func(o *ssm.Options) { o.RetryMaxAttempts = 1 }).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("x")})
	if got := describeErr(err); got != "HTTP 400 ThrottlingException: Rate exceeded" {
		t.Errorf("JSON throttling: %s", got)
	}
	_, err = ecs.NewFromConfig(cfg, func(o *ecs.Options) { o.RetryMaxAttempts = 1 }).ListClusters(ctx, &ecs.ListClustersInput{})
	if got := describeErr(err); got != "HTTP 500 InternalServerError: We encountered an internal error. Please try again." {
		t.Errorf("JSON server error: %s", got)
	}
	if st, body := ec2Call(t, env, env.Keys["prod"], map[string]string{"Action": "DescribeKeyPairs"}); st != 503 || !strings.Contains(body, "<Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message>") {
		t.Errorf("EC2 throttling: %d %s", st, body)
	}
	env.SetFaults(sandbox.FaultSpec{})
}

func codeOf(err error) string {
	if err == nil {
		return "OK"
	}
	if c, _ := apiCodeOf(err); c != "" {
		return c
	}
	return "transport"
}

// TestDescribeRateLimit: 5 calls per second with a burst of 10 per
// (account, region, action): a burst of 20 calls gets 10 through and 10
// "Rate exceeded"; another action and another account have their own
// buckets.
func TestDescribeRateLimit(t *testing.T) {
	env := sandboxtest.Start(t)
	ctx := context.Background()
	// CloudFormation's reported limit is 5 calls/s with a burst of 10; the
	// test keeps the burst but refills almost never, so its counts do not
	// depend on how fast a loaded machine makes 20 calls.
	limit := sandbox.DescribeRateLimit()
	if limit.Rate != 5 || limit.Burst != 10 {
		t.Fatalf("DescribeRateLimit() = %+v, want 5/s burst 10", limit)
	}
	limit.Rate = 0.001
	env.AddThrottleRule(limit)
	prod := cloudformation.NewFromConfig(env.AWSConfig(ctx, "prod"), cfnNoRetry)
	stage := cloudformation.NewFromConfig(env.AWSConfig(ctx, "stage"), cfnNoRetry)
	var ok, throttled int
	for i := 0; i < 20; i++ {
		_, err := prod.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{})
		switch got := describeErr(err); got {
		case "no error":
			ok++
		case "HTTP 400 Throttling: Rate exceeded":
			throttled++
		default:
			t.Fatalf("unexpected answer %s", got)
		}
	}
	if ok != 10 || throttled != 10 {
		t.Errorf("%d ok, %d throttled; want 10 and 10", ok, throttled)
	}
	if _, err := prod.DescribeStackEvents(ctx, &cloudformation.DescribeStackEventsInput{StackName: aws.String("none")}); describeErr(err) == "HTTP 400 Throttling: Rate exceeded" {
		t.Errorf("another action shares the bucket")
	}
	if _, err := stage.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{}); err != nil {
		t.Errorf("another account shares the bucket: %v", err)
	}
	if _, err := prod.ListStacks(ctx, &cloudformation.ListStacksInput{}); err != nil {
		t.Errorf("List* is not limited: %v", err)
	}
	if s := statsOf(env, "cloudformation", "DescribeStacks"); s.Calls != 21 || s.Throttled != int64(throttled) {
		t.Errorf("stats %+v, want 21 calls, %d throttled", s, throttled)
	}
}

// TestStackTime: a stack's backend time is settable per stack glob.
func TestStackTime(t *testing.T) {
	env := sandboxtest.Start(t)
	ctx := context.Background()
	env.SetLatency(platform.LatencyModel{StackTime: map[string]time.Duration{"slow-*": 2 * time.Hour}})
	c := cloudformation.NewFromConfig(env.AWSConfig(ctx, "prod"))
	for _, n := range []string{"slow-a", "fast-a"} {
		if _, err := c.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String(n), TemplateBody: aws.String(bucketTemplate)}); err != nil {
			t.Fatal(err)
		}
	}
	if st := waitSettled(t, ctx, c, "fast-a"); st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("fast-a: %s", st.StackStatus)
	}
	out, err := c.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("slow-a")})
	if err != nil || out.Stacks[0].StackStatus != cfntypes.StackStatusCreateInProgress {
		t.Fatalf("slow-a before its time: %v %v", out, err)
	}
	env.AdvanceClock(2 * time.Hour)
	if st := waitSettled(t, ctx, c, "slow-a"); st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("slow-a: %s", st.StackStatus)
	}
}

func apiCodeOf(err error) (string, string) {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return "", ""
	}
	return ae.ErrorCode(), ae.ErrorMessage()
}

// TestLostAnswer: a "lost" fault performs the call, then closes the
// connection without an answer. The stack exists though the caller got a
// transport error; a retry with the same ClientRequestToken gets the same
// stack, not a second one; the loss is counted and logged.
func TestLostAnswer(t *testing.T) {
	env := sandboxtest.Start(t)
	ctx := context.Background()
	c := cloudformation.NewFromConfig(env.AWSConfig(ctx, "prod"), cfnNoRetry)
	env.ClearStats()
	env.SetFaults(sandbox.FaultSpec{Seed: 3, Rules: []sandbox.FaultRule{{Kind: "lost", Service: "cloudformation", Action: "CreateStack", Rate: 1}}})
	in := &cloudformation.CreateStackInput{StackName: aws.String("lost-a"), TemplateBody: aws.String(bucketTemplate), ClientRequestToken: aws.String("tok-1")}
	_, err := c.CreateStack(ctx, in)
	var re *awshttp.ResponseError
	if err == nil || (errors.As(err, &re) && re.HTTPStatusCode() != 0) {
		t.Fatalf("lost answer: got %v, want a transport error (no response)", err)
	}
	if s := statsOf(env, "cloudformation", "CreateStack"); s.Calls != 1 || s.Lost != 1 || s.Dropped+s.Errors+s.Throttled != 0 {
		t.Errorf("stats %+v, want 1 call, 1 lost", s)
	}
	if got := env.RequestLog(); len(got) == 0 || got[len(got)-1].Action != "CreateStack" || got[len(got)-1].Outcome != "AnswerLost" {
		t.Errorf("request log: %+v, want CreateStack AnswerLost last", got)
	}
	// Reads are not matched by the rule: the call took effect.
	st := waitSettled(t, ctx, c, "lost-a")
	if st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("lost-a: %s, want CREATE_COMPLETE", st.StackStatus)
	}
	env.SetFaults(sandbox.FaultSpec{})
	out, err := c.CreateStack(ctx, in)
	if err != nil {
		t.Fatalf("retry with the same token: %v", err)
	}
	if aws.ToString(out.StackId) != aws.ToString(st.StackId) {
		t.Errorf("retry created %s, want the first stack %s", aws.ToString(out.StackId), aws.ToString(st.StackId))
	}
	in.ClientRequestToken = aws.String("tok-2")
	if _, err := c.CreateStack(ctx, in); err == nil {
		t.Errorf("CreateStack with a new token over a live stack succeeded")
	} else if code, _ := apiCodeOf(err); code != "AlreadyExistsException" {
		t.Errorf("CreateStack with a new token: %v, want AlreadyExistsException", err)
	}
	list, err := c.ListStacks(ctx, &cloudformation.ListStacksInput{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range list.StackSummaries {
		if aws.ToString(s.StackName) == "lost-a" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("lost-a exists %d times, want once", n)
	}
}
