package template

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/nikolalohinski/gonja/v2"
	gonjacfg "github.com/nikolalohinski/gonja/v2/config"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/loaders"
)

// J2Data is what a .j2 template is rendered with (stacker's raw blueprint
// passes the same four names to Jinja2).
type J2Data struct {
	// Context is `context`: environment, namespace, namespace_delimiter,
	// mappings, bucket_name and get_fqn(name).
	Context   map[string]any
	Mappings  map[string]map[string]map[string]any
	Name      string         // the stack's config name
	Variables map[string]any // every provided variable, lookups resolved
}

// RenderJ2 renders a Jinja2 template with gonja. Undefined names render as
// "" (Jinja2's default), a single trailing newline is dropped (Jinja2's
// keep_trailing_newline=False), and {% include %} / {% extends %} /
// {% import %} resolve relative to the template's directory. path names the
// template in errors and locates includes; it is not read.
func RenderJ2(path string, body []byte, data J2Data) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil { // gonja is third-party code
			out, err = nil, fmt.Errorf("template engine panicked: %v", r)
		}
	}()
	dir := filepath.Dir(path)
	if path == "" {
		dir = "."
	}
	fsl, err := loaders.NewFileSystemLoader(dir)
	if err != nil {
		return nil, fmt.Errorf("jinja2: %w", err)
	}
	id := filepath.Base(path)
	if path == "" {
		id = "template.j2"
	}
	loader, err := loaders.NewShiftedLoader(id, bytes.NewReader(body), fsl)
	if err != nil {
		return nil, fmt.Errorf("jinja2: %w", err)
	}
	tpl, err := exec.NewTemplate(id, gonjacfg.New(), loader, gonja.DefaultEnvironment)
	if err != nil {
		return nil, fmt.Errorf("jinja2 syntax: %w", innermost(err))
	}
	ctx := exec.NewContext(map[string]any{
		"context":   data.Context,
		"mappings":  data.Mappings,
		"name":      data.Name,
		"variables": data.Variables,
	})
	out, err = tpl.ExecuteToBytes(ctx)
	if err != nil {
		return nil, fmt.Errorf("jinja2: %w", innermost(err))
	}
	return out, nil
}

// innermost drops gonja's wrappers, which quote the whole template source.
func innermost(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}
