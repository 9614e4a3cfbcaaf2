package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/stacker-go/stacker/internal/lookup"
	"github.com/stacker-go/stacker/internal/pybridge"
)

// LoadOptions say where a config comes from.
type LoadOptions struct {
	Path         string // "-" reads Stdin
	Stdin        io.Reader
	EnvFile      string   // "" = empty environment
	EnvOverrides []string // raw KEY=VALUE strings from -e
}

// Error is a config problem at a position.
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string {
	if e.Pos.File == "" {
		return e.Msg
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.Pos.File, e.Pos.Line, e.Pos.Col, e.Msg)
}

// Errors are several config problems, sorted by position; Error() prints
// one per line.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find each *Error.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// StdinName is the file name positions use for a config read from stdin.
const StdinName = "<stdin>"

// Load reads, substitutes, decodes and validates a config. Errors are an
// *Error or, when there are several, Errors.
func Load(opts LoadOptions) (*Config, error) {
	env := environment{}
	if opts.EnvFile != "" {
		var err error
		if env, err = readEnvFile(opts.EnvFile); err != nil {
			return nil, err
		}
	}
	if err := applyOverrides(env, opts.EnvOverrides); err != nil {
		return nil, err
	}
	var (
		data      []byte
		err       error
		file, dir string
	)
	switch opts.Path {
	case "":
		return nil, &Error{Msg: "no config file given"}
	case "-":
		in := opts.Stdin
		if in == nil {
			in = os.Stdin
		}
		if data, err = io.ReadAll(in); err != nil {
			return nil, &Error{Msg: fmt.Sprintf("read config from stdin: %v", err)}
		}
		file = StdinName
		if dir, err = os.Getwd(); err != nil {
			return nil, &Error{Msg: fmt.Sprintf("find the current directory: %v", err)}
		}
	default:
		if data, err = os.ReadFile(opts.Path); err != nil {
			return nil, &Error{Msg: fmt.Sprintf("read config: %v", err)}
		}
		file = opts.Path
		if dir, err = filepath.Abs(filepath.Dir(opts.Path)); err != nil {
			return nil, &Error{Msg: fmt.Sprintf("config directory: %v", err)}
		}
	}
	cfg, err := parse(file, dir, data, env)
	if err != nil {
		return nil, err
	}
	cfg.Path = opts.Path
	return cfg, nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError turns a yaml.v3 parse error into a positioned *Error. yaml.v3
// gives only a line, and for parser errors it is the line where the
// enclosing block starts; problemLine narrows it down to the first line
// at which the document stops parsing. The column is that line's first
// non-blank character.
func yamlError(file string, data []byte, err error) error {
	msg := err.Error()
	line, col := 1, 1
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
		lines := bytes.SplitAfter(data, []byte("\n"))
		line = problemLine(lines, line)
		if line >= 1 && line <= len(lines) {
			l := bytes.TrimRight(lines[line-1], "\r\n")
			col = len(l) - len(bytes.TrimLeft(l, " \t")) + 1
		}
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	return &Error{Pos: Pos{File: file, Line: line, Col: col}, Msg: "invalid YAML: " + msg}
}

// problemLine returns the smallest k >= from such that the first k lines
// no longer parse (binary search; it assumes that once a prefix fails,
// longer ones do too, which holds for the block YAML configs use).
func problemLine(lines [][]byte, from int) int {
	fails := func(k int) bool {
		var n yaml.Node
		return yaml.Unmarshal(bytes.Join(lines[:k], nil), &n) != nil
	}
	if from < 1 || from > len(lines) {
		return from
	}
	lo, hi := from, len(lines)
	if !fails(hi) {
		return from
	}
	for lo < hi {
		mid := (lo + hi) / 2
		if fails(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// parse does everything Load does after reading.
func parse(file, dir string, data []byte, env environment) (cfg *Config, err error) {
	defer func() {
		// Never panic: a bug in decoding must surface as an error.
		if r := recover(); r != nil {
			cfg, err = nil, &Error{Pos: Pos{File: file, Line: 1, Col: 1}, Msg: fmt.Sprintf("internal error decoding config: %v", r)}
		}
	}()
	if err := checkUTF8(file, data); err != nil {
		return nil, err
	}
	var (
		doc   *yaml.Node
		warns []string
	)
	if env.allSimple() && !bytes.ContainsAny(data, string([]rune{markDollar, markMissing, markEnd})) && !env.hasMarks() {
		doc, warns, err = parseText(file, data, env)
	} else {
		doc, warns, err = parseNodes(file, data, env)
	}
	if err != nil {
		return nil, err
	}
	root := doc.Content[0]
	d := &decoder{file: file, budget: maxValueNodes}
	cfg = &Config{Dir: dir, Environment: env.plain()}
	d.config(cfg, root)
	if err := d.errs.err(); err != nil {
		return nil, err
	}
	cfg.Warnings = append(warns, d.warns...)
	return cfg, nil
}

// readDoc parses one YAML document holding a mapping. Errors are
// positioned in data.
func readDoc(file string, data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{Pos: Pos{File: file, Line: 1, Col: 1}, Msg: "config is empty (it needs at least a namespace)"}
		}
		return nil, yamlError(file, data, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &Error{Pos: Pos{File: file, Line: extra.Line, Col: extra.Column}, Msg: "config holds more than one YAML document"}
	} else if !errors.Is(err, io.EOF) {
		return nil, yamlError(file, data, err)
	}
	if len(doc.Content) == 0 || isNull(doc.Content[0]) {
		return nil, &Error{Pos: Pos{File: file, Line: 1, Col: 1}, Msg: "config is empty (it needs at least a namespace)"}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, &Error{Pos: Pos{File: file, Line: root.Line, Col: root.Column},
			Msg: fmt.Sprintf("config must be a mapping of keys (namespace, stacks...), not a %s", kindName(root))}
	}
	return &doc, nil
}

// parseNodes parses data and substitutes env into its scalars (a YAML
// environment, whose values keep their types).
func parseNodes(file string, data []byte, env environment) (*yaml.Node, []string, error) {
	doc, err := readDoc(file, data)
	if err != nil {
		return nil, nil, err
	}
	var errs errorList
	uc := &unterminatedChecker{errs: &errs, pos: func(n *yaml.Node, off int) Pos { return scalarPos(file, n, off) }}
	uc.root(doc.Content[0])
	(&substituter{env: env, file: file, errs: &errs}).walk(doc, false)
	if err := errs.err(); err != nil {
		return nil, nil, err
	}
	return doc, uc.warns, nil
}

// parseText substitutes a simple environment into the raw text, then
// parses it (see textsubst.go). A config that does not parse after text
// substitution but does with node substitution (a value such as "a: b"
// that YAML would read as structure) keeps working as it did.
func parseText(file string, data []byte, env environment) (*yaml.Node, []string, error) {
	ts := substituteText(data, env)
	doc, err := readDoc(file, ts.out)
	if err != nil {
		if d2, w2, err2 := parseNodes(file, data, env); err2 == nil {
			return d2, w2, nil
		}
		var pe *Error
		if errors.As(err, &pe) && pe.Pos.Line > 0 {
			pe.Pos.Line, pe.Pos.Col = ts.mapPos(pe.Pos.Line, pe.Pos.Col)
		}
		return nil, nil, err
	}
	var errs errorList
	ts.missingErrors(file, doc, &errs, map[*yaml.Node]bool{})
	uc := &unterminatedChecker{errs: &errs, pos: func(n *yaml.Node, off int) Pos {
		p := scalarPos(file, n, off)
		p.Line, p.Col = ts.mapPos(p.Line, p.Col)
		return p
	}}
	uc.root(doc.Content[0])
	if err := errs.err(); err != nil {
		return nil, nil, err
	}
	ts.mapNodes(doc, map[*yaml.Node]bool{})
	unescapeDollars(doc, map[*yaml.Node]bool{})
	return doc, uc.warns, nil
}

// checkUTF8 rejects text that is not UTF-8, at the first bad byte.
func checkUTF8(file string, data []byte) error {
	if utf8.Valid(data) {
		return nil
	}
	off := 0
	for off < len(data) {
		r, n := utf8.DecodeRune(data[off:])
		if r == utf8.RuneError && n <= 1 {
			break
		}
		off += n
	}
	line, col := posOf(data, lineStarts(data), off)
	return &Error{Pos: Pos{File: file, Line: line, Col: col}, Msg: fmt.Sprintf("invalid UTF-8 (byte 0x%02x at offset %d); the file must be UTF-8 text", data[off], off)}
}

// ---- names and defaults ------------------------------------------------

// baseFQN is the namespace as stacker uses it in names: dots become dashes,
// lower case.
func (c *Config) baseFQN() string {
	return strings.ToLower(strings.ReplaceAll(c.Namespace, ".", "-"))
}

// FQN returns the CloudFormation name for a stack name, as stacker's
// get_fqn: base + delimiter + name, where base is the namespace with "."
// replaced by "-" and lower-cased; an empty namespace gives the name
// itself, and a name that already starts with base+delimiter is kept.
func (c *Config) FQN(name string) string {
	base := c.baseFQN()
	if name != "" && strings.HasPrefix(name, base+c.NamespaceDelimiter) {
		return name
	}
	switch {
	case base == "":
		return name
	case name == "":
		return base
	}
	return base + c.NamespaceDelimiter + name
}

// Stack returns the stack with the given config name, or nil.
func (c *Config) Stack(name string) *Stack {
	if c.index != nil {
		if i, ok := c.index[name]; ok {
			return c.Stacks[i]
		}
		return nil
	}
	for _, s := range c.Stacks {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// CFNName returns the stack's CloudFormation name: the FQN of stack_name,
// or of name when stack_name is empty.
func (s *Stack) CFNName(c *Config) string {
	if s.StackName != "" {
		return c.FQN(s.StackName)
	}
	return c.FQN(s.Name)
}

// BucketName returns the template bucket: stacker_bucket when set (""
// means templates go inline, nothing is uploaded), else
// "stacker-<namespace as in FQN>", or "" when the namespace is empty.
func (c *Config) BucketName() string {
	if c.StackerBucket != nil {
		return *c.StackerBucket
	}
	if base := c.baseFQN(); base != "" {
		return "stacker-" + base
	}
	return ""
}

// StackTags returns the tags for a stack: the global tags (or, when the
// tags key is absent and the namespace is not empty, stacker_namespace:
// <namespace>) with the stack's own tags merged over them.
func (c *Config) StackTags(st *Stack) map[string]string {
	out := map[string]string{}
	if c.Tags != nil {
		for k, v := range c.Tags {
			out[k] = v
		}
	} else if c.Namespace != "" {
		out["stacker_namespace"] = c.Namespace
	}
	if st != nil {
		for k, v := range st.Tags {
			out[k] = v
		}
	}
	return out
}

// Registry returns the config's lookup registry: the built-ins, the
// config's custom `lookups:` and its environment (so dependencies whose stack
// name comes from ${default ...} are known). Load builds it once, while
// validating every lookup; a Config made another way gets the built-ins
// with its environment. It is safe for concurrent use.
func (c *Config) Registry() *lookup.Registry {
	if c.lookups == nil {
		r := lookup.NewRegistry()
		r.SetEnvironment(c.Environment, c.Dir)
		return r
	}
	return c.lookups
}

// LookupEnv returns the offline parts of a lookup.Env for stack st: the
// environment, config directory and FQN function. Callers add Outputs,
// HookData and AWS for a real run.
func (c *Config) LookupEnv(st *Stack) *lookup.Env {
	env := &lookup.Env{Environment: c.Environment, ConfigDir: c.Dir, FQN: c.FQN}
	if st != nil {
		env.Stack = st.Name
	}
	return env
}

// pythonPathRE is a dotted Python path: module(.module)*.name.
var pythonPathRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$`)

// useLookup registers the lookups: entry name -> handler: a Go handler
// registered with lookup.RegisterCustom under that name, else Python code
// named by a dotted path (a new-style class with handle(), or an old-style
// function), run through the Python bridge.
func useLookup(r *lookup.Registry, name, handler string) error {
	if slices.Contains(lookup.CustomNames(), handler) {
		return r.UseCustom(name, handler)
	}
	if !pythonPathRE.MatchString(handler) {
		if err := r.UseCustom(name, handler); err != nil {
			return fmt.Errorf("%w; a dotted Python path (module.Handler) names Python code, run by the Python bridge", err)
		}
		return nil
	}
	r.Register(name, pybridge.LookupHandler{Type: name, Path: handler})
	return nil
}

// PythonSettings returns what the Python bridge needs from this config:
// the python: key, the config directory, sys_path entries (a path list,
// relative entries against the config's directory, as stacker's sys_path
// was against the CWD) and the context Python code sees. Package source
// paths are added by the caller (Settings.Sources).
func (c *Config) PythonSettings() pybridge.Settings {
	s := pybridge.Settings{Python: c.Python, ConfigDir: c.Dir, SysPath: c.SysPath}
	for _, dir := range filepath.SplitList(c.SysPath) {
		if dir == "" {
			continue
		}
		if !filepath.IsAbs(dir) {
			base := c.Dir
			if base == "" {
				base, _ = os.Getwd()
			}
			dir = filepath.Join(base, dir)
		}
		s.Paths = append(s.Paths, filepath.Clean(dir))
	}
	s.Context = c.PythonContext()
	return s
}

// PythonContext is stacker's context as Python code sees it (no hook data:
// the caller adds the run's).
func (c *Config) PythonContext() pybridge.Context {
	indent := c.TemplateIndent
	if indent <= 0 {
		indent = 4
	}
	names := make([]string, len(c.Stacks))
	for i, st := range c.Stacks {
		names[i] = st.Name
	}
	ctx := pybridge.Context{
		Namespace:          c.Namespace,
		NamespaceDelimiter: c.NamespaceDelimiter,
		Environment:        c.Environment,
		Mappings:           c.Mappings,
		TemplateIndent:     indent,
		Tags:               c.StackTags(nil),
		ConfigPath:         c.Path,
		ConfigDir:          c.Dir,
		CacheDir:           c.CacheDir(),
		StackNames:         names,
	}
	ctx.BucketName = c.BucketName()
	ctx.BucketRegion = c.StackerBucketRegion
	return ctx
}

// CacheDir is stacker_cache_dir, default ~/.stacker (stacker's); "~" is
// expanded.
func (c *Config) CacheDir() string {
	d := c.StackerCacheDir
	if d == "" {
		d = "~/.stacker"
	}
	if d == "~" || strings.HasPrefix(d, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			d = filepath.Join(home, strings.TrimPrefix(d, "~"))
		}
	}
	if !filepath.IsAbs(d) && c.Dir != "" {
		d = filepath.Join(c.Dir, d)
	}
	return d
}
