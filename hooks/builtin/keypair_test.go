package builtin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go"
	"github.com/stacker-go/stacker/internal/target/ec2query"
)

// secretKey stands for a private key EC2 returns; it must never appear in
// a line, a prompt or a result.
const secretKey = "-----BEGIN RSA PRIVATE KEY-----\nSECRET\n-----END RSA PRIVATE KEY-----"

type fakeEC2Keys struct {
	pairs []ec2query.KeyPair
	calls []string
}

func (f *fakeEC2Keys) DescribeKeyPairs(context.Context, *ec2query.DescribeKeyPairsInput) (*ec2query.DescribeKeyPairsOutput, error) {
	f.calls = append(f.calls, "DescribeKeyPairs")
	return &ec2query.DescribeKeyPairsOutput{KeyPairs: f.pairs}, nil
}
func (f *fakeEC2Keys) ImportKeyPair(_ context.Context, in *ec2query.ImportKeyPairInput) (*ec2query.ImportKeyPairOutput, error) {
	f.calls = append(f.calls, fmt.Sprintf("ImportKeyPair %s %q", in.KeyName, in.PublicKeyMaterial))
	return &ec2query.ImportKeyPairOutput{KeyName: in.KeyName, Fingerprint: "aa:bb"}, nil
}
func (f *fakeEC2Keys) CreateKeyPair(_ context.Context, in *ec2query.CreateKeyPairInput) (*ec2query.CreateKeyPairOutput, error) {
	f.calls = append(f.calls, "CreateKeyPair "+in.KeyName)
	return &ec2query.CreateKeyPairOutput{KeyName: in.KeyName, Fingerprint: "cc:dd", KeyMaterial: secretKey}, nil
}
func (f *fakeEC2Keys) DeleteKeyPair(_ context.Context, in *ec2query.DeleteKeyPairInput) (*ec2query.DeleteKeyPairOutput, error) {
	f.calls = append(f.calls, "DeleteKeyPair "+in.KeyName)
	return &ec2query.DeleteKeyPairOutput{Return: true}, nil
}

type fakeSSM struct {
	fail  bool
	calls *[]string // shared with the EC2 fake: one log in call order
}

func (f *fakeSSM) PutParameter(_ context.Context, in *ssm.PutParameterInput, _ ...func(*ssm.Options)) (*ssm.PutParameterOutput, error) {
	secret := "value withheld"
	if aws.ToString(in.Value) != secretKey {
		secret = "WRONG VALUE"
	}
	*f.calls = append(*f.calls, fmt.Sprintf("PutParameter %s %s key=%s overwrite=%v %q (%s)", aws.ToString(in.Name), in.Type, aws.ToString(in.KeyId),
		aws.ToBool(in.Overwrite), aws.ToString(in.Description), secret))
	if f.fail {
		return nil, &smithy.GenericAPIError{Code: "ParameterAlreadyExists", Message: "The parameter already exists."}
	}
	return &ssm.PutParameterOutput{}, nil
}

// transcript is one hook run as a person would follow it: questions
// asked, lines printed, AWS calls made, the result or error.
func transcript(name string, ui *fakeUI, calls []string, got any, err error, dir string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "== %s\n", name)
	for _, q := range ui.asked {
		fmt.Fprintf(&b, "ask:  %s\n", q)
	}
	for _, l := range ui.lines {
		fmt.Fprintf(&b, "line: %s\n", l)
	}
	for _, c := range calls {
		fmt.Fprintf(&b, "call: %s\n", c)
	}
	if err != nil {
		fmt.Fprintf(&b, "error: %v\n", err)
	} else {
		res := fmt.Sprintf("%v", got)
		if m, ok := got.(map[string]any); ok {
			keys := make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, fmt.Sprintf("%s=%v", k, m[k]))
			}
			sort.Strings(keys)
			res = strings.Join(keys, " ")
		}
		fmt.Fprintf(&b, "result: %s\n", strings.ReplaceAll(res, dir, "DIR"))
	}
	return strings.ReplaceAll(b.String(), dir, "DIR")
}

func TestEnsureKeypairExists(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "id_rsa.pub"), []byte("ssh-rsa AAAAB3Nza me@host\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "id_ed.pub"), []byte("ssh-ed25519 AAAAC3 me@host\n"), 0o644)
	os.Mkdir(filepath.Join(dir, "keys"), 0o755)
	os.WriteFile(filepath.Join(dir, "keys", "taken.pem"), []byte("old"), 0o600)

	type tc struct {
		name     string
		args     map[string]any
		existing bool
		terminal bool
		answers  []string
		ssmFails bool
	}
	cases := []tc{
		{name: "exists", args: map[string]any{"keypair": "deploy"}, existing: true},
		{name: "import from public_key_path (relative to the config dir)", args: map[string]any{"keypair": "deploy", "public_key_path": "id_rsa.pub"}},
		{name: "import a non-RSA key", args: map[string]any{"keypair": "deploy", "public_key_path": "id_ed.pub"}},
		{name: "import a missing file", args: map[string]any{"keypair": "deploy", "public_key_path": "nope.pub"}},
		{name: "create into SSM with the default KMS key", args: map[string]any{"keypair": "deploy", "ssm_parameter_name": "/keys/deploy"}},
		{name: "create into SSM with a KMS key", args: map[string]any{"keypair": "deploy", "ssm_parameter_name": "/keys/deploy", "ssm_key_id": "alias/keys"}},
		{name: "SSM refuses: the key pair is deleted again", args: map[string]any{"keypair": "deploy", "ssm_parameter_name": "/keys/deploy"}, ssmFails: true},
		{name: "public_key_path and ssm_parameter_name together", args: map[string]any{"keypair": "deploy", "public_key_path": "x", "ssm_parameter_name": "y"}},
		{name: "no terminal", args: map[string]any{"keypair": "deploy"}},
		{name: "terminal: import", args: map[string]any{"keypair": "deploy"}, terminal: true, answers: []string{"what", "import", " id_rsa.pub "}},
		{name: "terminal: create into a directory", args: map[string]any{"keypair": "deploy"}, terminal: true, answers: []string{"create", "keys"}},
		{name: "terminal: create over an existing file", args: map[string]any{"keypair": "taken"}, terminal: true, answers: []string{"create", "keys"}},
		{name: "terminal: create into a missing directory", args: map[string]any{"keypair": "deploy"}, terminal: true, answers: []string{"create", "nowhere"}},
		{name: "terminal: cancel", args: map[string]any{"keypair": "deploy"}, terminal: true, answers: []string{"cancel"}},
		{name: "missing keypair argument", args: map[string]any{}},
		{name: "unknown argument", args: map[string]any{"keypair": "deploy", "public_key": "x"}},
	}
	var all strings.Builder
	for _, c := range cases {
		e := &fakeEC2Keys{}
		if c.existing {
			e.pairs = []ec2query.KeyPair{{KeyName: "other", Fingerprint: "00"}, {KeyName: "deploy", Fingerprint: "11:22"}}
		}
		s := &fakeSSM{fail: c.ssmFails, calls: &e.calls}
		oe, os_ := newEC2KeyPairs, newSSM
		newEC2KeyPairs = func(aws.Config) ec2KeyPairAPI { return e }
		newSSM = func(aws.Config) ssmAPI { return s }
		ui := &fakeUI{terminal: c.terminal, answers: c.answers}
		in := input(c.args, ui)
		in.Context.ConfigDir = dir
		got, err := EnsureKeypairExists(context.Background(), in)
		newEC2KeyPairs, newSSM = oe, os_
		out := transcript(c.name, ui, e.calls, got, err, dir)
		if strings.Contains(out, "SECRET") {
			t.Errorf("%s: the private key leaked:\n%s", c.name, out)
		}
		all.WriteString(out)
	}
	golden(t, "keypair", []byte(all.String()))

	b, err := os.ReadFile(filepath.Join(dir, "keys", "deploy.pem"))
	if err != nil || string(b) != secretKey {
		t.Errorf("the created key file: %q %v", b, err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "keys", "deploy.pem")); fi == nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode: %v", fi)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "keys", "taken.pem")); string(b) != "old" {
		t.Errorf("an existing key file was overwritten: %q", b)
	}
}

type fakeIAMCerts struct {
	exists bool
	getErr error
	calls  []string
}

func (f *fakeIAMCerts) GetServerCertificate(_ context.Context, in *iam.GetServerCertificateInput, _ ...func(*iam.Options)) (*iam.GetServerCertificateOutput, error) {
	f.calls = append(f.calls, "GetServerCertificate "+aws.ToString(in.ServerCertificateName))
	if f.getErr != nil {
		return nil, f.getErr
	}
	if !f.exists {
		return nil, &iamtypes.NoSuchEntityException{Message: aws.String("The Server Certificate with name web cannot be found.")}
	}
	return &iam.GetServerCertificateOutput{ServerCertificate: &iamtypes.ServerCertificate{
		ServerCertificateMetadata: &iamtypes.ServerCertificateMetadata{Arn: aws.String("arn:aws:iam::123456789012:server-certificate/web")},
	}}, nil
}

func (f *fakeIAMCerts) UploadServerCertificate(_ context.Context, in *iam.UploadServerCertificateInput, _ ...func(*iam.Options)) (*iam.UploadServerCertificateOutput, error) {
	key := "no key"
	if aws.ToString(in.PrivateKey) == "KEY\n" {
		key = "key withheld"
	}
	f.calls = append(f.calls, fmt.Sprintf("UploadServerCertificate %s body=%q chain=%q (%s)", aws.ToString(in.ServerCertificateName),
		aws.ToString(in.CertificateBody), aws.ToString(in.CertificateChain), key))
	return &iam.UploadServerCertificateOutput{ServerCertificateMetadata: &iamtypes.ServerCertificateMetadata{
		Arn: aws.String("arn:aws:iam::123456789012:server-certificate/" + aws.ToString(in.ServerCertificateName)),
	}}, nil
}

func TestEnsureServerCertExists(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "cert.pem"), []byte("CERT\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "key.pem"), []byte("KEY\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "chain.pem"), []byte("CHAIN\n"), 0o644)
	all := map[string]any{"cert_name": "web", "prompt": false, "path_to_certificate": "cert.pem", "path_to_private_key": "key.pem", "path_to_chain": "chain.pem"}
	with := func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	cases := []struct {
		name     string
		args     map[string]any
		exists   bool
		getErr   error
		terminal bool
		answers  []string
	}{
		{name: "exists", args: with("cert_name", "web"), exists: true},
		{name: "prompt false with every path", args: all},
		{name: "prompt false without a chain, no terminal", args: with("cert_name", "web", "prompt", false, "path_to_certificate", "cert.pem", "path_to_private_key", "key.pem")},
		{name: "prompt false without a key, no terminal", args: with("cert_name", "web", "prompt", false, "path_to_certificate", "cert.pem")},
		{name: "asks, and asks for the paths", args: with("cert_name", "web"), terminal: true, answers: []string{"yes", "cert.pem", "key.pem", "skip"}},
		{name: "answer no", args: with("cert_name", "web"), terminal: true, answers: []string{"no"}},
		{name: "no terminal to ask", args: with("cert_name", "web")},
		{name: "another IAM error is not 'not found'", args: all, getErr: &smithy.GenericAPIError{Code: "AccessDenied", Message: "not allowed"}},
		{name: "missing cert_name", args: with("prompt", false)},
	}
	var out strings.Builder
	for _, c := range cases {
		f := &fakeIAMCerts{exists: c.exists, getErr: c.getErr}
		old := newIAMCerts
		newIAMCerts = func(aws.Config) iamCertAPI { return f }
		ui := &fakeUI{terminal: c.terminal, answers: c.answers}
		in := input(c.args, ui)
		in.Context.ConfigDir = dir
		got, err := EnsureServerCertExists(context.Background(), in)
		newIAMCerts = old
		if err != nil && c.getErr != nil && !errors.As(err, new(smithy.APIError)) {
			t.Errorf("%s: the IAM error is not wrapped: %v", c.name, err)
		}
		out.WriteString(transcript(c.name, ui, f.calls, got, err, dir))
	}
	golden(t, "servercert", []byte(out.String()))
}
