package template

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that extracting Parameters, Outputs and Transform from
// any body never panics and never changes the body. Seeds: the committed
// corpus in testdata/fuzz/FuzzParse plus every test template.
func FuzzParse(f *testing.F) {
	addTemplates(f)
	f.Add([]byte(`{"Parameters": {"P": {"Type": "String", "Default": [1, "a"], "NoEcho": "true"}}, "Outputs": null}`))
	f.Add([]byte("Parameters: &a\n  P: *a\n"))
	f.Add([]byte("Parameters:\n  P: !Ref X\nOutputs: [1]\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		orig := string(body)
		tpl, err := Parse(body)
		if err != nil {
			return
		}
		if string(tpl.Body) != orig {
			t.Fatal("Parse changed the body")
		}
		if tpl.Format != "json" && tpl.Format != "yaml" {
			t.Fatalf("format %q", tpl.Format)
		}
	})
}

// FuzzRenderJ2 checks that the Jinja2 engine never panics on any template.
func FuzzRenderJ2(f *testing.F) {
	addTemplates(f)
	f.Add([]byte(`{{ variables.a | join(",") }}{% if name %}{{ name }}{% endif %}`))
	f.Add([]byte(`{% for i in range(3) %}{{ i }}{% endfor %}{{ context.get_fqn("x") }}`))
	f.Add([]byte(`{{ mappings.AmiMap["us-east-1"].NAT }}{# c #}{% set x = 1 %}{{ x + 1 }}`))
	cfg := testConfig()
	f.Fuzz(func(t *testing.T, body []byte) {
		data := J2Data{Context: j2Context(cfg, nil), Mappings: cfg.Mappings, Name: "s",
			Variables: map[string]any{"a": []any{"x", 1}, "b": map[string]any{"k": true}}}
		// Includes resolve against an empty directory.
		_, _ = RenderJ2(filepath.Join(t.TempDir(), "t.j2"), body, data)
	})
}

func addTemplates(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "templates", "*"))
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
}
