package lookup

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/stacker-go/stacker/internal/suggest"
)

// ErrStackDisabled is what Env.Outputs returns (wrapped) for a stack whose
// config says enabled: false; the output lookup turns it into a clear
// message.
var ErrStackDisabled = errors.New("stack is disabled")

// readValue returns data, or the content of the file it names when it
// starts with file:// (relative paths resolve against env.ConfigDir).
func readValue(data string, env *Env) (string, error) {
	path, ok := strings.CutPrefix(data, "file://")
	if !ok {
		return data, nil
	}
	if !filepath.IsAbs(path) && env != nil && env.ConfigDir != "" {
		path = filepath.Join(env.ConfigDir, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", data, err)
	}
	return string(b), nil
}

// splitPair splits "a::b" on its only "::".
func splitPair(data, what, form string) (string, string, error) {
	if strings.Count(data, "::") != 1 {
		return "", "", fmt.Errorf("invalid value for %s: %q, must be in %s format", what, data, form)
	}
	a, b, _ := strings.Cut(data, "::")
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	if a == "" || b == "" {
		return "", "", fmt.Errorf("invalid value for %s: %q, must be in %s format", what, data, form)
	}
	return a, b, nil
}

// ---- output -------------------------------------------------------------

type outputHandler struct{}

func (outputHandler) CheckData(data string) error {
	_, _, err := splitPair(data, "output", "<stack name>::<output name>")
	return err
}

func (outputHandler) Dependencies(data string) ([]string, error) {
	stack, _, err := splitPair(data, "output", "<stack name>::<output name>")
	if err != nil {
		return nil, err
	}
	return []string{stack}, nil
}

func (outputHandler) Handle(ctx context.Context, data string, env *Env) (any, error) {
	if env.Offline {
		// The data may hold other placeholders (nested lookups), so it is
		// shown as it is rather than checked.
		return "<output " + data + ">", nil
	}
	stack, name, err := splitPair(data, "output", "<stack name>::<output name>")
	if err != nil {
		return nil, err
	}
	if env.Outputs == nil {
		return nil, fmt.Errorf("outputs of stack %q are not available here", stack)
	}
	outs, err := env.Outputs(ctx, stack)
	if errors.Is(err, ErrStackDisabled) {
		return nil, fmt.Errorf("stack %q is disabled (enabled: false), so it has no outputs in this run; enable it, or read an existing stack with xref/rxref", stack)
	}
	if err != nil {
		return nil, fmt.Errorf("outputs of stack %q: %w", stack, err)
	}
	v, ok := outs[name]
	if !ok {
		return nil, fmt.Errorf("stack %q has no output %q (%s)", stack, name, available(outs))
	}
	return v, nil
}

func available(outs map[string]string) string {
	if len(outs) == 0 {
		return "it has no outputs"
	}
	names := make([]string, 0, len(outs))
	for k := range outs {
		names = append(names, k)
	}
	sort.Strings(names)
	return "available: " + strings.Join(names, ", ")
}

// ---- default ------------------------------------------------------------

type defaultHandler struct{}

func (defaultHandler) CheckData(data string) error {
	if !strings.Contains(data, "::") {
		return fmt.Errorf("invalid value for default: %q, must be in <env_var>::<default value> format", data)
	}
	return nil
}

func (h defaultHandler) Handle(_ context.Context, data string, env *Env) (any, error) {
	if err := h.CheckData(data); err != nil {
		return nil, err
	}
	key, def, _ := strings.Cut(data, "::")
	if v, ok := env.Environment[key]; ok {
		return v, nil
	}
	return def, nil
}

// ---- envvar -------------------------------------------------------------

type envvarHandler struct{}

func (envvarHandler) Handle(_ context.Context, data string, env *Env) (any, error) {
	name, err := readValue(data, env)
	if err != nil {
		return nil, err
	}
	name = strings.TrimSpace(name)
	v, ok := os.LookupEnv(name)
	if !ok {
		return nil, fmt.Errorf("EnvVar %q does not exist", name)
	}
	return v, nil
}

// ---- split --------------------------------------------------------------

type splitHandler struct{}

func (splitHandler) CheckData(data string) error {
	delim, _, ok := strings.Cut(data, "::")
	if !ok || delim == "" {
		return fmt.Errorf("invalid value for split: %q, must be in <delimiter>::<text> format", data)
	}
	return nil
}

func (h splitHandler) Handle(_ context.Context, data string, _ *Env) (any, error) {
	if err := h.CheckData(data); err != nil {
		return nil, err
	}
	delim, text, _ := strings.Cut(data, "::")
	parts := strings.Split(text, delim)
	out := make([]any, len(parts))
	for i, p := range parts {
		out[i] = p
	}
	return out, nil
}

// ---- hook_data ----------------------------------------------------------

type hookDataHandler struct{}

func (hookDataHandler) CheckData(data string) error {
	_, _, err := splitPair(data, "hook_data", "<data_key>::<key>")
	return err
}

func (hookDataHandler) Handle(_ context.Context, data string, env *Env) (any, error) {
	if env.Offline {
		return "<hook_data " + data + ">", nil
	}
	key, field, err := splitPair(data, "hook_data", "<data_key>::<key>")
	if err != nil {
		return nil, err
	}
	d, ok := env.HookData[key]
	if !ok {
		if env.HookData == nil {
			return nil, fmt.Errorf("no hook data under data_key %q: hooks run only in build (pre_build), not in this command", key)
		}
		return nil, fmt.Errorf("no hook stored data under data_key %q (did the hook run, and does it set data_key: %s?)", key, key)
	}
	v, ok := d[field]
	if !ok {
		// Beyond stacker: a dotted field reads inside a nested mapping
		// (${hook_data lambda::Fn.S3Key}); a key that exists as written
		// always wins, so stacker's keys with dots still work.
		v, ok = digField(d, field)
	}
	if !ok {
		names := make([]string, 0, len(d))
		for k := range d {
			names = append(names, k)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("hook data %q has no key %q (keys: %s)", key, field, strings.Join(names, ", "))
	}
	return v, nil
}

// digField reads a dotted path inside nested mappings (maps with string
// keys, or structs through their JSON form).
func digField(m map[string]any, path string) (any, bool) {
	for i := 0; i < len(path); i++ {
		if path[i] != '.' {
			continue
		}
		head, rest := path[:i], path[i+1:]
		inner, ok := m[head]
		if !ok {
			continue
		}
		im, ok := asStringMap(inner)
		if !ok {
			continue
		}
		if v, ok := im[rest]; ok {
			return v, true
		}
		if v, ok := digField(im, rest); ok {
			return v, true
		}
	}
	return nil, false
}

func asStringMap(v any) (map[string]any, bool) {
	switch t := v.(type) {
	case map[string]any:
		return t, true
	case map[string]string:
		out := make(map[string]any, len(t))
		for k, s := range t {
			out[k] = s
		}
		return out, true
	}
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer && !rv.IsNil() {
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct && rv.Kind() != reflect.Map {
		return nil, false
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, false
	}
	var out map[string]any
	if json.Unmarshal(b, &out) != nil {
		return nil, false
	}
	return out, true
}

// ---- file ---------------------------------------------------------------

type fileHandler struct{}

// Codecs of the file lookup.
var fileCodecs = []string{"base64", "json", "json-parameterized", "parameterized", "parameterized-b64", "plain", "yaml", "yaml-parameterized"}

func splitFile(data string) (codec, arg string, err error) {
	codec, arg, ok := strings.Cut(data, ":")
	if !ok {
		return "", "", fmt.Errorf(`file value must be of the format "<codec>:<path>" (got %q)`, data)
	}
	if !contains(fileCodecs, codec) {
		msg := fmt.Sprintf("unknown file codec %q", codec)
		if sug := suggest.One(codec, fileCodecs, 3); sug != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", sug)
		}
		return "", "", fmt.Errorf("%s; codecs: %s", msg, strings.Join(fileCodecs, ", "))
	}
	return codec, arg, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (fileHandler) CheckData(data string) error {
	_, _, err := splitFile(data)
	return err
}

func (fileHandler) Handle(_ context.Context, data string, env *Env) (any, error) {
	codec, arg, err := splitFile(data)
	if err != nil {
		return nil, err
	}
	raw, err := readValue(arg, env)
	if err != nil {
		return nil, err
	}
	return decodeFile(codec, raw)
}

func decodeFile(codec, raw string) (any, error) {
	switch codec {
	case "plain":
		return raw, nil
	case "base64":
		return base64.StdEncoding.EncodeToString([]byte(raw)), nil
	case "parameterized":
		return parameterize(raw), nil
	case "parameterized-b64":
		return map[string]any{"Fn::Base64": parameterize(raw)}, nil
	case "json", "json-parameterized":
		var v any
		if err := json.Unmarshal([]byte(raw), &v); err != nil {
			return nil, fmt.Errorf("decode json: %w", err)
		}
		if codec == "json-parameterized" {
			v = parameterizeObj(v)
		}
		return v, nil
	case "yaml", "yaml-parameterized":
		var v any
		if err := yaml.Unmarshal([]byte(raw), &v); err != nil {
			return nil, fmt.Errorf("decode yaml: %w", err)
		}
		v = normalizeYAML(v)
		if codec == "yaml-parameterized" {
			v = parameterizeObj(v)
		}
		return v, nil
	}
	return nil, fmt.Errorf("unknown file codec %q", codec)
}

// parameterRE is stacker's {{([::|\w]+)}}: {{Name}} and {{AWS::Region}}.
var parameterRE = regexp.MustCompile(`{{([:|\w]+)}}`)

// parameterize turns {{Name}} placeholders into {"Ref": Name} parts of an
// Fn::Join, exactly as stacker's _parameterize_string (empty strings
// included); text without placeholders stays a string.
func parameterize(raw string) any {
	matches := parameterRE.FindAllStringSubmatchIndex(raw, -1)
	if len(matches) == 0 {
		return raw
	}
	parts := make([]any, 0, 2*len(matches)+1)
	start := 0
	for _, m := range matches {
		parts = append(parts, raw[start:m[0]], map[string]any{"Ref": raw[m[2]:m[3]]})
		start = m[1]
	}
	parts = append(parts, raw[start:])
	return map[string]any{"Fn::Join": []any{"", parts}}
}

// parameterizeObj parameterizes every string value (not key) in v.
func parameterizeObj(v any) any {
	switch t := v.(type) {
	case string:
		return parameterize(t)
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = parameterizeObj(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = parameterizeObj(e)
		}
		return out
	}
	return v
}

// normalizeYAML turns map[any]any-free yaml.v3 output into JSON-like values
// (yaml.v3 already decodes mappings with string keys to map[string]any;
// other keys are formatted).
func normalizeYAML(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = normalizeYAML(e)
		}
		return t
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[fmt.Sprint(k)] = normalizeYAML(e)
		}
		return out
	case []any:
		for i, e := range t {
			t[i] = normalizeYAML(e)
		}
		return t
	}
	return v
}
