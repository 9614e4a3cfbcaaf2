package cli

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/stacker-go/stacker/hooks"
	"github.com/stacker-go/stacker/internal/hookrun"
	"github.com/stacker-go/stacker/internal/pybridge"
)

func pyHooksForTest(t *testing.T) *pyHooks {
	t.Helper()
	dir, err := filepath.Abs("testdata/pyhooks")
	if err != nil {
		t.Fatal(err)
	}
	b := pybridge.New(pybridge.Options{Stderr: &strings.Builder{}})
	b.Configure(pybridge.Settings{ConfigDir: dir, Paths: []string{dir}, SysPath: "."})
	t.Cleanup(func() { b.Close() })
	return &pyHooks{b: b}
}

func TestPythonHookFallback(t *testing.T) {
	h := pyHooksForTest(t)
	ctx := context.Background()
	for _, tt := range []struct {
		path string
		ok   bool
		err  string
	}{
		{"myhooks.version", true, ""},
		{"myhooks.verison", false, `module myhooks has no function 'verison' (in ` + filepath.Join("testdata", "pyhooks", "myhooks", "__init__.py") + `); did you mean "version"?`},
		{"nosuch.mod.fn", false, "module nosuch not found on Python's path"},
		{"myhooks.NOT_CALLABLE", false, "myhooks.NOT_CALLABLE is a int, not a function"},
	} {
		ok, err := h.HasHook(ctx, tt.path)
		if ok != tt.ok || (tt.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("HasHook(%s) = %v, %v; want %v, %q", tt.path, ok, err, tt.ok, tt.err)
		}
	}

	hctx := &hooks.Context{Namespace: "ns", NamespaceDelimiter: "-", HookData: map[string]map[string]any{"first": {"x": "y"}}}
	cfg := aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDHOOK", "secret", "")}
	in := &hooks.Input{
		Args: map[string]any{"name": "app"}, Context: hctx,
		AWS: func(context.Context) (aws.Config, error) { return cfg, nil },
	}
	got, err := h.CallHook(ctx, "myhooks.version", in)
	want := map[string]any{"version": "app-1.2.3", "namespace": "ns", "fqn": "ns-app", "region": "eu-west-1", "key_set": true, "earlier": "y"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("version: %v %v", got, err)
	}

	// set_hook_data inside a hook stores its data; a second time is
	// stacker's KeyError, raised in Python.
	if got, err := h.CallHook(ctx, "myhooks.stores", in); got != true || err != nil || hctx.HookData["stored"]["by"] != "set_hook_data" {
		t.Fatalf("stores: %v %v %v", got, err, hctx.HookData)
	}
	if _, err := h.CallHook(ctx, "myhooks.stores", in); err == nil || !strings.Contains(err.Error(), "KeyError: 'Hook data for key stored already exists, each hook must have a unique data_key.'") {
		t.Fatalf("stores twice: %v", err)
	}

	if got, err := h.CallHook(ctx, "myhooks.falsy", in); got != nil || err != nil {
		t.Fatalf("falsy: %v %v", got, err)
	}

	in.Args = map[string]any{"v": 7}
	_, err = h.CallHook(ctx, "myhooks.raises", in)
	var le *hookrun.LoadError
	if err == nil || errors.As(err, &le) || !strings.Contains(err.Error(), "Python hook myhooks.raises: ValueError: bad value 7 (at ") ||
		!strings.Contains(err.Error(), filepath.Join("myhooks", "__init__.py")+":28)") {
		t.Fatalf("raises: %v", err)
	}
	if _, err := h.CallHook(ctx, "myhooks.gone", in); !errors.As(err, &le) {
		t.Fatalf("a missing function is a load error: %v", err)
	}
}
