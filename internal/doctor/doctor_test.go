package doctor

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stacker-go/stacker/internal/target"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func TestRenderShowsOneRowPerTargetWithTheFix(t *testing.T) {
	rows := []Row{
		{Target: target.Key{Profile: "master"}, Region: "us-east-1", Chain: "env→master", Account: "111111111111",
			Creds: OK, AcctOK: OK, Bucket: OK, CFN: OK, Stacks: []string{"(template bucket)", "stacker-bucket"}},
		{Target: target.Key{Profile: "prod", Region: "eu-west-1"}, Region: "eu-west-1", Chain: "env→mfa→master→prod", Account: "222222222222",
			Creds: OK, AcctOK: Fail, Bucket: OK, CFN: OK, Stacks: []string{"prod/vpc"},
			Fix: `account mismatch: stack prod/vpc must deploy to account 444444444444 but profile "prod" resolves to 222222222222: fix the profile's role_arn or the expected id`},
		{Target: target.Key{Profile: "stage"}, Chain: "", Creds: Fail, AcctOK: Skip, Bucket: Skip, CFN: Skip, Stacks: []string{"stage/vpc"},
			Fix:    "run on a terminal to be asked for the code, or pass --mfa-code CODE (or STACKER_MFA_CODE=CODE) for arn:aws:iam::111111111111:mfa/admin",
			Detail: "profile master needs an MFA code for arn:aws:iam::111111111111:mfa/admin and there is no terminal to prompt on"},
	}
	var buf bytes.Buffer
	Render(&buf, rows)
	golden := filepath.Join("testdata", "render.golden")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("render differs from %s:\n%s", golden, buf.String())
	}
	if !rows[1].Failed() || !rows[2].Failed() || rows[0].Failed() {
		t.Error("Failed() is wrong")
	}
}

func TestCredentialsFixNamesTheWayOut(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{&target.MFACodeRequiredError{Profile: "master", Serial: "arn:aws:iam::1:mfa/a"}, "--mfa-code"},
		{errString("profile nope not found in /x/config or /x/credentials"), "[profile prod]"},
		{&target.UnknownProfileError{Profile: "nope", Files: []string{"/x/config"}}, "[profile prod]"},
		{&target.CredentialError{Targets: []target.Key{{}}, Err: &target.NoCredentialsError{Files: []string{"/x/config"}}}, "--profile NAME (or export AWS_PROFILE=NAME)"},
		{errString("profile master: credential_source = Environment, but AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set"), "export AWS_ACCESS_KEY_ID"},
	} {
		if got := CredentialsFix("prod", c.err); !bytes.Contains([]byte(got), []byte(c.want)) {
			t.Errorf("fix for %q = %q, want it to mention %q", c.err, got, c.want)
		}
	}
}

type errString string

func (e errString) Error() string { return string(e) }
