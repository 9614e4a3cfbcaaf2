package pybridge

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Context is what Python code sees as stacker's context: namespace,
// environment, mappings, hook data and the rest a blueprint, hook or
// lookup reads.
type Context struct {
	Namespace          string                               `json:"namespace"`
	NamespaceDelimiter string                               `json:"namespace_delimiter"`
	Environment        map[string]any                       `json:"environment"`
	Mappings           map[string]map[string]map[string]any `json:"mappings"`
	HookData           map[string]map[string]any            `json:"hook_data"`
	BucketName         string                               `json:"bucket_name,omitempty"`
	BucketRegion       string                               `json:"bucket_region,omitempty"`
	TemplateIndent     int                                  `json:"template_indent"`
	Tags               map[string]string                    `json:"tags,omitempty"`
	ConfigPath         string                               `json:"config_path,omitempty"`
	ConfigDir          string                               `json:"config_dir,omitempty"`
	CacheDir           string                               `json:"cache_dir,omitempty"`
	StackNames         []string                             `json:"stack_names,omitempty"`
}

// RenderRequest asks for one stack's template from a Python blueprint.
type RenderRequest struct {
	Stack       string         // the stack's config name (the blueprint's name)
	ClassPath   string         // dotted path of the blueprint class
	Description string         // the stack's description key, "" if unset
	Variables   map[string]any // lookups already resolved
	Context     Context
}

// Rendered is a Python blueprint's output.
type Rendered struct {
	// Template is the rendered template text (JSON from troposphere).
	Template string `json:"template"`
	// Parameters are the blueprint's CloudFormation parameter values
	// (get_parameter_values): strings or lists.
	Parameters map[string]any `json:"parameters"`
	// DefinedVariables are the names the blueprint declares (VARIABLES).
	DefinedVariables  []string `json:"defined_variables"`
	RequiresChangeSet bool     `json:"requires_change_set"`
}

// Render renders one stack's template with a Python blueprint. Errors are
// *Error naming the stack and class path.
func (b *Bridge) Render(ctx context.Context, req RenderRequest) (*Rendered, error) {
	what := fmt.Sprintf("stack %q", req.Stack)
	vars, err := jsonValues(req.Variables)
	if err != nil {
		return nil, fmt.Errorf("%s: variables for Python blueprint %s: %w", what, req.ClassPath, err)
	}
	var out Rendered
	err = b.call(ctx, map[string]any{
		"op":          "render",
		"class_path":  req.ClassPath,
		"name":        req.Stack,
		"description": req.Description,
		"variables":   vars,
		"context":     req.Context,
	}, &out)
	if err != nil {
		return nil, annotate(err, what, "blueprint", req.ClassPath, b.Settings())
	}
	for k, v := range out.Parameters {
		out.Parameters[k] = normalize(v)
	}
	return &out, nil
}

// Check imports every class path and returns an error per path that does
// not import (keyed by path). It starts the interpreter.
func (b *Bridge) Check(ctx context.Context, classPaths []string) (map[string]error, error) {
	return b.check(ctx, classPaths, "class", "blueprint")
}

// CheckHooks imports every hook function path and returns an error per
// path that does not import or does not name a callable (keyed by path).
// It starts the interpreter.
func (b *Bridge) CheckHooks(ctx context.Context, paths []string) (map[string]error, error) {
	return b.check(ctx, paths, "function", "hook")
}

func (b *Bridge) check(ctx context.Context, paths []string, what, role string) (map[string]error, error) {
	var out struct {
		Problems map[string]*Error `json:"problems"`
	}
	if err := b.call(ctx, map[string]any{"op": "check", "what": what, "class_paths": paths}, &out); err != nil {
		return nil, err
	}
	res := map[string]error{}
	for p, e := range out.Problems {
		e.python = b.describePython()
		res[p] = annotate(e, "", role, p, b.Settings())
	}
	return res, nil
}

// HookCall is one call of a Python hook, as stacker makes it:
// fn(context=<context>, provider=<provider>, **Args).
type HookCall struct {
	// Path is the hook's dotted function path.
	Path string
	// Args are the hook's args (keyword arguments).
	Args map[string]any
	// Context is the run's context (namespace, environment, hook data...).
	Context Context
	// AWS, when set, gives the hook's target: its region becomes
	// provider.region and its credentials are put in the Python process's
	// environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
	// AWS_SESSION_TOKEN, AWS_REGION, AWS_DEFAULT_REGION) for the duration
	// of the call only, so boto3 sessions the hook makes use them. They
	// never go to a file or a command line, and are never logged.
	AWS *aws.Config
}

// HookResult is what a Python hook returned.
type HookResult struct {
	// Value is the return value as JSON-like Go values: a mapping is
	// map[string]any (hook data when the hook has a data_key), true/false,
	// nil for None. Troposphere objects come back as their to_dict().
	Value any `json:"value"`
	// Stored is hook data the hook stored itself with
	// context.set_hook_data(key, data), by key.
	Stored map[string]any `json:"set_hook_data"`
}

// CallHook runs a Python hook through the bridge (starting it if needed).
// It is what the hook runner calls for a hook path that is not a
// registered Go hook. Errors are *Error naming the hook path, the
// exception and the file:line of the user's frame.
func (b *Bridge) CallHook(ctx context.Context, call HookCall) (*HookResult, error) {
	what := "Python hook " + call.Path
	args, err := jsonValues(call.Args)
	if err != nil {
		return nil, fmt.Errorf("%s: args: %w", what, err)
	}
	req := map[string]any{"op": "hook", "path": call.Path, "args": args, "context": call.Context}
	if err := addAWS(ctx, req, call.AWS); err != nil {
		return nil, fmt.Errorf("%s: credentials: %w", what, err)
	}
	var out HookResult
	if err := b.call(ctx, req, &out); err != nil {
		// "Python hook <path>: <exception>": the hook runner's line names
		// the stage and the hook's position.
		return nil, annotate(err, "", "hook", call.Path, b.Settings())
	}
	out.Value = normalize(out.Value)
	for k, v := range out.Stored {
		out.Stored[k] = normalize(v)
	}
	return &out, nil
}

// LookupCall is one call of a Python lookup handler: a new-style class's
// handle(value, context=, provider=) or an old-style function
// handler(value, context=, provider=).
type LookupCall struct {
	Type    string // the lookup type in the config (${Type value})
	Path    string // the handler's dotted path
	Value   string // the lookup's data
	Stack   string // the stack whose variable is resolved
	Context Context
	AWS     *aws.Config // as in HookCall
}

// CallLookup runs a Python lookup handler and returns its value.
func (b *Bridge) CallLookup(ctx context.Context, call LookupCall) (any, error) {
	what := fmt.Sprintf("lookup %q", call.Type)
	if call.Stack != "" {
		what = fmt.Sprintf("stack %q: %s", call.Stack, what)
	}
	req := map[string]any{"op": "lookup", "path": call.Path, "value": call.Value, "context": call.Context}
	if err := addAWS(ctx, req, call.AWS); err != nil {
		return nil, fmt.Errorf("%s: credentials: %w", what, err)
	}
	var out struct {
		Value any `json:"value"`
	}
	if err := b.call(ctx, req, &out); err != nil {
		return nil, annotate(err, what, "lookup handler", call.Path, b.Settings())
	}
	return normalize(out.Value), nil
}

// addAWS adds the target's region and credentials to a request.
func addAWS(ctx context.Context, req map[string]any, cfg *aws.Config) error {
	if cfg == nil {
		return nil
	}
	env := map[string]string{}
	if cfg.Region != "" {
		env["AWS_REGION"] = cfg.Region
		env["AWS_DEFAULT_REGION"] = cfg.Region
	}
	if cfg.BaseEndpoint != nil && *cfg.BaseEndpoint != "" {
		env["AWS_ENDPOINT_URL"] = *cfg.BaseEndpoint
	}
	if cfg.Credentials != nil {
		c, err := cfg.Credentials.Retrieve(ctx)
		if err != nil {
			return err
		}
		env["AWS_ACCESS_KEY_ID"] = c.AccessKeyID
		env["AWS_SECRET_ACCESS_KEY"] = c.SecretAccessKey
		if c.SessionToken != "" {
			env["AWS_SESSION_TOKEN"] = c.SessionToken
		}
	}
	req["aws_env"] = env
	req["provider"] = map[string]any{"region": cfg.Region}
	return nil
}

// jsonValues checks that v crosses the bridge as JSON and returns it as
// plain JSON values.
func jsonValues(v map[string]any) (map[string]any, error) {
	if v == nil {
		return map[string]any{}, nil
	}
	for k, x := range v {
		if _, err := json.Marshal(x); err != nil {
			return nil, fmt.Errorf("%s: a %T cannot be passed to Python: %w", k, x, err)
		}
	}
	return v, nil
}
