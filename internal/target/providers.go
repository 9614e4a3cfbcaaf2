package target

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stacker-go/stacker/internal/ui"
)

// stsAPI lists the STS calls the providers make.
type stsAPI interface {
	AssumeRole(ctx context.Context, in *sts.AssumeRoleInput, optFns ...func(*sts.Options)) (*sts.AssumeRoleOutput, error)
	GetSessionToken(ctx context.Context, in *sts.GetSessionTokenInput, optFns ...func(*sts.Options)) (*sts.GetSessionTokenOutput, error)
}

type stsClientFunc func(ctx context.Context, source aws.CredentialsProvider) (stsAPI, error)

// sessionTokenProvider is the MFA hop: sts:GetSessionToken with the MFA
// device and a code (one prompt per serial per run).
type sessionTokenProvider struct {
	profile string // the source profile, for messages
	serial  string
	source  aws.CredentialsProvider
	client  stsClientFunc
	codes   *mfaCodes
	log     *slog.Logger
}

func (p *sessionTokenProvider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	// Resolve the source first so its errors reach the user unwrapped by
	// the SDK's "get identity: get credentials: ..." chain.
	if _, err := p.source.Retrieve(ctx); err != nil {
		return aws.Credentials{}, cleanErr(err)
	}
	code, err := p.codes.get(ctx, p.profile, p.serial)
	if err != nil {
		return aws.Credentials{}, err
	}
	c, err := p.client(ctx, p.source)
	if err != nil {
		return aws.Credentials{}, err
	}
	out, err := c.GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: aws.String(p.serial), TokenCode: aws.String(code)})
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("profile %s: get MFA session token with %s: %w", p.profile, p.serial, err)
	}
	if out.Credentials == nil {
		return aws.Credentials{}, fmt.Errorf("profile %s: get MFA session token: no credentials in the answer", p.profile)
	}
	p.log.Debug(fmt.Sprintf("profile %s: MFA session from GetSessionToken with %s", p.profile, p.serial))
	return aws.Credentials{
		AccessKeyID: aws.ToString(out.Credentials.AccessKeyId), SecretAccessKey: aws.ToString(out.Credentials.SecretAccessKey),
		SessionToken: aws.ToString(out.Credentials.SessionToken), CanExpire: true,
		Expires: aws.ToTime(out.Credentials.Expiration), Source: "stacker:GetSessionToken",
	}, nil
}

// assumeRoleProvider is a role hop: sts:AssumeRole with the previous hop's
// credentials (with SerialNumber and TokenCode only when the profile's
// mfa_serial is not covered by an MFA session).
type assumeRoleProvider struct {
	profile, roleARN, sessionName, externalID string
	duration                                  time.Duration
	serial                                    string // pass SerialNumber/TokenCode
	mfaSession                                bool   // the chain carries an MFA session (for the log line)
	source                                    aws.CredentialsProvider
	client                                    stsClientFunc
	codes                                     *mfaCodes
	log                                       *slog.Logger
}

func (p *assumeRoleProvider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	in := &sts.AssumeRoleInput{RoleArn: aws.String(p.roleARN), RoleSessionName: aws.String(p.sessionName)}
	if p.sessionName == "" {
		in.RoleSessionName = aws.String(fmt.Sprintf("stacker-%d", time.Now().Unix()))
	}
	if p.externalID != "" {
		in.ExternalId = aws.String(p.externalID)
	}
	if p.duration > 0 {
		in.DurationSeconds = aws.Int32(int32(p.duration / time.Second))
	}
	if _, err := p.source.Retrieve(ctx); err != nil {
		return aws.Credentials{}, cleanErr(err)
	}
	how := ""
	if p.serial != "" {
		code, err := p.codes.get(ctx, p.profile, p.serial)
		if err != nil {
			return aws.Credentials{}, err
		}
		in.SerialNumber, in.TokenCode = aws.String(p.serial), aws.String(code)
		how = " (MFA " + p.serial + ")"
	} else if p.mfaSession {
		how = " (MFA session reused)"
	}
	c, err := p.client(ctx, p.source)
	if err != nil {
		return aws.Credentials{}, err
	}
	out, err := c.AssumeRole(ctx, in)
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("profile %s: assume role %s: %w", p.profile, p.roleARN, err)
	}
	if out.Credentials == nil {
		return aws.Credentials{}, fmt.Errorf("profile %s: assume role %s: no credentials in the answer", p.profile, p.roleARN)
	}
	p.log.Debug(fmt.Sprintf("profile %s: assume role %s%s", p.profile, p.roleARN, how))
	creds := aws.Credentials{
		AccessKeyID: aws.ToString(out.Credentials.AccessKeyId), SecretAccessKey: aws.ToString(out.Credentials.SecretAccessKey),
		SessionToken: aws.ToString(out.Credentials.SessionToken), CanExpire: true,
		Expires: aws.ToTime(out.Credentials.Expiration), Source: "stacker:AssumeRole",
	}
	if out.AssumedRoleUser != nil {
		if a, err := arn.Parse(aws.ToString(out.AssumedRoleUser.Arn)); err == nil {
			creds.AccountID = a.AccountID
		}
	}
	return creds, nil
}

// MFACodeRequiredError is returned when a chain needs an MFA code and there
// is neither a terminal to prompt on nor a code given.
type MFACodeRequiredError struct {
	Profile string
	Serial  string
}

func (e *MFACodeRequiredError) Error() string {
	return fmt.Sprintf("profile %s needs an MFA code for %s and there is no terminal to prompt on: pass --mfa-code CODE or set %s=CODE",
		e.Profile, e.Serial, EnvMFACode)
}

// mfaCodes obtains MFA codes: at most one per serial per run, one prompt at
// a time (the console lock pauses status output while a prompt is open).
type mfaCodes struct {
	fixed   string
	console *ui.Console
	prompt  func(ctx context.Context, profile, serial string) (string, error)

	// got holds one answer per serial, a failed one included: every chain
	// needing that serial waits for the one prompt and shares its outcome.
	got memo[string, string]
	// promptMu serializes prompts for different serials.
	promptMu sync.Mutex
}

func (m *mfaCodes) get(ctx context.Context, profile, serial string) (string, error) {
	if m.fixed != "" {
		return m.fixed, nil
	}
	return m.got.get(serial, func() (string, error) {
		m.promptMu.Lock()
		defer m.promptMu.Unlock()
		return m.ask(ctx, profile, serial)
	})
}

func (m *mfaCodes) ask(ctx context.Context, profile, serial string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	var code string
	var err error
	switch {
	case m.prompt != nil:
		code, err = m.prompt(ctx, profile, serial)
	case m.console != nil:
		code, err = m.console.Prompt(fmt.Sprintf("Enter MFA code for %s (profile %s): ", serial, profile), true, false)
	default:
		err = ui.ErrNoTerminal
	}
	if errors.Is(err, ui.ErrNoTerminal) {
		return "", &MFACodeRequiredError{Profile: profile, Serial: serial}
	}
	if err != nil {
		return "", fmt.Errorf("profile %s: read MFA code for %s: %w", profile, serial, err)
	}
	code = strings.TrimSpace(code)
	if code == "" {
		return "", fmt.Errorf("profile %s: empty MFA code for %s", profile, serial)
	}
	return code, nil
}
