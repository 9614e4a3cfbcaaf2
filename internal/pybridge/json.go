package pybridge

import (
	"bytes"
	"encoding/json"
	"math"
)

// decodeJSON decodes data into out; numbers in untyped values become int
// when they are whole, else float64 (json.Number never leaks out).
func decodeJSON(data []byte, out any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return err
	}
	fixNumbers(out)
	return nil
}

func fixNumbers(v any) {
	switch t := v.(type) {
	case *any:
		*t = normalize(*t)
	case *map[string]any:
		for k, e := range *t {
			(*t)[k] = normalize(e)
		}
	}
}

// normalize replaces json.Number values inside v.
func normalize(v any) any {
	switch t := v.(type) {
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return int(i)
		}
		f, err := t.Float64()
		if err != nil || math.IsInf(f, 0) {
			return t.String()
		}
		return f
	case map[string]any:
		for k, e := range t {
			t[k] = normalize(e)
		}
		return t
	case []any:
		for i, e := range t {
			t[i] = normalize(e)
		}
		return t
	}
	return v
}
