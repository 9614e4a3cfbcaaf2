package sandbox

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stacker-go/stacker/internal/sandbox/platform"
)

func TestTOTPRFC6238Vectors(t *testing.T) {
	// RFC 6238 appendix B, SHA1 seed "12345678901234567890" (base32 below),
	// truncated to 6 digits.
	seed := "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
	for _, tt := range []struct {
		unix int64
		want string
	}{{59, "287082"}, {1111111109, "081804"}, {1111111111, "050471"}, {1234567890, "005924"}, {2000000000, "279037"}} {
		if got := TOTP(seed, time.Unix(tt.unix, 0)); got != tt.want {
			t.Errorf("TOTP at %d = %s, want %s", tt.unix, got, tt.want)
		}
	}
	if TOTP("not base32!", time.Now()) != "" {
		t.Errorf("bad seed accepted")
	}
	now := time.Now()
	prev := TOTP(DefaultMFASeed, now.Add(-30*time.Second))
	if _, ok := checkTOTP(DefaultMFASeed, prev, now); !ok {
		t.Errorf("previous window rejected")
	}
	if _, ok := checkTOTP(DefaultMFASeed, TOTP(DefaultMFASeed, now.Add(-90*time.Second)), now); ok && TOTP(DefaultMFASeed, now.Add(-90*time.Second)) != TOTP(DefaultMFASeed, now) {
		t.Errorf("stale code accepted")
	}
}

func TestLoadSpecExample(t *testing.T) {
	s, err := LoadSpec("testdata/spec-example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Accounts) != 2 || s.Accounts[0].Roles[0].MaxSessionDuration != 7200 || s.Latency.ByType["AWS::EC2::VPC"] != 2*time.Second {
		t.Errorf("parsed %+v", s)
	}
	if !strings.Contains(string(s.Accounts[0].Users[1].Policies["read-only"]), `"s3:Get*"`) {
		t.Errorf("policy not converted to JSON: %s", s.Accounts[0].Users[1].Policies["read-only"])
	}
	srv, err := New(s)
	if err != nil {
		t.Fatal(err)
	}
	if d := srv.faults.Latency("slow-app", "AWS::S3::Bucket"); d != 500*time.Millisecond {
		t.Errorf("latency by stack = %v", d)
	}
	if d := srv.faults.StackLatency("slow-app"); d != 3*time.Second {
		t.Errorf("stack time = %v", d)
	}
	if len(s.Faults.Rules) != 4 || s.Faults.Rules[3].Kind != "throttle" || s.Faults.Rules[3].Service != "s3" {
		t.Errorf("fault rules %+v", s.Faults.Rules)
	}
	if r, ok := srv.faults.MatchFailure("222222222222", "us-east-1", "prod-vpc", "VPC", "AWS::EC2::VPC", "create"); !ok || r.ID != "vpc-fails" {
		t.Errorf("failure rule not matched")
	}
	if _, ok := srv.faults.MatchFailure("222222222222", "us-east-1", "prod-vpc", "VPC", "AWS::EC2::VPC", "create"); ok {
		t.Errorf("times: 1 rule fired twice")
	}
}

func TestSpecErrors(t *testing.T) {
	for name, y := range map[string]string{
		"bad account id":  "accounts: [{name: a, id: '123'}]",
		"unknown field":   "accounts: [{name: a, id: '111111111111', colour: red}]",
		"duplicate":       "accounts: [{name: a, id: '111111111111'}, {name: a, id: '111111111111'}]",
		"bad seed":        "accounts: [{name: a, id: '111111111111', users: [{name: u, mfa: [{seed: '!!'}]}]}]",
		"bad policy":      "accounts: [{name: a, id: '111111111111', roles: [{name: r, trust_policy: '{}'}]}]",
		"no accounts":     "accounts: []",
		"bad bucket name": "accounts: [{name: a, id: '111111111111', buckets: [{name: 'UPPER'}]}]",
		"bad fault kind":  "accounts: [{name: a, id: '111111111111'}]\nfaults: {rules: [{kind: slow, rate: 0.1}]}",
		"bad fault rate":  "accounts: [{name: a, id: '111111111111'}]\nfaults: {rules: [{kind: drop, rate: 2}]}",
	} {
		if _, err := ParseSpec([]byte(y), name); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzParseSpec(f *testing.F) {
	b, _ := os.ReadFile("testdata/spec-example.yaml")
	f.Add(string(b))
	f.Add("accounts: [{name: a, id: '111111111111'}]")
	f.Fuzz(func(t *testing.T, y string) {
		if s, err := ParseSpec([]byte(y), "fuzz"); err == nil {
			_ = s.Validate()
		}
	})
}

func TestStateDirRoundTrip(t *testing.T) {
	dir := t.TempDir()
	srv, err := New(nil, WithStateDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.AddRole("prod", RoleSpec{Name: "Kept", TrustPolicy: `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"111111111111"},"Action":"sts:AssumeRole"}]}`}); err != nil {
		t.Fatal(err)
	}
	srv.clock.Advance(time.Hour)
	// A service with its own state (platform.Stateful): an ECS cluster.
	call := &platform.Call{Principal: platform.Principal{Account: "222222222222", Kind: "root", ARN: "arn:aws:iam::222222222222:root"}, Region: "us-east-1", Action: "CreateCluster", Body: []byte(`{"clusterName":"kept"}`)}
	if err := srv.services["ecs"].Serve(httptest.NewRecorder(), call); err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := New(nil, WithStateDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := (*iamAPI)(again).RoleARN("222222222222", "Kept"); !ok {
		t.Errorf("role lost across restart")
	}
	rec := httptest.NewRecorder()
	call = &platform.Call{Principal: platform.Principal{Account: "222222222222", Kind: "root", ARN: "arn:aws:iam::222222222222:root"}, Region: "us-east-1", Action: "DescribeClusters", Body: []byte(`{"clusters":["kept"]}`)}
	if err := again.services["ecs"].Serve(rec, call); err != nil || !strings.Contains(rec.Body.String(), `"clusterName":"kept"`) {
		t.Errorf("ECS cluster lost across restart: %v %s", err, rec.Body.String())
	}
	if again.clock.Offset() < time.Hour {
		t.Errorf("clock offset lost: %v", again.clock.Offset())
	}
}

func TestAdminAPI(t *testing.T) {
	srv, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	url, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	call := func(method, path, body string, wantStatus int) []byte {
		t.Helper()
		req, _ := http.NewRequest(method, url+"/_sandbox/"+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != wantStatus {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		return b
	}
	var acct AccountInfo
	json.Unmarshal(call("POST", "accounts", `{"name":"dev","id":"444444444444"}`, 201), &acct)
	if acct.ID != "444444444444" || len(acct.Users) != 1 || len(acct.Users[0].AccessKeys) != 1 {
		t.Errorf("account: %+v", acct)
	}
	call("POST", "accounts", `{"name":"dev","id":"444444444444"}`, 400)
	call("POST", "users", `{"account":"dev","name":"ci","policies":{"p":{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}}}`, 201)
	call("POST", "roles", `{"account":"444444444444","name":"Deployer","trust_policy":{"Statement":[{"Effect":"Allow","Principal":{"AWS":"111111111111"},"Action":"sts:AssumeRole"}]}}`, 201)
	call("POST", "clock/advance", `{"duration":"90m"}`, 200)
	if srv.clock.Offset() != 90*time.Minute {
		t.Errorf("offset %v", srv.clock.Offset())
	}
	var rule map[string]any
	json.Unmarshal(call("POST", "failures", `{"stack":"app-*","operation":"create"}`, 201), &rule)
	if rule["id"] == "" {
		t.Errorf("rule has no id: %v", rule)
	}
	call("DELETE", "failures/"+rule["id"].(string), "", 200)
	call("DELETE", "failures/nope", "", 404)
	call("POST", "throttles", `{"service":"sts","probability":0.5}`, 201)
	call("DELETE", "throttles", "", 200)
	call("PUT", "faults", `{"seed":1,"error_rate":0}`, 200)
	call("PUT", "latency", `{"default":1000000}`, 200)
	call("GET", "log", "", 200)
	call("GET", "nope", "", 404)
	call("POST", "clock/advance", `{"bogus":1}`, 400)
	call("POST", "reset", "", 200)
	if srv.clock.Offset() != 0 || len(srv.Accounts()) != 3 {
		t.Errorf("reset left offset %v, %d accounts", srv.clock.Offset(), len(srv.Accounts()))
	}
	cfg := srv.AWSConfig()
	for _, want := range []string{"[profile sandbox-master]", "[profile sandbox-prod]", "[profile sandbox-stage]", "endpoint_url = " + url, "mfa_serial = arn:aws:iam::111111111111:mfa/admin", "region = us-east-1"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("AWS config lacks %q:\n%s", want, cfg)
		}
	}
	if bytes.Count([]byte(cfg), []byte("mfa_serial")) != 1 {
		t.Errorf("mfa_serial outside master:\n%s", cfg)
	}
}

func TestDefaultAccessKeys(t *testing.T) {
	k := DefaultAccessKey("222222222222")
	if k.ID != "AKIASANDBOX222222222" || len(k.Secret) != 40 {
		t.Errorf("%+v", k)
	}
}
