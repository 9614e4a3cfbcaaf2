// Package builtin holds stacker 1.7's built-in hooks, in Go, registered
// under stacker's own dotted paths (stacker.hooks.command.run_command,
// stacker.hooks.aws_lambda.upload_lambda_functions, ...). Import it for its
// side effects; the stacker command does:
//
//	import _ "github.com/stacker-go/stacker/hooks/builtin"
//
// Arguments, results, errors and log lines follow stacker 1.7 (see
// docs/hooks.md). AWS clients are built from the hook's aws.Config
// (hooks.Input.AWS), so a hook acts in the account and region of its
// target.
package builtin

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// args reads hook arguments with Python-like leniency where stacker was
// lenient, and clear errors where it raised.
type args map[string]any

func (a args) has(k string) bool { _, ok := a[k]; return ok && a[k] != nil }

// str returns a string argument (numbers and bools formatted); "" when
// absent.
func (a args) str(k string) (string, error) {
	v, ok := a[k]
	if !ok || v == nil {
		return "", nil
	}
	switch t := v.(type) {
	case string:
		return t, nil
	case int:
		return strconv.Itoa(t), nil
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64), nil
	case bool:
		return strconv.FormatBool(t), nil
	}
	return "", fmt.Errorf("argument %s must be a string, got %T", k, v)
}

// truthy is Python truthiness for an optional flag argument.
func (a args) truthy(k string) bool {
	v, ok := a[k]
	if !ok || v == nil {
		return false
	}
	switch t := v.(type) {
	case bool:
		return t
	case string:
		return t != ""
	case int:
		return t != 0
	case float64:
		return t != 0
	case []any:
		return len(t) > 0
	case map[string]any:
		return len(t) > 0
	}
	return true
}

// strList accepts a string or a list of strings.
func strList(v any) ([]string, bool) {
	switch t := v.(type) {
	case string:
		return []string{t}, true
	case []string:
		return t, true
	case []any:
		out := make([]string, 0, len(t))
		for _, e := range t {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}

// pyList formats strings as a Python list repr: ['a', 'b'].
func pyList(s []string) string {
	q := make([]string, len(s))
	for i, e := range s {
		q[i] = "'" + strings.ReplaceAll(e, "'", `\'`) + "'"
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// unknownArgs rejects arguments a hook does not take (Python raised a
// TypeError for unexpected keyword arguments).
func (a args) unknownArgs(path string, known ...string) error {
	var bad []string
	for k := range a {
		if !contains(known, k) {
			bad = append(bad, k)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	sort.Strings(bad)
	sort.Strings(known)
	return fmt.Errorf("%s got unexpected argument(s) %s (it takes %s)", path, strings.Join(bad, ", "), strings.Join(known, ", "))
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
