package template

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"strings"

	"github.com/stacker-go/stacker/blueprint"
)

// ParameterValues builds the values sent to CloudFormation for a raw
// template (stacker's _resolve_parameters, §4.5, with its list defect
// fixed):
//   - only variables whose names are declared Parameters are sent; others
//     are ignored (logged at debug level);
//   - nil values are dropped, so the template's Default applies;
//   - strings are sent as is, bools as "true"/"false", numbers in plain
//     decimal (3, 2.5; never 3.0 or 1e+06);
//   - lists are sent comma-joined, their elements formatted the same way;
//   - maps (and lists inside lists) are sent as compact JSON.
func ParameterValues(params []blueprint.Parameter, vars map[string]any) (map[string]string, error) {
	declared := make(map[string]bool, len(params))
	for _, p := range params {
		declared[p.Name] = true
	}
	out := map[string]string{}
	for k, v := range vars {
		if !declared[k] {
			slog.Debug("template does not use parameter", "parameter", k)
			continue
		}
		if v == nil {
			continue
		}
		s, err := ParameterValue(v)
		if err != nil {
			return nil, fmt.Errorf("parameter %q: %w", k, err)
		}
		out[k] = s
	}
	return out, nil
}

// ParameterValue formats one value as ParameterValues does.
func ParameterValue(v any) (string, error) {
	if s, ok := blueprint.Scalar(v); ok {
		return s, nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			return string(rv.Bytes()), nil
		}
		parts := make([]string, rv.Len())
		for i := range parts {
			e := rv.Index(i).Interface()
			if e == nil {
				continue
			}
			if s, ok := blueprint.Scalar(e); ok {
				parts[i] = s
				continue
			}
			b, err := json.Marshal(e)
			if err != nil {
				return "", fmt.Errorf("list element %d: %w", i, err)
			}
			parts[i] = string(b)
		}
		return strings.Join(parts, ","), nil
	case reflect.Map, reflect.Struct:
		b, err := json.Marshal(v)
		if err != nil {
			return "", err
		}
		return string(b), nil
	}
	return "", fmt.Errorf("a %T cannot be a parameter value", v)
}
