package cloudformation

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"github.com/stacker-go/stacker/internal/sandbox/platform"
)

// ---- platform fakes ----

type fakeIAM struct {
	mu       sync.Mutex
	roles    map[string]platform.RoleSpec // acct/name
	inline   map[string]string            // acct/role/policy -> doc
	users    map[string]bool
	uinline  map[string]string
	policies map[string]string // arn -> doc
	attached map[string]bool   // acct/role/arn
	keys     map[string]string // keyID -> acct/user
	profiles map[string][]string
	seq      int
}

func newFakeIAM() *fakeIAM {
	return &fakeIAM{roles: map[string]platform.RoleSpec{}, inline: map[string]string{}, users: map[string]bool{},
		uinline: map[string]string{}, policies: map[string]string{}, attached: map[string]bool{}, keys: map[string]string{}, profiles: map[string][]string{}}
}

func noEntity(kind, name string) error {
	return &platform.APIError{Status: 404, Code: "NoSuchEntity", Message: fmt.Sprintf("The %s with name %s cannot be found.", kind, name), Sender: true}
}

func (f *fakeIAM) CreateRole(account string, r platform.RoleSpec) (string, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := account + "/" + r.Name
	if _, ok := f.roles[k]; ok {
		return "", "", &platform.APIError{Status: 409, Code: "EntityAlreadyExists", Message: "Role with name " + r.Name + " already exists.", Sender: true}
	}
	f.roles[k] = r
	for n, d := range r.InlinePolicies {
		f.inline[k+"/"+n] = d
	}
	f.seq++
	return fmt.Sprintf("arn:aws:iam::%s:role%s%s", account, r.Path, r.Name), fmt.Sprintf("AROA%016d", f.seq), nil
}
func (f *fakeIAM) UpdateRole(account string, r platform.RoleSpec) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.roles[account+"/"+r.Name]; !ok {
		return noEntity("role", r.Name)
	}
	f.roles[account+"/"+r.Name] = r
	return nil
}
func (f *fakeIAM) DeleteRole(account, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.roles[account+"/"+name]; !ok {
		return noEntity("role", name)
	}
	delete(f.roles, account+"/"+name)
	return nil
}
func (f *fakeIAM) PutRolePolicy(account, role, policyName, document string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.roles[account+"/"+role]; !ok {
		return noEntity("role", role)
	}
	f.inline[account+"/"+role+"/"+policyName] = document
	return nil
}
func (f *fakeIAM) DeleteRolePolicy(account, role, policyName string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.inline, account+"/"+role+"/"+policyName)
	return nil
}
func (f *fakeIAM) CreatePolicy(account, name, p, document string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	arn := fmt.Sprintf("arn:aws:iam::%s:policy%s%s", account, p, name)
	f.policies[arn] = document
	return arn, nil
}
func (f *fakeIAM) UpdatePolicy(account, arn, document string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.policies[arn] = document
	return nil
}
func (f *fakeIAM) DeletePolicy(account, arn string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.policies, arn)
	return nil
}
func (f *fakeIAM) AttachRolePolicy(account, role, arn string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attached[account+"/"+role+"/"+arn] = true
	return nil
}
func (f *fakeIAM) DetachRolePolicy(account, role, arn string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.attached, account+"/"+role+"/"+arn)
	return nil
}
func (f *fakeIAM) AttachUserPolicy(account, user, arn string) error { return nil }
func (f *fakeIAM) DetachUserPolicy(account, user, arn string) error { return nil }
func (f *fakeIAM) CreateUser(account, name, p string) (string, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users[account+"/"+name] = true
	return fmt.Sprintf("arn:aws:iam::%s:user%s%s", account, p, name), "AIDAEXAMPLE", nil
}
func (f *fakeIAM) DeleteUser(account, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.users, account+"/"+name)
	return nil
}
func (f *fakeIAM) PutUserPolicy(account, user, policyName, document string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.uinline[account+"/"+user+"/"+policyName] = document
	return nil
}
func (f *fakeIAM) DeleteUserPolicy(account, user, policyName string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.uinline, account+"/"+user+"/"+policyName)
	return nil
}
func (f *fakeIAM) CreateAccessKey(account, user string) (string, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	id := fmt.Sprintf("AKIATEST%012d", f.seq)
	f.keys[id] = account + "/" + user
	return id, "secret-" + id, nil
}
func (f *fakeIAM) DeleteAccessKey(account, user, keyID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.keys, keyID)
	return nil
}
func (f *fakeIAM) CreateInstanceProfile(account, name, p string, roles []string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.profiles[account+"/"+name] = roles
	return fmt.Sprintf("arn:aws:iam::%s:instance-profile%s%s", account, p, name), nil
}
func (f *fakeIAM) DeleteInstanceProfile(account, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.profiles, account+"/"+name)
	return nil
}
func (f *fakeIAM) RoleARN(account, name string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.roles[account+"/"+name]
	if !ok {
		return "", false
	}
	return fmt.Sprintf("arn:aws:iam::%s:role%s%s", account, r.Path, name), true
}

func (f *fakeIAM) role(account, name string) (platform.RoleSpec, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.roles[account+"/"+name]
	return r, ok
}

type fakeBucket struct {
	owner, region, policy, sse string
	objects                    map[string][]byte
}

type fakeS3 struct {
	mu      sync.Mutex
	buckets map[string]*fakeBucket
}

func newFakeS3() *fakeS3 { return &fakeS3{buckets: map[string]*fakeBucket{}} }

func (f *fakeS3) CreateBucket(account string, b platform.BucketSpec) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.buckets[b.Name]; ok {
		return &platform.APIError{Status: 409, Code: "BucketAlreadyExists", Message: "The requested bucket name is not available.", Sender: true}
	}
	f.buckets[b.Name] = &fakeBucket{owner: account, region: b.Region, sse: b.SSEAlgorithm, objects: map[string][]byte{}}
	return nil
}
func (f *fakeS3) DeleteBucket(account, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.buckets[name]
	if !ok {
		return &platform.APIError{Status: 404, Code: "NoSuchBucket", Message: "The specified bucket does not exist", Sender: true}
	}
	if len(b.objects) > 0 {
		return &platform.APIError{Status: 409, Code: "BucketNotEmpty", Message: "The bucket you tried to delete is not empty", Sender: true}
	}
	delete(f.buckets, name)
	return nil
}
func (f *fakeS3) PutBucketPolicy(account, bucket, policy string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.buckets[bucket]
	if !ok {
		return &platform.APIError{Status: 404, Code: "NoSuchBucket", Message: "The specified bucket does not exist", Sender: true}
	}
	b.policy = policy
	return nil
}
func (f *fakeS3) DeleteBucketPolicy(account, bucket string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if b, ok := f.buckets[bucket]; ok {
		b.policy = ""
	}
	return nil
}

// GetObjectAs allows the owner account, and principals whose role ARN
// appears in the bucket policy.
func (f *fakeS3) GetObjectAs(p platform.Principal, bucket, key, versionID string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.buckets[bucket]
	if !ok {
		return nil, &platform.APIError{Status: 404, Code: "NoSuchBucket", Message: "The specified bucket does not exist", Sender: true}
	}
	if p.Account != b.owner && (p.RoleARN == "" || !strings.Contains(b.policy, p.RoleARN)) {
		return nil, &platform.APIError{Status: 403, Code: "AccessDenied", Message: "Access Denied", Sender: true}
	}
	o, ok := b.objects[key]
	if !ok {
		return nil, &platform.APIError{Status: 404, Code: "NoSuchKey", Message: "The specified key does not exist.", Sender: true}
	}
	return o, nil
}
func (f *fakeS3) BucketRegion(bucket string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.buckets[bucket]
	if !ok {
		return "", false
	}
	return b.region, true
}

func (f *fakeS3) put(account, bucket, key, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.buckets[bucket]
	if !ok {
		b = &fakeBucket{owner: account, region: "us-east-1", objects: map[string][]byte{}}
		f.buckets[bucket] = b
	}
	b.objects[key] = []byte(body)
}

type fakeAuth struct {
	mu   sync.Mutex
	deny map[string]bool // action
}

func (a *fakeAuth) Authorize(p platform.Principal, action, resource string, extra map[string][]string) platform.Decision {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.deny[action] {
		return platform.Decision{Reason: fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s because no identity-based policy allows the %s action", p.ARN, action, resource, action)}
	}
	return platform.Decision{Allowed: true}
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

type fakeFaults struct {
	mu      sync.Mutex
	rules   []platform.FailureRule
	latency time.Duration
	byType  map[string]time.Duration
}

func (f *fakeFaults) MatchFailure(account, region, stack, logical, typ, op string) (platform.FailureRule, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, r := range f.rules {
		if (r.Stack == "" || globOK(r.Stack, stack)) && (r.Resource == "" || globOK(r.Resource, logical)) &&
			(r.Type == "" || r.Type == typ) && (r.Operation == "" || r.Operation == op) {
			if r.Times > 0 {
				f.rules[i].Times--
				if f.rules[i].Times == 0 {
					f.rules = append(f.rules[:i], f.rules[i+1:]...)
				}
			}
			return r, true
		}
	}
	return platform.FailureRule{}, false
}

func globOK(p, s string) bool { ok, _ := path.Match(p, s); return ok }

func (f *fakeFaults) StackLatency(stack string) time.Duration { return 0 }

func (f *fakeFaults) Latency(stack, typ string) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	if d, ok := f.byType[typ]; ok {
		return d
	}
	return f.latency
}

func (f *fakeFaults) add(r platform.FailureRule) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = append(f.rules, r)
}

// ---- harness ----

type harness struct {
	t      testing.TB
	svc    *Service
	iam    *fakeIAM
	s3     *fakeS3
	auth   *fakeAuth
	faults *fakeFaults
	srv    *httptest.Server
	// keys maps access key ids to principals.
	keys map[string]platform.Principal
}

const acctA, acctB = "111111111111", "222222222222"

func newHarness(t testing.TB) *harness {
	h := &harness{t: t, iam: newFakeIAM(), s3: newFakeS3(), auth: &fakeAuth{deny: map[string]bool{}}, faults: &fakeFaults{byType: map[string]time.Duration{}}}
	h.keys = map[string]platform.Principal{
		"AKIDA": {Account: acctA, ARN: "arn:aws:iam::" + acctA + ":user/deployer", Kind: "user", UserName: "deployer"},
		"AKIDB": {Account: acctB, ARN: "arn:aws:sts::" + acctB + ":assumed-role/Stacker/s", Kind: "assumed-role", RoleName: "Stacker", RoleARN: "arn:aws:iam::" + acctB + ":role/Stacker"},
	}
	var srv *httptest.Server
	p := &platform.Platform{Auth: h.auth, IAM: h.iam, S3: h.s3, Clock: realClock{}, Faults: h.faults,
		Accounts: func() []string { return []string{acctA, acctB} },
		Endpoint: func() string { return srv.URL }}
	h.svc = New(p)
	var reqSeq int64
	var mu sync.Mutex
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		mu.Lock()
		reqSeq++
		id := fmt.Sprintf("req-%06d", reqSeq)
		mu.Unlock()
		key := "AKIDA"
		region := "us-east-1"
		if a := r.Header.Get("Authorization"); a != "" {
			if i := strings.Index(a, "Credential="); i >= 0 {
				parts := strings.Split(a[i+len("Credential="):], "/")
				key = parts[0]
				if len(parts) > 2 {
					region = parts[2]
				}
			}
		}
		pr, ok := h.keys[key]
		if !ok {
			pr = h.keys["AKIDA"]
		}
		c := &platform.Call{Principal: pr, Region: region, Service: "cloudformation", Action: r.Form.Get("Action"), Form: r.Form, RequestID: id, HTTP: r}
		if err := h.svc.Serve(w, c); err != nil {
			ae, ok := err.(*platform.APIError)
			if !ok {
				ae = &platform.APIError{Status: 500, Code: "InternalFailure", Message: err.Error()}
			}
			WriteError(w, id, ae)
		}
	}))
	h.srv = srv
	t.Cleanup(func() {
		srv.Close()
		h.svc.Wait()
	})
	return h
}

func (h *harness) client(key string) *cfn.Client {
	return cfn.NewFromConfig(aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider(key, "secret", ""),
		BaseEndpoint:     aws.String(h.srv.URL),
		RetryMaxAttempts: 3, // retry transport errors under load; API errors are not retried
		HTTPClient:       &http.Client{Timeout: 30 * time.Second},
	})
}

// waitStable polls until the stack is in a terminal state.
func waitStable(t testing.TB, c *cfn.Client, name string) types.Stack {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := c.DescribeStacks(context.Background(), &cfn.DescribeStacksInput{StackName: aws.String(name)})
		if err != nil {
			t.Fatalf("describing %s: %v", name, err)
		}
		st := out.Stacks[0]
		s := string(st.StackStatus)
		if !strings.HasSuffix(s, "_IN_PROGRESS") || s == "REVIEW_IN_PROGRESS" {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("stack %s still %s", name, s)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// AssumeServiceRole: the role must exist and its trust policy name the service.
func (f *fakeIAM) AssumeServiceRole(roleARN, service, session string) (platform.Principal, bool) {
	parts := strings.Split(roleARN, ":")
	if len(parts) != 6 {
		return platform.Principal{}, false
	}
	name := parts[5][strings.LastIndex(parts[5], "/")+1:]
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.roles[parts[4]+"/"+name]
	if !ok || !strings.Contains(r.AssumeRolePolicyDocument, service) {
		return platform.Principal{}, false
	}
	return platform.Principal{Account: parts[4], Kind: "assumed-role", RoleName: name, RoleARN: roleARN, SessionName: session,
		ARN: "arn:aws:sts::" + parts[4] + ":assumed-role/" + name + "/" + session}, true
}
