package target

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"
)

// CredentialError is one cause of credential failure and every target it
// stops. Targets that share a profile, or chain through the same role hop,
// share that hop's answer: the same AccessDenied (one request id) is one
// CredentialError naming all of them, not one error per target.
type CredentialError struct {
	// Targets are the resolved keys that fail with Err, sorted.
	Targets []Key
	// Profile is the profile of the first target (for the fix; "default"
	// when none is named).
	Profile string
	// Err is the cause, without the per-target prefix.
	Err error
}

func (e *CredentialError) Error() string {
	names := make([]string, len(e.Targets))
	for i, k := range e.Targets {
		names[i] = k.String()
	}
	what := "target "
	if len(names) > 1 {
		what = "targets "
	}
	return what + strings.Join(names, ", ") + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *CredentialError) Unwrap() error { return e.Err }

// NoCredentialsError means nothing anywhere gave credentials: no profile
// is named (--profile, AWS_PROFILE, AWS_DEFAULT_PROFILE or the stack's
// profile), the environment holds no access keys, the shared files have
// no default profile and no instance or container role answered. The
// SDK's own answer (typically the EC2 metadata service's 403 or timeout)
// is Detail, logged at debug level only: it is noise to someone who
// forgot --profile.
type NoCredentialsError struct {
	// Files are the shared config and credentials files that were read.
	Files []string
	// Detail is the SDK default chain's error.
	Detail error
}

func (e *NoCredentialsError) Error() string {
	return fmt.Sprintf("no AWS credentials found: no profile is named (--profile, %s or the stack's profile:), the environment has no access keys, %s have no [default] profile, and no instance or container role answered",
		EnvProfile, strings.Join(e.Files, " and "))
}

// UnknownProfileError means a named profile is in none of the shared
// files.
type UnknownProfileError struct {
	Profile string
	Files   []string
}

func (e *UnknownProfileError) Error() string {
	return fmt.Sprintf("profile %s not found in %s", e.Profile, strings.Join(e.Files, " or "))
}

// ProfileFiles are the shared config and credentials files the factory
// reads profiles from (AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE, else
// ~/.aws/config and ~/.aws/credentials).
func (f *Factory) ProfileFiles() []string {
	return append(f.configFiles(), f.credentialsFiles()...)
}

// KnownProfiles lists, sorted and without repeats, the profiles defined in
// the shared config and credentials files. A missing file holds none; a
// file that cannot be read is an error.
func (f *Factory) KnownProfiles() ([]string, error) {
	var names []string
	for _, p := range f.configFiles() {
		b, err := os.ReadFile(p)
		if err != nil && !os.IsNotExist(err) {
			return nil, fmt.Errorf("read AWS config file: %w", err)
		}
		names = append(names, ProfileNames(b, true)...)
	}
	for _, p := range f.credentialsFiles() {
		b, err := os.ReadFile(p)
		if err != nil && !os.IsNotExist(err) {
			return nil, fmt.Errorf("read AWS credentials file: %w", err)
		}
		names = append(names, ProfileNames(b, false)...)
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// ProfileNames returns the profiles an AWS shared file defines, in order.
// In the config file (configFile) a profile is a "[profile NAME]" section,
// or "[default]"; "[sso-session ...]" and "[services ...]" sections are not
// profiles. In the credentials file every "[NAME]" section is one.
func ProfileNames(data []byte, configFile bool) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "[") {
			continue
		}
		end := strings.IndexByte(line, ']')
		if end < 0 {
			continue
		}
		if rest := strings.TrimSpace(line[end+1:]); rest != "" && rest[0] != '#' && rest[0] != ';' {
			continue
		}
		section := strings.TrimSpace(line[1:end])
		if section == "" {
			continue
		}
		name := section
		if configFile {
			kind, n, ok := strings.Cut(section, " ")
			switch {
			case !ok && section == "default":
				name = "default"
			case ok && kind == "profile":
				name = strings.TrimSpace(n)
			default:
				continue
			}
		}
		if name == "" || strings.ContainsAny(name, " \t") {
			continue
		}
		out = append(out, name)
	}
	return out
}

// ProfileOrigin says where the profile of a target comes from: "stack" (the
// key's own profile, from the config), "--profile", EnvProfile or
// EnvDefaultProfile; "" with an empty name when none is named (the SDK's
// default chain).
func (f *Factory) ProfileOrigin(k Key) (name, origin string) {
	switch {
	case k.Profile != "":
		return k.Profile, "stack"
	case f.opts.DefaultProfile != "":
		return f.opts.DefaultProfile, "--profile"
	case f.getenv(EnvProfile) != "":
		return f.getenv(EnvProfile), EnvProfile
	case f.getenv(EnvDefaultProfile) != "":
		return f.getenv(EnvDefaultProfile), EnvDefaultProfile
	}
	return "", ""
}
