package template

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"time"

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
		"range":     boundedRange,
	})
	return executeBounded(tpl, ctx, MaxTemplateURL, J2Timeout)
}

// J2Timeout bounds the time one .j2 template may take to render.
var J2Timeout = 10 * time.Second

// maxRangeItems bounds range(): gonja collects a loop's items before the
// first iteration, so range(100000000) alone would take gigabytes.
const maxRangeItems = 100000

// boundedRange is Jinja2's range([start, ]stop[, step]) with at most
// maxRangeItems items.
func boundedRange(_ *exec.Evaluator, params *exec.VarArgs) (<-chan int, error) {
	start, stop, step := 0, -1, 1
	ints := true
	for _, a := range params.Args {
		ints = ints && a.IsInteger()
	}
	switch n := len(params.Args); {
	case ints && n == 1:
		stop = params.Args[0].Integer()
	case ints && n == 2:
		start, stop = params.Args[0].Integer(), params.Args[1].Integer()
	case ints && n == 3:
		start, stop, step = params.Args[0].Integer(), params.Args[1].Integer(), params.Args[2].Integer()
	default:
		return nil, exec.ErrInvalidCall(errors.New("expected signature is [start, ]stop[, step] where all arguments are integers"))
	}
	if step == 0 {
		return nil, exec.ErrInvalidCall(errors.New("step cannot be 0"))
	}
	count := 0
	if step > 0 && stop > start {
		count = (stop - start + step - 1) / step
	} else if step < 0 && stop < start {
		count = (start - stop - step - 1) / -step
	}
	if count > maxRangeItems {
		return nil, exec.ErrInvalidCall(fmt.Errorf("range of %d items is over the limit of %d", count, maxRangeItems))
	}
	ch := make(chan int, count)
	for i := range count {
		ch <- start + i*step
	}
	close(ch)
	return ch, nil
}

// limitWriter fails once more than max bytes are written or the deadline
// has passed, which stops gonja at its next write.
type limitWriter struct {
	buf             bytes.Buffer
	max             int
	deadline        time.Time
	tooBig, tooSlow bool
}

func (w *limitWriter) Write(p []byte) (int, error) {
	if w.buf.Len()+len(p) > w.max {
		w.tooBig = true
		return 0, errors.New("template output over the size limit")
	}
	if time.Now().After(w.deadline) {
		w.tooSlow = true
		return 0, errors.New("template rendering over the time limit")
	}
	return w.buf.Write(p)
}

// executeBounded renders tpl with at most max bytes of output and within
// timeout. A render that outlives its timeout without writing is left to
// finish in the background; its result is dropped.
func executeBounded(tpl *exec.Template, ctx *exec.Context, max int, timeout time.Duration) ([]byte, error) {
	w := &limitWriter{max: max, deadline: time.Now().Add(timeout)}
	done := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil { // gonja is third-party code
				done <- fmt.Errorf("template engine panicked: %v", r)
			}
		}()
		done <- tpl.Execute(w, ctx)
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var err error
	timedOut := false
	select {
	case err = <-done:
	case <-timer.C:
		timedOut = true
	}
	switch {
	case timedOut || err != nil && w.tooSlow:
		return nil, fmt.Errorf("jinja2: stopped after %s, the limit for one template", timeout)
	case err != nil && w.tooBig:
		return nil, fmt.Errorf("jinja2: stopped: the output exceeds %d bytes, CloudFormation's limit for a template", max)
	case err != nil:
		return nil, fmt.Errorf("jinja2: %w", innermost(err))
	}
	return w.buf.Bytes(), nil
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
