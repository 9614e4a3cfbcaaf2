package config

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzDecode runs arbitrary bytes through the whole loader after reading:
// YAML parsing, substitution, decoding, validation and lookup checks. It
// must never panic (parse's recover would turn a panic into an "internal
// error" message, which the target treats as a failure).
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"namespace: n\nstacks:\n  - name: a\n    class_path: x.Y\n",
		"namespace: ${ns}\nstacks:\n  a: {template_path: t.yaml, variables: {X: '${output b::Y}'}}\n  b: {class_path: c}\n",
		"namespace: n\nx: &a {region: r}\nstacks:\n  - <<: *a\n    name: s\n    class_path: c\n",
		"a: &a [*a]",
		"namespace: n\nstacks: [{name: s, locked: maybe, requires: 5}]\n",
		"namespace: n\npre_build:\n  h: {path: p, args: {a: [1, {b: c}]}}\naccounts: {p: 123456789012}\n",
		"- x", "", "namespace: n\n---\nx: y\n", "namespace: n\nstacks:\n\t- a",
	} {
		f.Add([]byte(s))
	}
	env := environment{"ns": {v: "n", simple: true}, "list": {v: []any{"a", 1}}, "flag": {v: "true", simple: true}}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 16<<10 {
			return
		}
		cfg, err := parse("fuzz.yaml", "/tmp", data, env)
		if err != nil {
			if e, ok := err.(*Error); ok && len(e.Msg) > 14 && e.Msg[:14] == "internal error" {
				t.Fatalf("panic: %v", err)
			}
			return
		}
		for _, st := range cfg.Stacks {
			_ = st.CFNName(cfg)
			_ = cfg.StackTags(st)
		}
		_ = cfg.BucketName()
	})
}

// FuzzSubstitute runs arbitrary text through environment substitution,
// both the text form and the node form; neither may panic, and text
// without "$" must come back unchanged.
func FuzzSubstitute(f *testing.F) {
	for _, s := range []string{"${x}", "$x-$$y", "${output ${x}::Id}", "${AWS::Region}", "$", "${", "${x", "$${x}", "${list}", "a ${flag} b"} {
		f.Add(s)
	}
	env := environment{"x": {v: "1", simple: true}, "list": {v: []any{"a"}}, "flag": {v: true}}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := env.substitute(s)
		if err == nil && !containsDollar(s) && out != s {
			t.Fatalf("%q changed to %q", s, out)
		}
		data := []byte("namespace: n\nv: ")
		data = append(data, []byte(quoteYAML(s))...)
		_, _ = parse("fuzz.yaml", "/tmp", data, env)
	})
}

func containsDollar(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '$' {
			return true
		}
	}
	return false
}

// quoteYAML makes s a double-quoted YAML scalar.
func quoteYAML(s string) string {
	out := []byte{'"'}
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			out = append(out, '\\', byte(r))
		case r < 0x20:
			out = append(out, []byte("\\x")...)
			out = append(out, "0123456789abcdef"[r>>4], "0123456789abcdef"[r&15])
		default:
			out = append(out, []byte(string(r))...)
		}
	}
	return string(append(out, '"'))
}

// FuzzTextSubstitute runs arbitrary configs through the text substitution
// of a simple environment: no panic, and every error position inside the
// user's file.
func FuzzTextSubstitute(f *testing.F) {
	for _, s := range []string{
		"namespace: ${ns}\nstacks:\n  - {name: s, template_path: t, variables: {P: ${v}, Q: ${missing}}}\n",
		"namespace: ${ns\n", "namespace: n # ${missing}\nv: $$x $${y} ${v\n", "a: ${v}: b\n", "namespace: n\nstacks: {a: {variables: {X: ${w", "${ns}: x\n",
	} {
		f.Add([]byte(s))
	}
	env := environment{"ns": {v: "n", simple: true}, "v": {v: "a: b", simple: true}, "w": {v: "[1, {", simple: true}}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 16<<10 {
			return
		}
		_, err := parse("fuzz.yaml", "/tmp", data, env)
		if err == nil {
			return
		}
		lines := bytes.Count(data, []byte("\n")) + 1
		var list Errors
		if es, ok := err.(Errors); ok {
			list = es
		} else if e, ok := err.(*Error); ok {
			list = Errors{e}
		}
		for _, e := range list {
			if strings.HasPrefix(e.Msg, "internal error") {
				t.Fatalf("panic: %v", e)
			}
			if e.Pos.Line > lines {
				t.Fatalf("position %d beyond the %d lines of the input: %v", e.Pos.Line, lines, e)
			}
		}
	})
}
