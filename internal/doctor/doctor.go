// Package doctor checks, for every distinct target of a config, that a run
// could work: credentials resolve (with MFA when required), the caller is
// in the expected account, the template bucket is readable as that target
// and CloudFormation answers. It changes nothing except one probe object in
// the template bucket, removed at the end. It knows targets and the config;
// it does not deploy.
package doctor

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stacker-go/stacker/internal/awserr"
	"github.com/stacker-go/stacker/internal/config"
	"github.com/stacker-go/stacker/internal/target"
	"golang.org/x/sync/errgroup"
)

// Targets is what doctor needs from internal/target.Factory.
type Targets interface {
	Resolve(k target.Key) target.Key
	Profile(k target.Key) string
	Config(ctx context.Context, k target.Key) (aws.Config, error)
	Chain(ctx context.Context, k target.Key) (*target.Chain, error)
	Identity(ctx context.Context, k target.Key) (target.Identity, error)
	CheckAccount(ctx context.Context, k target.Key, want string, accounts map[string]string, subject string) error
	CloudFormation(ctx context.Context, k target.Key) (*cloudformation.Client, error)
	S3(ctx context.Context, k target.Key) (*s3.Client, string, error)
}

// Options of a doctor run.
type Options struct {
	Config  *config.Config
	Targets Targets
}

// Status of one check.
type Status string

const (
	OK   Status = "ok"
	Fail Status = "FAIL"
	Skip Status = "-"
)

// Row is the result for one target.
type Row struct {
	Target   target.Key
	Region   string   // the region in effect (the profile's when the key has none)
	Stacks   []string // stack names using the target; "(template bucket)" for the upload target
	Chain    string   // short chain, e.g. env→master→prod
	Account  string
	Creds    Status
	AcctOK   Status
	Bucket   Status
	CFN      Status
	Fix      string // what to do when a check failed
	Detail   string // the error behind the first failure
	uploader bool
}

// Failed reports whether any check of the row failed.
func (r Row) Failed() bool {
	return r.Creds == Fail || r.AcctOK == Fail || r.Bucket == Fail || r.CFN == Fail
}

type targetInfo struct {
	key    target.Key
	stacks []*config.Stack
	upload bool
}

// Run checks every distinct target in parallel and returns one row per
// target, sorted by target.
func Run(ctx context.Context, o Options) ([]Row, error) {
	cfg := o.Config
	byKey := map[target.Key]*targetInfo{}
	var order []target.Key
	add := func(k target.Key) *targetInfo {
		k = o.Targets.Resolve(k)
		if t, ok := byKey[k]; ok {
			return t
		}
		t := &targetInfo{key: k}
		byKey[k] = t
		order = append(order, k)
		return t
	}
	bucket := cfg.BucketName()
	if bucket != "" {
		add(target.Key{Region: cfg.StackerBucketRegion}).upload = true
	}
	for _, st := range cfg.Stacks {
		t := add(target.Key{Profile: st.Profile, Region: st.Region})
		t.stacks = append(t.stacks, st)
	}
	sort.Slice(order, func(i, j int) bool { return order[i].String() < order[j].String() })

	// The probe object, written with the upload (top-level) credentials.
	probe := &probeObject{bucket: bucket}
	if bucket != "" {
		probe.put(ctx, o.Targets, o.Targets.Resolve(target.Key{Region: cfg.StackerBucketRegion}))
		defer probe.remove(context.WithoutCancel(ctx))
	}

	rows := make([]Row, len(order))
	var g errgroup.Group
	for i, k := range order {
		g.Go(func() error {
			rows[i] = check(ctx, o, byKey[k], probe)
			return nil
		})
	}
	_ = g.Wait()
	return rows, ctx.Err()
}

// probeObject is the object every target must be able to read.
type probeObject struct {
	bucket string
	key    string
	err    error // the upload's error
	client *s3.Client
}

func (p *probeObject) put(ctx context.Context, t Targets, k target.Key) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	p.key = "stacker-doctor/probe-" + hex.EncodeToString(b[:]) + ".txt"
	client, _, err := t.S3(ctx, k)
	if err != nil {
		p.err = err
		return
	}
	p.client = client
	_, p.err = p.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(p.bucket), Key: aws.String(p.key),
		Body: bytes.NewReader([]byte("stacker doctor probe\n")), ContentType: aws.String("text/plain")})
}

func (p *probeObject) remove(ctx context.Context) {
	if p.err == nil && p.client != nil {
		_, _ = p.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(p.bucket), Key: aws.String(p.key)})
	}
}

func apiCode(err error) string { return awserr.Code(err) }

func check(ctx context.Context, o Options, t *targetInfo, probe *probeObject) Row {
	cfg := o.Config
	r := Row{Target: t.key, Creds: Skip, AcctOK: Skip, Bucket: Skip, CFN: Skip, uploader: t.upload}
	for _, st := range t.stacks {
		r.Stacks = append(r.Stacks, st.Name)
	}
	if t.upload {
		r.Stacks = append([]string{"(template bucket)"}, r.Stacks...)
	}
	fail := func(s *Status, fix string, err error) {
		*s = Fail
		if r.Fix == "" {
			r.Fix = fix
			if err != nil {
				r.Detail = err.Error()
			}
		}
	}
	profile := o.Targets.Profile(t.key)

	// 1. Credentials: the whole chain, MFA included.
	ch, err := o.Targets.Chain(ctx, t.key)
	var awsCfg aws.Config
	if err == nil {
		r.Chain = strings.Join(ch.Path, "→")
		awsCfg, err = o.Targets.Config(ctx, t.key)
	}
	if err == nil {
		r.Region = awsCfg.Region
		_, err = awsCfg.Credentials.Retrieve(ctx)
		err = target.CleanError(err)
	}
	if err != nil {
		fail(&r.Creds, CredentialsFix(profile, err), err)
		return r
	}
	r.Creds = OK

	// 2. Account.
	id, err := o.Targets.Identity(ctx, t.key)
	if err != nil {
		fail(&r.AcctOK, "the credentials resolve but sts:GetCallerIdentity fails; check the endpoint and the network", err)
		return r
	}
	r.Account = id.Account
	// The account guard, as build runs it: each stack's account_id, else
	// the accounts entry of the profile.
	guard := o.Targets.CheckAccount(ctx, t.key, "", cfg.Accounts, "")
	for _, st := range t.stacks {
		if guard != nil {
			break
		}
		guard = o.Targets.CheckAccount(ctx, t.key, st.AccountID, cfg.Accounts, "stack "+st.Name)
	}
	if guard != nil {
		fail(&r.AcctOK, guard.Error()+": fix the profile's role_arn or the expected id", nil)
	} else {
		r.AcctOK = OK
	}

	// 3. Template bucket, read as this target.
	if probe.bucket != "" {
		switch {
		case probe.err != nil && apiCode(probe.err) == "NoSuchBucket":
			r.Bucket = Skip // build creates it
		case probe.err != nil:
			if t.upload {
				fail(&r.Bucket, fmt.Sprintf("the top-level credentials (profile %s) cannot write to bucket %s: allow s3:PutObject on arn:aws:s3:::%s/* for %s", profile, probe.bucket, probe.bucket, id.RoleARN()), probe.err)
			}
		default:
			// Read as this target, in the bucket's region.
			client, _, err := o.Targets.S3(ctx, t.key)
			if err == nil {
				_, err = client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(probe.bucket), Key: aws.String(probe.key)},
					func(so *s3.Options) { so.Region = probe.client.Options().Region })
			}
			if err != nil {
				fix := fmt.Sprintf("CloudFormation in account %s cannot read templates from bucket %s: add to its bucket policy the statement "+
					`{"Effect":"Allow","Principal":{"AWS":"%s"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::%s/*"}`+
					" (in the cross-account example: add the role to the Roles variable of the stacker-bucket stack)",
					id.Account, probe.bucket, id.RoleARN(), probe.bucket)
				fail(&r.Bucket, fix, err)
			} else {
				r.Bucket = OK
			}
		}
	}

	// 4. CloudFormation answers.
	in := &cloudformation.DescribeStacksInput{}
	if len(t.stacks) > 0 {
		in.StackName = aws.String(t.stacks[0].CFNName(cfg))
	}
	cfnClient, err := o.Targets.CloudFormation(ctx, t.key)
	if err == nil {
		_, err = cfnClient.DescribeStacks(ctx, in)
	}
	if err != nil && !(apiCode(err) == "ValidationError" && awserr.MessageContains(err, "does not exist")) {
		fail(&r.CFN, fmt.Sprintf("CloudFormation in %s refuses %s: grant cloudformation:* to %s", awsCfg.Region, "DescribeStacks", id.RoleARN()), err)
	} else {
		r.CFN = OK
	}
	return r
}

// CredentialsFix is what to do about a credential failure of a target
// whose profile is profile: the one diagnosis, shown in doctor's table and
// as the hint under a run's credential error.
func CredentialsFix(profile string, err error) string {
	var (
		mfa     *target.MFACodeRequiredError
		none    *target.NoCredentialsError
		unknown *target.UnknownProfileError
	)
	switch {
	case errors.As(err, &mfa):
		return fmt.Sprintf("run on a terminal to be asked for the code, or pass --mfa-code CODE (or %s=CODE) for %s", target.EnvMFACode, mfa.Serial)
	case errors.As(err, &none):
		return fmt.Sprintf("name a profile of your AWS config file with --profile NAME (or export %s=NAME), or give the stack a profile:, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", target.EnvProfile)
	case errors.As(err, &unknown), strings.Contains(err.Error(), "not found in"):
		return fmt.Sprintf("add a [profile %s] section to your AWS config file (AWS_CONFIG_FILE) or fix the stack's profile", profile)
	case strings.Contains(err.Error(), "credential_source = Environment"):
		return "export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), e.g. from sts get-session-token or aws-vault exec"
	case apiCode(err) == "AccessDenied" && strings.Contains(err.Error(), "assume role"):
		return "the role's trust policy does not let the previous hop assume it: check role_arn/source_profile; if the trust policy requires MFA, set mfa_serial on the profile (or export an MFA session)"
	case apiCode(err) == "ExpiredToken" || apiCode(err) == "InvalidClientTokenId":
		return "the source credentials are expired or unknown: renew them (stacker cache clear drops cached sessions)"
	}
	return "check the profile's credentials (aws sts get-caller-identity --profile " + profile + ")"
}

// Render prints the table: one row per target, the fix in the row.
func Render(w io.Writer, rows []Row) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tCHAIN\tACCOUNT\tCREDENTIALS\tACCOUNT CHECK\tBUCKET READ\tCLOUDFORMATION\tSTACKS\tFIX")
	for _, r := range rows {
		acct := r.Account
		if acct == "" {
			acct = "-"
		}
		chain := r.Chain
		if chain == "" {
			chain = "-"
		}
		fix := "-"
		if r.Failed() {
			fix = r.Fix
			if r.Detail != "" {
				fix += " [" + oneLine(r.Detail) + "]"
			}
		}
		name := r.Target.String()
		if r.Target.Region == "" && r.Region != "" {
			name = (target.Key{Profile: r.Target.Profile, Region: r.Region}).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, chain, acct, r.Creds, r.AcctOK, r.Bucket, r.CFN, strings.Join(r.Stacks, ","), fix)
	}
	_ = tw.Flush()
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
