package builtin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/stacker-go/stacker/hooks"
)

// PathEnsureServerCertExists is stacker's IAM server certificate hook.
const PathEnsureServerCertExists = "stacker.hooks.iam.ensure_server_cert_exists"

func init() {
	hooks.Register(PathEnsureServerCertExists, EnsureServerCertExists)
}

type iamCertAPI interface {
	GetServerCertificate(ctx context.Context, in *iam.GetServerCertificateInput, optFns ...func(*iam.Options)) (*iam.GetServerCertificateOutput, error)
	UploadServerCertificate(ctx context.Context, in *iam.UploadServerCertificateInput, optFns ...func(*iam.Options)) (*iam.UploadServerCertificateOutput, error)
}

var newIAMCerts = func(cfg aws.Config) iamCertAPI { return iam.NewFromConfig(cfg) }

// certFiles are the files ensure_server_cert_exists uploads, in the order
// stacker asks for them.
var certFiles = []struct{ kind, arg string }{
	{"certificate", "path_to_certificate"},
	{"private_key", "path_to_private_key"},
	{"chain", "path_to_chain"},
}

// EnsureServerCertExists is stacker.hooks.iam.ensure_server_cert_exists:
// GetServerCertificate cert_name; when it does not exist, ask `Certificate
// '<n>' wasn't found. Upload it now? (yes/no) ` (unless prompt is false;
// any answer but "yes" fails the hook), ask `Path to <certificate|
// private_key|chain> (skip): ` for each path_to_* argument not given, and
// UploadServerCertificate. Returns {status: exists|uploaded, cert_name,
// cert_arn}.
//
// Beyond stacker: only NoSuchEntity means "not found" (stacker took any
// error for it); relative paths resolve against the config's directory;
// without a terminal the hook fails with an error naming what to set
// instead of blocking on stdin, except that a missing path_to_chain is
// skipped when the other two are given (the chain is optional); a missing
// certificate or private key is an error before any upload.
func EnsureServerCertExists(ctx context.Context, in *hooks.Input) (any, error) {
	a := args(in.Args)
	if err := a.unknownArgs(PathEnsureServerCertExists, "cert_name", "prompt", "path_to_certificate", "path_to_private_key", "path_to_chain", "profile", "region"); err != nil {
		return nil, err
	}
	name, err := a.str("cert_name")
	if err != nil {
		return nil, err
	}
	if name == "" {
		return nil, fmt.Errorf("%s needs the argument cert_name", PathEnsureServerCertExists)
	}
	prompt := true
	if a.has("prompt") {
		prompt = a.truthy("prompt")
	}
	cfg, err := in.AWS(ctx)
	if err != nil {
		return nil, err
	}
	c := newIAMCerts(cfg)
	got, err := c.GetServerCertificate(ctx, &iam.GetServerCertificateInput{ServerCertificateName: aws.String(name)})
	if err == nil {
		arn := ""
		if got.ServerCertificate != nil && got.ServerCertificate.ServerCertificateMetadata != nil {
			arn = aws.ToString(got.ServerCertificate.ServerCertificateMetadata.Arn)
		}
		in.UI.Infof("certificate exists: %s (%s)", name, arn)
		return map[string]any{"status": "exists", "cert_name": name, "cert_arn": arn}, nil
	}
	var nse *iamtypes.NoSuchEntityException
	if !errors.As(err, &nse) {
		return nil, fmt.Errorf("get server certificate %s: %w", name, err)
	}

	if prompt {
		if !in.UI.CanPrompt() {
			return nil, fmt.Errorf("%w: server certificate %q was not found and there is no terminal to ask whether to upload it; "+
				"set prompt: false and path_to_certificate, path_to_private_key (and path_to_chain) to upload it without asking", hooks.ErrNoTerminal, name)
		}
		answer, err := in.UI.Prompt(fmt.Sprintf("Certificate '%s' wasn't found. Upload it now? (yes/no) ", name))
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("asking about server certificate %s: %w", name, err)
		}
		if strings.TrimSpace(answer) != "yes" {
			return false, nil
		}
	}

	paths := map[string]string{}
	for _, f := range certFiles {
		p, err := a.str(f.arg)
		if err != nil {
			return nil, err
		}
		if a.has(f.arg) {
			paths[f.kind] = p
			continue
		}
		if !in.UI.CanPrompt() {
			if f.kind == "chain" {
				continue
			}
			return nil, fmt.Errorf("%w: server certificate %q was not found and there is no terminal to ask for the %s file; set %s",
				hooks.ErrNoTerminal, name, f.kind, f.arg)
		}
		answer, err := in.UI.Prompt(fmt.Sprintf("Path to %s (skip): ", f.kind))
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("asking about server certificate %s: %w", name, err)
		}
		if answer = strings.TrimSpace(answer); answer == "skip" || answer == "" {
			continue
		}
		paths[f.kind] = answer
	}
	up := &iam.UploadServerCertificateInput{ServerCertificateName: aws.String(name)}
	for _, f := range certFiles {
		p := paths[f.kind]
		if p == "" {
			continue
		}
		b, err := os.ReadFile(hookPath(in, p))
		if err != nil {
			return nil, fmt.Errorf("server certificate %s: read the %s: %w", name, f.kind, err)
		}
		switch f.kind {
		case "certificate":
			up.CertificateBody = aws.String(string(b))
		case "private_key":
			up.PrivateKey = aws.String(string(b))
		case "chain":
			up.CertificateChain = aws.String(string(b))
		}
	}
	if up.CertificateBody == nil || up.PrivateKey == nil {
		return nil, fmt.Errorf("server certificate %s: uploading needs a certificate and a private key (path_to_certificate, path_to_private_key)", name)
	}
	out, err := c.UploadServerCertificate(ctx, up)
	if err != nil {
		return nil, fmt.Errorf("upload server certificate %s: %w", name, err)
	}
	arn := ""
	if out.ServerCertificateMetadata != nil {
		arn = aws.ToString(out.ServerCertificateMetadata.Arn)
	}
	in.UI.Infof("uploaded certificate: %s (%s)", name, arn)
	return map[string]any{"status": "uploaded", "cert_name": name, "cert_arn": arn}, nil
}
