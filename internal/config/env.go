package config

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// envValue is one environment entry. Values from a simple env file and
// from -e are text (simple=true): a plain YAML scalar that is wholly one
// placeholder re-types them as YAML would (true -> bool). Values from a
// YAML env file keep their decoded type (lists, mappings...).
type envValue struct {
	v      any
	simple bool
}

type environment map[string]envValue

// readEnvFile reads an environment file: YAML when its extension is .yaml
// or .yml (case-insensitive), else stacker's simple "key: value" lines.
func readEnvFile(path string) (environment, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{Msg: fmt.Sprintf("read environment file: %v", err)}
	}
	if err := checkUTF8(path, data); err != nil {
		return nil, err
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		return parseYAMLEnv(path, data)
	}
	return parseSimpleEnv(path, data)
}

// parseSimpleEnv parses one "key: value" per line, split on the first
// ":". Blank lines and lines starting with # are skipped. Keys and values
// are trimmed (stacker kept the spaces before the colon in the key).
func parseSimpleEnv(file string, data []byte) (environment, error) {
	env := environment{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if line == 1 {
			text = strings.TrimPrefix(text, "\ufeff")
		}
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		k, v, ok := strings.Cut(text, ":")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, &Error{Pos: Pos{File: file, Line: line, Col: 1},
				Msg: fmt.Sprintf("environment must be in key: value format (got %q)", text)}
		}
		env[k] = envValue{v: strings.TrimSpace(v), simple: true}
	}
	if err := sc.Err(); err != nil {
		return nil, &Error{Pos: Pos{File: file, Line: line + 1, Col: 1}, Msg: fmt.Sprintf("read environment: %v", err)}
	}
	return env, nil
}

// parseYAMLEnv parses a YAML mapping. Null values are kept (a placeholder
// for them becomes null), unlike stacker which called them missing.
func parseYAMLEnv(file string, data []byte) (environment, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlError(file, data, err)
	}
	env := environment{}
	if len(doc.Content) == 0 {
		return env, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, &Error{Pos: Pos{File: file, Line: root.Line, Col: root.Column},
			Msg: "environment must be a YAML mapping of keys to values"}
	}
	d := &decoder{file: file, budget: maxValueNodes}
	for _, p := range d.pairs(root, 0) {
		v := d.value(p.v, 0)
		env[p.key] = envValue{v: v}
	}
	if err := d.errs.err(); err != nil {
		return nil, err
	}
	return env, nil
}

// applyOverrides adds -e KEY=VALUE pairs (split on the first "=").
func applyOverrides(env environment, overrides []string) error {
	for _, o := range overrides {
		k, v, ok := strings.Cut(o, "=")
		if !ok || k == "" {
			return &Error{Msg: fmt.Sprintf("%q does not match KEY=VALUE format", o)}
		}
		if !utf8.ValidString(o) {
			return &Error{Msg: fmt.Sprintf("-e %s: the value is not valid UTF-8", strconv.QuoteToASCII(k))}
		}
		env[k] = envValue{v: v, simple: true}
	}
	return nil
}

// plain returns the environment as plain values.
func (env environment) plain() map[string]any {
	out := make(map[string]any, len(env))
	for k, v := range env {
		out[k] = v.v
	}
	return out
}
