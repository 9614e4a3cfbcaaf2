package cfn

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stacker-go/stacker/blueprint"
	"github.com/stacker-go/stacker/internal/engine"
)

// ncRun is one target with deploy records in a temporary directory and
// a stack whose spec and request the test changes between launches.
type ncRun struct {
	f    *fakeCFN
	p    *Provider
	dir  string
	spec *LaunchSpec
	req  Request // what Prepare returns (a copy each launch)
}

const ncAccount, ncRegion = "111111111111", "us-east-1"

func newNCRun(t *testing.T, records bool) *ncRun {
	t.Helper()
	r := &ncRun{f: newFake(), dir: filepath.Join(t.TempDir(), "deployed")}
	var rec *Records
	if records {
		rec = &Records{Dir: r.dir, Account: ncAccount, Region: ncRegion}
	}
	r.p = New(r.f, Options{Sleep: noSleep, Now: fixedNow, Records: rec})
	r.spec = baseSpec()
	r.req = Request{TemplateBody: `{"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}`,
		Declared: []blueprint.Parameter{{Name: "Cidr"}}, Values: map[string]string{"Cidr": "10.0.0.0/16"}}
	r.spec.Deps.Prepare = func(ctx context.Context) (*Request, error) {
		c := r.req
		c.Values = map[string]string{}
		for k, v := range r.req.Values {
			c.Values[k] = v
		}
		return &c, nil
	}
	return r
}

// launch builds the stack once and returns its final status line and the
// write calls it made.
func (r *ncRun) launch(t *testing.T) (string, []string, Outcome) {
	t.Helper()
	r.f.mu.Lock()
	r.f.calls = nil
	r.f.mu.Unlock()
	o := r.p.Launch(context.Background(), r.spec, func(engine.Status) {})
	var writes []string
	for _, c := range r.f.calls {
		if !strings.HasPrefix(c, "Describe") && c != "GetTemplate" {
			writes = append(writes, c)
		}
	}
	return line(o.Status), writes, o
}

func (r *ncRun) recordPath() string {
	return filepath.Join(r.dir, ncAccount+"_"+ncRegion+"_ns-vpc.json")
}

// TestNoChangeSecondLaunch: a stack built by this tool is skipped without
// any write the next time, unless something it sends or the stack itself
// changed, or its template is one CloudFormation must see every time.
func TestNoChangeSecondLaunch(t *testing.T) {
	const nested = `{"Resources": {"Child": {"Type": "AWS::CloudFormation::Stack", "Properties": {"TemplateURL": "https://s3.amazonaws.com/b/child.json"}}}}`
	cases := []struct {
		name string
		// template changes the request of both launches (the kind of
		// template); between changes things before the second one.
		template func(r *ncRun)
		between  func(t *testing.T, r *ncRun)
		records  bool // false: no-change detection off
		want     string
		writes   []string
	}{
		{name: "identical inputs", records: true, want: "skipped (nochange)"},
		{name: "identical inputs with -i: no change set, no question", records: true,
			between: func(t *testing.T, r *ncRun) { r.spec.Interactive = true }, want: "skipped (nochange)"},
		{name: "protected stack unchanged", records: true,
			between: func(t *testing.T, r *ncRun) { r.spec.Protected = true }, want: "skipped (nochange)"},
		{name: "template body changed", records: true,
			between: func(t *testing.T, r *ncRun) {
				r.req.TemplateBody = `{"Resources": {"Q2": {"Type": "AWS::SQS::Queue"}}}`
			}, want: "complete (updating existing stack)", writes: []string{"UpdateStack"}},
		{name: "parameter value changed", records: true,
			between: func(t *testing.T, r *ncRun) { r.req.Values["Cidr"] = "10.1.0.0/16" },
			want:    "complete (updating existing stack)", writes: []string{"UpdateStack"}},
		{name: "parameter now omitted (UsePreviousValue)", records: true,
			between: func(t *testing.T, r *ncRun) { delete(r.req.Values, "Cidr") },
			want:    "complete (updating existing stack)", writes: []string{"UpdateStack"}},
		{name: "tag changed", records: true,
			between: func(t *testing.T, r *ncRun) {
				r.spec.Tags = map[string]string{"stacker_namespace": "ns", "team": "net"}
			},
			want: "complete (updating existing stack)", writes: []string{"UpdateStack"}},
		{name: "stack policy changed", records: true,
			between: func(t *testing.T, r *ncRun) { r.req.StackPolicy = `{"Statement": []}` },
			want:    "complete (updating existing stack)", writes: []string{"UpdateStack"}},
		{name: "termination protection turned on", records: true,
			between: func(t *testing.T, r *ncRun) { r.spec.TerminationProtection = true },
			want:    "complete (updating existing stack)", writes: []string{"UpdateTerminationProtection", "UpdateStack"}},
		{name: "termination protection changed out of band", records: true,
			between: func(t *testing.T, r *ncRun) { r.f.stacks["ns-vpc"].tp = true },
			want:    "complete (updating existing stack)", writes: []string{"UpdateTerminationProtection", "UpdateStack"}},
		{name: "role changed", records: true,
			between: func(t *testing.T, r *ncRun) { r.spec.RoleARN = "arn:aws:iam::111111111111:role/cfn" },
			want:    "complete (updating existing stack)", writes: []string{"UpdateStack"}},
		{name: "notification ARNs changed", records: true,
			between: func(t *testing.T, r *ncRun) {
				r.spec.NotificationARNs = []string{"arn:aws:sns:us-east-1:111111111111:t"}
			},
			want: "complete (updating existing stack)", writes: []string{"UpdateStack"}},
		{name: "updated out of band (last-change time moved)", records: true,
			between: func(t *testing.T, r *ncRun) { r.f.stacks["ns-vpc"].updated = r.f.now.Add(time.Minute) },
			want:    "complete (updating existing stack)", writes: []string{"UpdateStack"}},
		{name: "deleted and re-created out of band (new id)", records: true,
			between: func(t *testing.T, r *ncRun) {
				old := r.f.stacks["ns-vpc"]
				r.f.put("ns-vpc", "CREATE_COMPLETE", func(s *fakeStack) { s.created, s.params, s.outputs = old.created, old.params, old.outputs })
			}, want: "complete (updating existing stack)", writes: []string{"UpdateStack"}},
		{name: "stack left UPDATE_ROLLBACK_COMPLETE", records: true,
			between: func(t *testing.T, r *ncRun) { r.f.stacks["ns-vpc"].status = "UPDATE_ROLLBACK_COMPLETE" },
			want:    "complete (updating existing stack)", writes: []string{"UpdateStack"}},
		{name: "record missing", records: true,
			between: func(t *testing.T, r *ncRun) {
				if err := os.Remove(r.recordPath()); err != nil {
					t.Fatal(err)
				}
			}, want: "complete (updating existing stack)", writes: []string{"UpdateStack"}},
		{name: "record corrupt", records: true,
			between: func(t *testing.T, r *ncRun) {
				if err := os.WriteFile(r.recordPath(), []byte(`{"version": 1, "stack_id": `), 0o600); err != nil {
					t.Fatal(err)
				}
			}, want: "complete (updating existing stack)", writes: []string{"UpdateStack"}},
		{name: "record of another stack", records: true,
			between: func(t *testing.T, r *ncRun) {
				b, _ := os.ReadFile(r.recordPath())
				b = []byte(strings.Replace(string(b), `"stack": "ns-vpc"`, `"stack": "ns-other"`, 1))
				if err := os.WriteFile(r.recordPath(), b, 0o600); err != nil {
					t.Fatal(err)
				}
			}, want: "complete (updating existing stack)", writes: []string{"UpdateStack"}},
		{name: "template with a Transform", records: true,
			template: func(r *ncRun) {
				r.req.TemplateBody = `{"Transform": "AWS::Serverless-2016-10-31", "Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}`
			}, want: "complete (updating existing stack)", writes: []string{"UpdateStack"}},
		{name: "template with Fn::Transform (YAML)", records: true,
			template: func(r *ncRun) {
				r.req.TemplateBody = "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      Fn::Transform:\n        Name: AWS::Include\n"
			}, want: "complete (updating existing stack)", writes: []string{"UpdateStack"}},
		{name: "template with a nested stack", records: true,
			template: func(r *ncRun) { r.req.TemplateBody = nested },
			want:     "complete (updating existing stack)", writes: []string{"UpdateStack"}},
		{name: "template with a dynamic reference", records: true,
			template: func(r *ncRun) {
				r.req.TemplateBody = `{"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "{{resolve:ssm:/q/name}}"}}}}`
			}, want: "complete (updating existing stack)", writes: []string{"UpdateStack"}},
		{name: "parameter of an SSM parameter type (template)", records: true,
			template: func(r *ncRun) {
				r.req.TemplateBody = "Parameters:\n  Ami:\n    Type: AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>\n    Default: /ami\nResources:\n  Q: {Type: AWS::SQS::Queue}\n"
			}, want: "complete (updating existing stack)", writes: []string{"UpdateStack"}},
		{name: "parameter of an SSM parameter type (declared)", records: true,
			template: func(r *ncRun) {
				r.req.Declared = []blueprint.Parameter{{Name: "Cidr", Type: "AWS::SSM::Parameter::Value<String>"}}
			}, want: "complete (updating existing stack)", writes: []string{"UpdateStack"}},
		{name: "template that cannot be read", records: true,
			template: func(r *ncRun) { r.req.TemplateBody = "{not: [valid" },
			want:     "complete (updating existing stack)", writes: []string{"UpdateStack"}},
		{name: "TemplateURL whose body was noted", records: true,
			template: func(r *ncRun) {
				body := r.req.TemplateBody
				r.req.TemplateBody, r.req.TemplateURL = "", "https://s3.amazonaws.com/b/t.json"
				r.req.NoteTemplate([]byte(body))
			}, want: "skipped (nochange)"},
		{name: "TemplateURL whose body changed", records: true,
			template: func(r *ncRun) {
				r.req.TemplateBody, r.req.TemplateURL = "", "https://s3.amazonaws.com/b/t.json"
				r.req.NoteTemplate([]byte(`{"Resources": {}}`))
			},
			between: func(t *testing.T, r *ncRun) {
				r.req.NoteTemplate([]byte(`{"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}`))
			},
			want: "complete (updating existing stack)", writes: []string{"UpdateStack"}},
		{name: "TemplateURL of a nested-stack body", records: true,
			template: func(r *ncRun) {
				r.req.TemplateBody, r.req.TemplateURL = "", "https://s3.amazonaws.com/b/t.json"
				r.req.NoteTemplate([]byte(nested))
			}, want: "complete (updating existing stack)", writes: []string{"UpdateStack"}},
		{name: "TemplateURL, body unknown", records: true,
			template: func(r *ncRun) { r.req.TemplateBody, r.req.TemplateURL = "", "https://s3.amazonaws.com/b/t.json" },
			want:     "complete (updating existing stack)", writes: []string{"UpdateStack"}},
		{name: "disabled", records: false, want: "complete (updating existing stack)", writes: []string{"UpdateStack"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newNCRun(t, tc.records)
			if tc.template != nil {
				tc.template(r)
			}
			if got, writes, _ := r.launch(t); got != "complete (creating new stack)" || !slices.Equal(writes, []string{"CreateStack"}) {
				t.Fatalf("first launch: %s, writes %q", got, writes)
			}
			if tc.between != nil {
				tc.between(t, r)
			}
			got, writes, o := r.launch(t)
			if got != tc.want || !slices.Equal(writes, tc.writes) {
				t.Errorf("second launch: %s, writes %q; want %s, writes %q", got, writes, tc.want, tc.writes)
			}
			if o.Outputs["Out"] != "ns-vpc-out" {
				t.Errorf("outputs %v", o.Outputs)
			}
			if !tc.records {
				if _, err := os.Stat(r.dir); !os.IsNotExist(err) {
					t.Errorf("disabled, yet the record directory exists (%v)", err)
				}
			}
		})
	}
}

// TestNoChangeRecordRewritten: a stack submitted because its record was
// missing, corrupt or stale is recorded again once CloudFormation says it
// matches (update complete, or "No updates are to be performed"), so the
// launch after that makes no write.
func TestNoChangeRecordRewritten(t *testing.T) {
	for _, tc := range []struct {
		name        string
		noChange    bool
		interactive bool   // through a change set (-i)
		record      string // "" = none
	}{
		{name: "missing, update complete"},
		{name: "missing, no updates", noChange: true},
		{name: "missing, -i, empty change set", noChange: true, interactive: true},
		{name: "missing, -i, approved change set executed", interactive: true},
		{name: "corrupt, no updates", noChange: true, record: "not json"},
		{name: "stale, no updates", noChange: true, record: `{"version": 1, "account": "111111111111", "region": "us-east-1", "stack": "ns-vpc", "stack_id": "old", "digest": "sha256:00"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newNCRun(t, true)
			r.f.put("ns-vpc", "UPDATE_COMPLETE", func(s *fakeStack) {
				s.params["Cidr"] = "10.0.0.0/16"
				s.outputs["Out"] = "ns-vpc-out"
				s.created, s.updated = r.f.now.Add(-time.Hour), r.f.now.Add(-time.Minute)
			})
			r.f.noChange = tc.noChange
			r.spec.Interactive, r.spec.Approved = tc.interactive, tc.interactive
			if tc.record != "" {
				if err := os.MkdirAll(r.dir, 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(r.recordPath(), []byte(tc.record), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			want := "complete (updating existing stack)"
			if tc.noChange {
				want = "skipped (nochange)"
			}
			wantWrites := []string{"UpdateStack"}
			switch {
			case tc.interactive && tc.noChange:
				wantWrites = []string{"CreateChangeSet"}
			case tc.interactive:
				wantWrites = []string{"CreateChangeSet", "ExecuteChangeSet"}
			}
			if got, writes, _ := r.launch(t); got != want || !slices.Equal(writes, wantWrites) {
				t.Fatalf("first launch: %s, writes %q; want %s after %q", got, writes, want, wantWrites)
			}
			got, writes, o := r.launch(t)
			if got != "skipped (nochange)" || len(writes) != 0 {
				t.Errorf("second launch: %s, writes %q; want skipped (nochange) without a write", got, writes)
			}
			if o.Outputs["Out"] != "ns-vpc-out" {
				t.Errorf("outputs %v", o.Outputs)
			}
		})
	}
}

// TestNoChangeRecordFile: records are 0600 in a 0700 directory and hold
// digests only: no parameter value, NoEcho or not, reaches the disk.
func TestNoChangeRecordFile(t *testing.T) {
	const secret = "s3cr3t-Passw0rd-value"
	const plain = "plain-value-10.9.8.0"
	r := newNCRun(t, true)
	r.req.Declared = []blueprint.Parameter{{Name: "Cidr"}, {Name: "Password", NoEcho: true}}
	r.req.Values = map[string]string{"Cidr": plain, "Password": secret}
	r.req.StackPolicy = `{"Statement": [{"Effect": "Deny", "Sid": "policy-text"}]}`
	if got, _, _ := r.launch(t); got != "complete (creating new stack)" {
		t.Fatalf("launch: %s", got)
	}
	b, err := os.ReadFile(r.recordPath())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{secret, plain, "Password", "Cidr", "policy-text", "stacker_namespace"} {
		if strings.Contains(string(b), s) {
			t.Errorf("record holds %q:\n%s", s, b)
		}
	}
	if !strings.Contains(string(b), `"digest": "sha256:`) {
		t.Errorf("record has no digest:\n%s", b)
	}
	fi, err := os.Stat(r.recordPath())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("record mode %v, want 0600", fi.Mode().Perm())
	}
	di, err := os.Stat(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	if di.Mode().Perm() != 0o700 {
		t.Errorf("record directory mode %v, want 0700", di.Mode().Perm())
	}
	left, _ := os.ReadDir(r.dir)
	if len(left) != 1 {
		t.Errorf("record directory holds %v, want only the record (no temporary file)", left)
	}
	// A changed secret is a change.
	r.req.Values["Password"] = secret + "2"
	if got, writes, _ := r.launch(t); !slices.Equal(writes, []string{"UpdateStack"}) {
		t.Errorf("changed NoEcho value: %s, writes %q; want an UpdateStack", got, writes)
	}
	if n, err := ClearRecords(r.dir); err != nil || n != 1 {
		t.Errorf("ClearRecords = %d, %v; want 1", n, err)
	}
}

// TestTemplateIneligible: which templates no-change detection never
// trusts, and that ordinary ones (JSON from blueprints, YAML with short
// forms) are eligible.
func TestTemplateIneligible(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       string // substring of the reason; "" = eligible
	}{
		{"JSON", `{"Parameters": {"A": {"Type": "String"}}, "Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Ref": "A"}}}}}`, ""},
		{"YAML short forms", "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: !Sub '${AWS::StackName}-q'\nOutputs:\n  Arn:\n    Value: !GetAtt Q.Arn\n", ""},
		{"top-level Transform list", "Transform: [AWS::Serverless-2016-10-31]\nResources: {}\n", "Transform"},
		{"Fn::Transform", `{"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"Fn::Transform": {"Name": "AWS::Include"}}}}}`, "Fn::Transform"},
		{"!Transform", "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties: !Transform {Name: M}\n", "Fn::Transform"},
		{"nested stack", "Resources:\n  C:\n    Type: AWS::CloudFormation::Stack\n    Properties: {TemplateURL: https://x/y}\n", "nested stack (C)"},
		{"serverless application", "Resources:\n  C:\n    Type: AWS::Serverless::Application\n", "nested stack"},
		{"dynamic reference", `{"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "{{resolve:ssm:/n}}"}}}}`, "dynamic reference"},
		{"dynamic reference, JSON escapes", `{"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "\u007b\u007bresolve:ssm:/n}}"}}}}`, "dynamic reference"},
		{"SSM parameter type", "Parameters:\n  P: {Type: 'AWS::SSM::Parameter::Value<List<String>>'}\nResources: {}\n", "parameter P"},
		{"alias", "Resources:\n  A: &q {Type: AWS::SQS::Queue}\n  B: *q\n", "aliases"},
		{"merge key", "Resources:\n  A: &q {Type: AWS::SQS::Queue}\n  B:\n    <<: *q\n", "aliases"},
		{"not a mapping", "[1, 2]", "could not be read"},
		{"not YAML", "{a: [", "could not be read"},
		{"empty", "", "could not be read"},
		{"too deep", strings.Repeat("[", 150) + strings.Repeat("]", 150), "could not be read"},
		{"too deep in a mapping", "Resources: " + strings.Repeat("[", 150) + strings.Repeat("]", 150), "too deeply"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := templateIneligible(tc.body)
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Errorf("templateIneligible = %q, want %q", got, tc.want)
			}
		})
	}
}

// FuzzTemplateIneligible: any body is judged without panicking, the same
// way twice, and one holding a dynamic reference is never eligible.
func FuzzTemplateIneligible(f *testing.F) {
	for _, s := range []string{
		`{"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}`,
		"Transform: AWS::Serverless-2016-10-31\nResources: {}\n",
		"Resources:\n  C:\n    Type: AWS::CloudFormation::Stack\n",
		"Resources:\n  A: &q {Type: AWS::SQS::Queue}\n  B: *q\n",
		`{"Resources": {"Q": {"Properties": {"N": "{{resolve:ssm:/n}}"}}}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		got := templateIneligible(body)
		if again := templateIneligible(body); again != got {
			t.Fatalf("judged %q then %q", got, again)
		}
		if strings.Contains(body, dynamicRef) && got == "" {
			t.Fatalf("eligible with a dynamic reference: %q", body)
		}
	})
}

// TestNoChangeRecordNotWritable: a record directory that cannot be written
// never fails a stack; it costs an UpdateStack next time and one warning
// per target.
func TestNoChangeRecordNotWritable(t *testing.T) {
	var logs bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})))
	defer slog.SetDefault(old)

	r := newNCRun(t, true)
	if err := os.WriteFile(r.dir, []byte("a file, not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	other := baseSpec()
	other.Name, other.FQN, other.Deps.Prepare = "db", "ns-db", r.spec.Deps.Prepare
	for _, s := range []*LaunchSpec{r.spec, other} {
		if o := r.p.Launch(context.Background(), s, func(engine.Status) {}); line(o.Status) != "complete (creating new stack)" {
			t.Fatalf("%s: %s", s.FQN, line(o.Status))
		}
	}
	if got, writes, _ := r.launch(t); got != "complete (updating existing stack)" || !slices.Equal(writes, []string{"UpdateStack"}) {
		t.Errorf("second launch: %s, writes %q; want an UpdateStack", got, writes)
	}
	if n := strings.Count(logs.String(), "deploy records not written"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, logs.String())
	}
}
