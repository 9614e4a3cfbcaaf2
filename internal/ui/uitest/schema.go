// Package uitest holds test helpers for what internal/ui writes: checking a
// --progress json stream against its published schema
// (docs/progress-json.schema.json). Only tests import it.
package uitest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// SchemaPath is the published schema's path in the repository.
func SchemaPath() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "docs", "progress-json.schema.json")
}

// ValidateJSONLines checks that every line of stream is one JSON object
// valid against the schema, and returns the objects' "type" fields in
// order.
func ValidateJSONLines(stream []byte) ([]string, error) {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	f, err := os.Open(SchemaPath())
	if err != nil {
		return nil, fmt.Errorf("open schema: %w", err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		return nil, fmt.Errorf("read schema: %w", err)
	}
	if err := c.AddResource("progress-json.schema.json", doc); err != nil {
		return nil, fmt.Errorf("add schema: %w", err)
	}
	sch, err := c.Compile("progress-json.schema.json")
	if err != nil {
		return nil, fmt.Errorf("compile schema: %w", err)
	}
	var types []string
	sc := bufio.NewScanner(bytes.NewReader(stream))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for n := 1; sc.Scan(); n++ {
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(sc.Bytes()))
		if err != nil {
			return types, fmt.Errorf("line %d: not JSON: %w: %s", n, err, sc.Bytes())
		}
		if err := sch.Validate(v); err != nil {
			return types, fmt.Errorf("line %d: %s\n%v", n, sc.Bytes(), err)
		}
		var head struct{ Type string }
		json.Unmarshal(sc.Bytes(), &head)
		types = append(types, head.Type)
	}
	return types, sc.Err()
}

// ValidateJSONDocument checks that doc is one JSON value valid against the
// schema docs/<schema> (diff --json: docs/diff-json.schema.json).
func ValidateJSONDocument(schema string, doc []byte) error {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	f, err := os.Open(filepath.Join(filepath.Dir(SchemaPath()), schema))
	if err != nil {
		return fmt.Errorf("open schema: %w", err)
	}
	defer f.Close()
	s, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		return fmt.Errorf("read schema %s: %w", schema, err)
	}
	if err := c.AddResource(schema, s); err != nil {
		return fmt.Errorf("add schema: %w", err)
	}
	sch, err := c.Compile(schema)
	if err != nil {
		return fmt.Errorf("compile schema %s: %w", schema, err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	if err := sch.Validate(v); err != nil {
		return fmt.Errorf("%s: %v", schema, err)
	}
	return nil
}
