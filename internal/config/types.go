// Package config owns the stacker configuration: reading the file (or stdin),
// applying the environment, decoding yaml nodes into typed structs with
// file:line:col positions, and validation. It knows nothing of AWS.
package config

import "github.com/stacker-go/stacker/internal/lookup"

// Pos is a position in a source file, printed as file:line:col.
type Pos struct {
	File string
	Line int
	Col  int
}

// Config is a loaded, validated stacker configuration.
type Config struct {
	// Path is the config file path as given ("-" for stdin); Dir is the
	// directory relative paths (template_path, file:// lookups,
	// stack_policy_path) resolve against: the config file's directory
	// (the CWD for stdin).
	Path string
	Dir  string

	Namespace          string
	NamespaceDelimiter string // default "-"
	// StackerBucket is nil when unset (default "stacker-<namespace>" when the
	// namespace is non-empty); a pointer to "" means inline templates.
	StackerBucket       *string
	StackerBucketRegion string
	StackerCacheDir     string
	SysPath             string
	ServiceRole         string
	// Tags is nil when the key is absent (default {stacker_namespace: ns});
	// an empty non-nil map disables the default tag.
	Tags           map[string]string
	TemplateIndent int // default 4
	Mappings       map[string]map[string]map[string]any
	Lookups        map[string]string
	LogFormats     map[string]string
	// PackageSources are fetched into the cache directory when Python code
	// first needs them (internal/pkgsource); nil when the key is absent.
	PackageSources *PackageSources
	// Python is the python: key: the interpreter for Python blueprints,
	// hooks and lookups ("" = STACKER_PYTHON, else python3 on PATH).
	Python    string
	PythonPos Pos
	// Accounts maps a profile name to the 12-digit account id it must resolve to.
	Accounts map[string]string

	Targets     []Target
	Stacks      []*Stack
	PreBuild    []Hook
	PostBuild   []Hook
	PreDestroy  []Hook
	PostDestroy []Hook

	// Environment is the merged environment (file plus -e overrides).
	Environment map[string]any
	// Warnings are non-fatal problems (unknown top-level keys, deprecations),
	// each already formatted with its position.
	Warnings []string

	// index maps stack names to positions in Stacks (set by Load).
	index map[string]int
	// lookups is the config's lookup registry, built once by Load (see
	// Registry).
	lookups *lookup.Registry
}

// PackageSources is the package_sources key (stacker §2.5): directories
// made importable for Python class_path, hook and lookup code.
type PackageSources struct {
	Local []LocalSource
	Git   []GitSource
	S3    []S3Source
	Pos   Pos
}

// LocalSource is a package_sources.local entry.
type LocalSource struct {
	Source  string // a directory, relative to the config's directory
	Paths   []string
	Configs []string
	Pos     Pos
}

// GitSource is a package_sources.git entry. At most one of Tag, Branch and
// Commit is set.
type GitSource struct {
	URI                 string
	Tag, Branch, Commit string
	Paths               []string
	Configs             []string
	Pos                 Pos
}

// S3Source is a package_sources.s3 entry (an archive: .tar.gz, .tar or .zip).
type S3Source struct {
	Bucket, Key   string
	UseLatest     bool // default true
	RequesterPays bool
	Paths         []string
	Configs       []string
	Pos           Pos
}

// Target is a virtual graph node.
type Target struct {
	Name       string
	Requires   []string
	RequiredBy []string
	Pos        Pos
}

// Hook is a pre/post build/destroy hook declaration.
type Hook struct {
	Path     string
	Required bool // default true
	Enabled  bool // default true
	DataKey  string
	Args     map[string]any
	// ArgPos gives the position of each args key (as ProfilePos for a
	// stack's profile:), so a bad profile or region arg is reported there.
	ArgPos map[string]Pos
	Pos    Pos
}

// Stack is one stack declaration.
type Stack struct {
	Name         string
	StackName    string // CloudFormation name before the namespace prefix; defaults to Name
	ClassPath    string
	TemplatePath string
	Description  string
	// Variables hold decoded values: string, bool, int, float64, []any,
	// map[string]any. Strings may contain ${...} lookups, resolved later.
	Variables map[string]any
	// VariablePos gives the position of each variable's value.
	VariablePos map[string]Pos

	Requires           []string
	RequiredBy         []string
	Locked             bool
	Enabled            bool // default true
	Protected          bool
	Profile            string
	Region             string
	StackPolicyPath    string
	Tags               map[string]string
	InProgressBehavior string // "" or "wait"
	NotificationARNs   []string

	// Keys stacker 1.7 lacks.
	TerminationProtection bool
	ServiceRole           string // overrides Config.ServiceRole
	AccountID             string // the account this stack must land in

	Pos Pos
	// ProfilePos is where the stack's profile: key is (zero without one).
	ProfilePos Pos
}
