package builtin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/stacker-go/stacker/hooks"
	"github.com/stacker-go/stacker/internal/target/ec2query"
)

// PathEnsureKeypairExists is stacker's key pair hook.
const PathEnsureKeypairExists = "stacker.hooks.keypair.ensure_keypair_exists"

func init() {
	hooks.Register(PathEnsureKeypairExists, EnsureKeypairExists)
}

// ec2KeyPairAPI is the EC2 calls of the key pair hook (ec2query.Client).
type ec2KeyPairAPI interface {
	DescribeKeyPairs(ctx context.Context, in *ec2query.DescribeKeyPairsInput) (*ec2query.DescribeKeyPairsOutput, error)
	ImportKeyPair(ctx context.Context, in *ec2query.ImportKeyPairInput) (*ec2query.ImportKeyPairOutput, error)
	CreateKeyPair(ctx context.Context, in *ec2query.CreateKeyPairInput) (*ec2query.CreateKeyPairOutput, error)
	DeleteKeyPair(ctx context.Context, in *ec2query.DeleteKeyPairInput) (*ec2query.DeleteKeyPairOutput, error)
}

type ssmAPI interface {
	PutParameter(ctx context.Context, in *ssm.PutParameterInput, optFns ...func(*ssm.Options)) (*ssm.PutParameterOutput, error)
}

var (
	newEC2KeyPairs = func(cfg aws.Config) ec2KeyPairAPI { return ec2query.NewFromConfig(cfg) }
	newSSM         = func(cfg aws.Config) ssmAPI { return ssm.NewFromConfig(cfg) }
)

// keypairLine is stacker's KEYPAIR_LOG_MESSAGE.
func keypairLine(ui hooks.UI, name, fingerprint, status string) {
	ui.Infof("keypair: %s (%s) %s", name, fingerprint, status)
}

// EnsureKeypairExists is stacker.hooks.keypair.ensure_keypair_exists: when
// the EC2 key pair keypair does not exist it imports public_key_path (an
// OpenSSH RSA public key), or creates one and stores its private key in
// the SSM SecureString parameter ssm_parameter_name (encrypted with the
// KMS key ssm_key_id, else the account's default; the key pair is deleted
// again if the parameter cannot be written), or, with neither, asks on the
// terminal whether to import a public key file or create a key pair whose
// private key is written to <dir>/<keypair>.pem. It returns {status:
// exists|imported|created, key_name, fingerprint[, file_path]}, or false.
//
// Beyond stacker: relative paths resolve against the config's directory;
// the .pem file is written with mode 0600; without a terminal (and neither
// public_key_path nor ssm_parameter_name) the hook fails with an error
// saying which argument to set, where stacker failed with a warning.
func EnsureKeypairExists(ctx context.Context, in *hooks.Input) (any, error) {
	a := args(in.Args)
	if err := a.unknownArgs(PathEnsureKeypairExists, "keypair", "ssm_parameter_name", "ssm_key_id", "public_key_path", "profile", "region"); err != nil {
		return nil, err
	}
	name, err := a.str("keypair")
	if err != nil {
		return nil, err
	}
	if name == "" {
		return nil, fmt.Errorf("%s needs the argument keypair (the key pair's name)", PathEnsureKeypairExists)
	}
	param, err := a.str("ssm_parameter_name")
	if err != nil {
		return nil, err
	}
	kmsKey, err := a.str("ssm_key_id")
	if err != nil {
		return nil, err
	}
	pubPath, err := a.str("public_key_path")
	if err != nil {
		return nil, err
	}
	if pubPath != "" && param != "" {
		in.UI.Infof("public_key_path and ssm_parameter_name cannot be specified at the same time")
		return false, nil
	}
	cfg, err := in.AWS(ctx)
	if err != nil {
		return nil, err
	}
	ec2 := newEC2KeyPairs(cfg)

	existing, err := ec2.DescribeKeyPairs(ctx, &ec2query.DescribeKeyPairsInput{})
	if err != nil {
		return nil, fmt.Errorf("describe key pairs: %w", err)
	}
	for _, kp := range existing.KeyPairs {
		if kp.KeyName == name {
			keypairLine(in.UI, kp.KeyName, kp.Fingerprint, "exists")
			return map[string]any{"status": "exists", "key_name": kp.KeyName, "fingerprint": kp.Fingerprint}, nil
		}
	}
	in.UI.Infof("keypair: %q not found", name)

	switch {
	case pubPath != "":
		return importKeyPair(ctx, in, ec2, name, pubPath)
	case param != "":
		return createKeyPairInSSM(ctx, in, ec2, newSSM(cfg), name, param, kmsKey)
	}
	if !in.UI.CanPrompt() {
		return nil, fmt.Errorf("%w: key pair %q does not exist and there is no terminal to ask whether to import or create it; "+
			"set public_key_path (import a public key) or ssm_parameter_name (create it and keep the private key in SSM)", hooks.ErrNoTerminal, name)
	}
	for {
		action, err := in.UI.Prompt(fmt.Sprintf("import or create keypair %q? (import/create/cancel) ", name))
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("asking about key pair %s: %w", name, err)
		}
		switch strings.ToLower(strings.TrimSpace(action)) {
		case "cancel":
		case "i", "import":
			path, err := in.UI.Prompt("path to keypair file: ")
			if err != nil && !errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("asking about key pair %s: %w", name, err)
			}
			if err == nil {
				return importKeyPair(ctx, in, ec2, name, strings.TrimSpace(path))
			}
		case "create":
			dir, err := in.UI.Prompt("directory to save keyfile: ")
			if err != nil && !errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("asking about key pair %s: %w", name, err)
			}
			if err == nil {
				return createKeyPairLocal(ctx, in, ec2, name, strings.TrimSpace(dir))
			}
		default:
			continue
		}
		break
	}
	in.UI.Infof("no action to find keypair, failing")
	return false, nil
}

// hookPath resolves a path argument: ~ expanded, relative to the config's
// directory.
func hookPath(in *hooks.Input, p string) string {
	p = expandHome(p)
	if !filepath.IsAbs(p) && in.Context != nil && in.Context.ConfigDir != "" {
		p = filepath.Join(in.Context.ConfigDir, p)
	}
	return p
}

func importKeyPair(ctx context.Context, in *hooks.Input, ec2 ec2KeyPairAPI, name, pubPath string) (any, error) {
	data, err := os.ReadFile(hookPath(in, pubPath))
	if err == nil && !bytes.HasPrefix(data, []byte("ssh-rsa")) {
		//lint:ignore ST1005 stacker 1.7's exact message
		err = errors.New("Bad public key data, must be an RSA key in SSH authorized keys format (beginning with `ssh-rsa`)")
	}
	if err != nil {
		in.UI.Infof("Failed to read public key file %s: %v", pubPath, err)
		return false, nil
	}
	out, err := ec2.ImportKeyPair(ctx, &ec2query.ImportKeyPairInput{KeyName: name, PublicKeyMaterial: bytes.TrimSpace(data)})
	if err != nil {
		return nil, fmt.Errorf("import key pair %s: %w", name, err)
	}
	keypairLine(in.UI, out.KeyName, out.Fingerprint, "imported")
	return map[string]any{"status": "imported", "key_name": out.KeyName, "fingerprint": out.Fingerprint}, nil
}

func createKeyPair(ctx context.Context, in *hooks.Input, ec2 ec2KeyPairAPI, name string) (*ec2query.CreateKeyPairOutput, error) {
	out, err := ec2.CreateKeyPair(ctx, &ec2query.CreateKeyPairInput{KeyName: name})
	if err != nil {
		return nil, fmt.Errorf("create key pair %s: %w", name, err)
	}
	keypairLine(in.UI, out.KeyName, out.Fingerprint, "created")
	return out, nil
}

func createKeyPairInSSM(ctx context.Context, in *hooks.Input, ec2 ec2KeyPairAPI, ps ssmAPI, name, param, kmsKey string) (any, error) {
	kp, err := createKeyPair(ctx, in, ec2, name)
	if err != nil {
		return nil, err
	}
	label := "default"
	put := &ssm.PutParameterInput{
		Name:        aws.String(param),
		Description: aws.String(fmt.Sprintf("SSH private key for KeyPair %q (generated by Stacker)", name)),
		Value:       aws.String(kp.KeyMaterial),
		Type:        ssmtypes.ParameterTypeSecureString,
		Overwrite:   aws.Bool(false),
	}
	if kmsKey != "" {
		label = kmsKey
		put.KeyId = aws.String(kmsKey)
	}
	in.UI.Infof("Storing generated key in SSM parameter %q using KMS key %q", param, label)
	if _, err := ps.PutParameter(ctx, put); err != nil {
		// The private key is lost with the parameter: delete the key pair.
		in.UI.Infof("Failed to store generated key in SSM, deleting created key pair as private key will be lost: %v", err)
		if _, derr := ec2.DeleteKeyPair(ctx, &ec2query.DeleteKeyPairInput{KeyName: name}); derr != nil {
			return nil, fmt.Errorf("delete key pair %s after failing to store its private key in SSM (%v): %w", name, err, derr)
		}
		return false, nil
	}
	return map[string]any{"status": "created", "key_name": kp.KeyName, "fingerprint": kp.Fingerprint}, nil
}

func createKeyPairLocal(ctx context.Context, in *hooks.Input, ec2 ec2KeyPairAPI, name, dir string) (any, error) {
	dir = hookPath(in, dir)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		in.UI.Infof("%q is not a valid directory", dir)
		return false, nil
	}
	file := name + ".pem"
	keyPath := filepath.Join(dir, file)
	// Opened (exclusively) before the key pair exists, to fail early.
	f, err := os.OpenFile(keyPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		in.UI.Infof("%q already exists in %q directory", file, dir)
		return false, nil
	}
	if err != nil {
		return nil, fmt.Errorf("key file for %s: %w", name, err)
	}
	kp, err := createKeyPair(ctx, in, ec2, name)
	if err != nil {
		f.Close()
		os.Remove(keyPath)
		return nil, err
	}
	if _, err := f.WriteString(kp.KeyMaterial); err != nil {
		f.Close()
		return nil, fmt.Errorf("write the private key of %s to %s: %w", name, keyPath, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write the private key of %s to %s: %w", name, keyPath, err)
	}
	return map[string]any{"status": "created", "key_name": kp.KeyName, "fingerprint": kp.Fingerprint, "file_path": keyPath}, nil
}
