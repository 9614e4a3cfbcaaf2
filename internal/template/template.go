// Package template renders a stack's template: a raw file named by
// template_path (JSON or YAML, kept byte for byte so CloudFormation short
// tags survive; .j2 files rendered first with a Jinja2-compatible engine) or
// a blueprint named by class_path: a Go blueprint of package blueprint's
// registry, else a Python class rendered by the run's Python bridge
// (internal/pybridge, taken from the context). It also builds the parameter values sent to CloudFormation and the content
// addressed object key templates are uploaded under. It knows nothing of
// AWS calls.
package template

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/stacker-go/stacker/blueprint"
	"github.com/stacker-go/stacker/internal/config"
)

// Render renders the template of st. vars are the stack's variables with
// lookups already resolved.
//
// For template_path, every provided variable is visible to a .j2 template,
// but only those the template declares as Parameters become parameter
// values (see ParameterValues). For class_path, the variables are validated
// with blueprint.ResolveVariables and the blueprint renders the template.
func Render(ctx context.Context, cfg *config.Config, st *config.Stack, vars map[string]any) (*blueprint.Template, error) {
	return RenderWith(ctx, cfg, st, vars, nil)
}

// RenderWith is Render with the data the pre_build hooks stored: Go
// blueprints get it as Input.HookData, .j2 templates as context.hook_data.
func RenderWith(ctx context.Context, cfg *config.Config, st *config.Stack, vars map[string]any, hookData map[string]map[string]any) (*blueprint.Template, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	switch {
	case st.TemplatePath != "":
		return renderRaw(cfg, st, vars, hookData)
	case st.ClassPath != "":
		return renderBlueprint(ctx, cfg, st, vars, hookData)
	}
	return nil, &config.Error{Pos: st.Pos, Msg: fmt.Sprintf("stack %q has neither class_path nor template_path", st.Name)}
}

func stackFQN(cfg *config.Config, st *config.Stack) string {
	name := st.StackName
	if name == "" {
		name = st.Name
	}
	return cfg.FQN(name)
}

func renderBlueprint(ctx context.Context, cfg *config.Config, st *config.Stack, vars map[string]any, hookData map[string]map[string]any) (*blueprint.Template, error) {
	bp, err := blueprint.Lookup(st.ClassPath)
	if err != nil {
		var le *blueprint.LookupError
		if errors.As(err, &le) {
			return renderPython(ctx, cfg, st, vars, hookData, le)
		}
		return nil, &config.Error{Pos: st.Pos, Msg: fmt.Sprintf("stack %q: %v", st.Name, err)}
	}
	resolved, err := blueprint.ResolveVariables(bp, st.Name, vars)
	if err != nil {
		return nil, fmt.Errorf("stack %q: %w", st.Name, err)
	}
	indent := cfg.TemplateIndent
	if indent <= 0 {
		indent = blueprint.DefaultIndent
	}
	in := &blueprint.Input{
		Name:        st.Name,
		FQN:         stackFQN(cfg, st),
		Namespace:   cfg.Namespace,
		Description: st.Description,
		Variables:   resolved,
		Mappings:    cfg.Mappings,
		Environment: cfg.Environment,
		HookData:    hookData,
		Indent:      indent,
	}
	t, err := renderSafely(ctx, bp, in)
	if err != nil {
		return nil, fmt.Errorf("stack %q: %w", st.Name, err)
	}
	if t == nil || len(t.Body) == 0 {
		return nil, fmt.Errorf("stack %q: blueprint %s rendered an empty template", st.Name, st.ClassPath)
	}
	if t.Format == "" {
		t.Format = detectFormat(t.Body)
	}
	if t.ParameterValues == nil {
		t.ParameterValues = map[string]string{}
	}
	return t, nil
}

// renderSafely turns a blueprint panic into an error: blueprints are user
// code and stacks render concurrently.
func renderSafely(ctx context.Context, bp blueprint.Blueprint, in *blueprint.Input) (t *blueprint.Template, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("blueprint panicked: %v", r)
		}
	}()
	return bp.Render(ctx, in)
}

// findTemplate resolves a template_path: absolute as is; else relative to
// the config file's directory, then the current directory, then each
// sys_path directory (itself relative to the config's directory).
func findTemplate(cfg *config.Config, st *config.Stack) (string, error) {
	p := st.TemplatePath
	var candidates []string
	if filepath.IsAbs(p) {
		candidates = []string{p}
	} else {
		if cfg.Dir != "" {
			candidates = append(candidates, filepath.Join(cfg.Dir, p))
		}
		candidates = append(candidates, p)
		for _, dir := range filepath.SplitList(cfg.SysPath) {
			if dir == "" {
				continue
			}
			if !filepath.IsAbs(dir) && cfg.Dir != "" {
				dir = filepath.Join(cfg.Dir, dir)
			}
			candidates = append(candidates, filepath.Join(dir, p))
		}
	}
	for _, c := range candidates {
		if fi, err := os.Stat(c); err == nil && !fi.IsDir() {
			return c, nil
		}
	}
	return "", &config.Error{Pos: st.Pos, Msg: fmt.Sprintf("stack %q: could not find template %s (looked in %s)",
		st.Name, p, strings.Join(candidates, ", "))}
}

func renderRaw(cfg *config.Config, st *config.Stack, vars map[string]any, hookData map[string]map[string]any) (*blueprint.Template, error) {
	path, err := findTemplate(cfg, st)
	if err != nil {
		return nil, err
	}
	body, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("stack %q: reading template: %w", st.Name, err)
	}
	if strings.HasSuffix(path, ".j2") {
		body, err = RenderJ2(path, body, J2Data{
			Context:   j2Context(cfg, hookData),
			Mappings:  cfg.Mappings,
			Name:      st.Name,
			Variables: vars,
		})
		if err != nil {
			return nil, fmt.Errorf("stack %q: rendering %s: %w", st.Name, st.TemplatePath, err)
		}
	}
	t, err := Parse(body)
	if err != nil {
		return nil, fmt.Errorf("stack %q: template %s: %w", st.Name, path, err)
	}
	t.ParameterValues, err = ParameterValues(t.Parameters, vars)
	if err != nil {
		return nil, fmt.Errorf("stack %q: %w", st.Name, err)
	}
	return t, nil
}

// j2Context is what a .j2 template sees as `context`: stacker's Context
// attributes environment, namespace, namespace_delimiter, mappings,
// bucket_name, get_fqn(name) and hook_data (what the pre_build hooks
// stored; empty outside build).
func j2Context(cfg *config.Config, hookData map[string]map[string]any) map[string]any {
	bucket := ""
	if cfg.StackerBucket != nil {
		bucket = *cfg.StackerBucket
	} else if cfg.Namespace != "" {
		bucket = "stacker-" + cfg.Namespace
	}
	env := cfg.Environment
	if env == nil {
		env = map[string]any{}
	}
	return map[string]any{
		"environment":         env,
		"namespace":           cfg.Namespace,
		"namespace_delimiter": cfg.NamespaceDelimiter,
		"mappings":            cfg.Mappings,
		"bucket_name":         bucket,
		"hook_data":           hookDataOrEmpty(hookData),
		"get_fqn": func(names ...string) string {
			if len(names) == 0 || names[0] == "" {
				return cfg.Namespace
			}
			n := names[0]
			if cfg.Namespace != "" && strings.HasPrefix(n, cfg.Namespace+cfg.NamespaceDelimiter) {
				return n
			}
			return cfg.FQN(n)
		},
	}
}

// HashLen is the number of hex digits of the content hash in object keys.
const HashLen = 12

// Hash is the first HashLen hex digits of the SHA-256 of the template body
// (stacker used 8 digits of MD5). Equal bodies share a key, so an upload
// can be skipped when the object exists.
func Hash(t *blueprint.Template) string {
	sum := sha256.Sum256(t.Body)
	return hex.EncodeToString(sum[:])[:HashLen]
}

// ObjectKey is stack_templates/<fqn>/<name>-<hash>.<json|yaml>: the
// extension follows the template's content.
func ObjectKey(fqn, name string, t *blueprint.Template) string {
	ext := "json"
	if t.Format == "yaml" {
		ext = "yaml"
	}
	return "stack_templates/" + fqn + "/" + name + "-" + Hash(t) + "." + ext
}

// ErrNoTemplate is wrapped by errors about templates without a body.
var ErrNoTemplate = errors.New("empty template")

func hookDataOrEmpty(d map[string]map[string]any) map[string]map[string]any {
	if d == nil {
		return map[string]map[string]any{}
	}
	return d
}

// CloudFormation's template size limits.
const (
	// MaxTemplateBody is the largest template sent inline (TemplateBody).
	MaxTemplateBody = 51200
	// MaxTemplateURL is the largest template CloudFormation reads from S3.
	MaxTemplateURL = 1048576
)

// CheckSize reports a template CloudFormation would refuse for its size:
// over MaxTemplateURL always, over MaxTemplateBody when it goes inline
// (no template bucket).
func CheckSize(t *blueprint.Template, inline bool) error {
	n := len(t.Body)
	switch {
	case n > MaxTemplateURL:
		return fmt.Errorf("template is %d bytes; CloudFormation takes at most %d bytes (even from S3)", n, MaxTemplateURL)
	case inline && n > MaxTemplateBody:
		return fmt.Errorf("template is %d bytes; CloudFormation takes at most %d bytes inline, and stacker_bucket is \"\" so it would go inline: set a stacker_bucket so it is uploaded to S3", n, MaxTemplateBody)
	}
	return nil
}

// Find returns the file a stack's template_path names (see findTemplate),
// or a config error saying where it looked.
func Find(cfg *config.Config, st *config.Stack) (string, error) { return findTemplate(cfg, st) }
