package hookrun

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stacker-go/stacker/hooks"
	"github.com/stacker-go/stacker/internal/config"
	"github.com/stacker-go/stacker/internal/lookup"
	"github.com/stacker-go/stacker/internal/target"
)

// fakeConsole records lines.
type fakeConsole struct {
	mu    sync.Mutex
	lines []string
}

func (c *fakeConsole) Infof(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines = append(c.lines, fmt.Sprintf(format, args...))
}
func (c *fakeConsole) Prompt(string, bool, bool) (string, error) { return "", hooks.ErrNoTerminal }
func (c *fakeConsole) IsTerminal() bool                          { return false }

// calls records which test hooks ran, in order.
var calls struct {
	sync.Mutex
	names []string
}

func record(name string) {
	calls.Lock()
	defer calls.Unlock()
	calls.names = append(calls.names, name)
}

func takeCalls() []string {
	calls.Lock()
	defer calls.Unlock()
	out := calls.names
	calls.names = nil
	return out
}

func init() {
	// Registered once per process, so the tests survive -count=N.
	ret := func(name string, v any, err error) hooks.Func {
		return func(context.Context, *hooks.Input) (any, error) { record(name); return v, err }
	}
	hooks.Register("test.hooks.none", ret("none", nil, nil))
	hooks.Register("test.hooks.false", ret("false", false, nil))
	hooks.Register("test.hooks.empty", ret("empty", map[string]any{}, nil))
	hooks.Register("test.hooks.true", ret("true", true, nil))
	hooks.Register("test.hooks.boom", ret("boom", nil, errors.New("boom")))
	hooks.Register("test.hooks.panic", func(context.Context, *hooks.Input) (any, error) { record("panic"); panic("kaput") })
	hooks.Register("test.hooks.mock", func(_ context.Context, in *hooks.Input) (any, error) {
		record("mock")
		return map[string]any{"result": in.Args["value"]}, nil
	})
	hooks.Register("stacker.hooks.command.run_command", ret("run_command", true, nil))
	hooks.Register("test.hooks.typed", ret("typed", map[string]string{"k": "v"}, nil))
	hooks.Register("test.hooks.target", func(ctx context.Context, in *hooks.Input) (any, error) {
		cfg, err := in.AWS(ctx)
		if err != nil {
			return nil, err
		}
		record("target " + in.Target + " " + cfg.Region)
		return true, nil
	})
}

func hook(path string, mods ...func(*config.Hook)) config.Hook {
	h := config.Hook{Path: path, Required: true, Enabled: true, Pos: config.Pos{File: "stacker.yaml", Line: 3, Col: 5}}
	for _, m := range mods {
		m(&h)
	}
	return h
}

func optional(h *config.Hook) { h.Required = false }
func disabled(h *config.Hook) { h.Enabled = false }
func key(k string) func(*config.Hook) {
	return func(h *config.Hook) { h.DataKey = k }
}
func arg(k string, v any) func(*config.Hook) {
	return func(h *config.Hook) {
		if h.Args == nil {
			h.Args = map[string]any{}
		}
		h.Args[k] = v
	}
}

func newRunner(con *fakeConsole) *Runner {
	return &Runner{
		Console: con,
		Context: &hooks.Context{},
		AWS: func(_ context.Context, k target.Key) (aws.Config, error) {
			region := k.Region
			if region == "" {
				region = "us-east-1"
			}
			return aws.Config{Region: region}, nil
		},
	}
}

func TestStageSemantics(t *testing.T) {
	tests := []struct {
		name    string
		hooks   []config.Hook
		wantErr string // "" = no error
		calls   []string
		lines   []string
		data    map[string]map[string]any
	}{
		{
			name:  "mapping results are stored under their data_key, others ignored",
			hooks: []config.Hook{hook("test.hooks.mock", key("a"), arg("value", 1)), hook("test.hooks.mock", arg("value", 2)), hook("test.hooks.typed", key("t")), hook("test.hooks.true", key("x"))},
			calls: []string{"mock", "mock", "typed", "true"},
			lines: []string{"Executing pre_build hooks: test.hooks.mock, test.hooks.mock, test.hooks.typed, test.hooks.true"},
			data:  map[string]map[string]any{"a": {"result": 1}, "t": {"k": "v"}},
		},
		{
			name:    "a required hook returning None stops the stage",
			hooks:   []config.Hook{hook("test.hooks.none"), hook("test.hooks.true")},
			wantErr: "pre_build hook test.hooks.none (stacker.yaml:3:5) failed: it returned None",
			calls:   []string{"none"},
			lines:   []string{"Executing pre_build hooks: test.hooks.none, test.hooks.true", "Required hook test.hooks.none failed. Return value: None"},
		},
		{
			name:  "a non-required falsy hook warns and the stage goes on",
			hooks: []config.Hook{hook("test.hooks.false", optional), hook("test.hooks.empty", optional, key("e")), hook("test.hooks.true")},
			calls: []string{"false", "empty", "true"},
			lines: []string{"Executing pre_build hooks: test.hooks.false, test.hooks.empty, test.hooks.true",
				"Non-required hook test.hooks.false failed. Return value: False",
				"Non-required hook test.hooks.empty failed. Return value: {}"},
			data: map[string]map[string]any{},
		},
		{
			name:    "a required hook's error stops the stage",
			hooks:   []config.Hook{hook("test.hooks.boom"), hook("test.hooks.true")},
			wantErr: "pre_build hook test.hooks.boom (stacker.yaml:3:5) failed: boom",
			calls:   []string{"boom"},
			lines:   []string{"Executing pre_build hooks: test.hooks.boom, test.hooks.true", "Method test.hooks.boom threw an exception: boom"},
		},
		{
			name:  "a non-required hook's error or panic is logged and the stage goes on",
			hooks: []config.Hook{hook("test.hooks.boom", optional), hook("test.hooks.panic", optional), hook("test.hooks.true")},
			calls: []string{"boom", "panic", "true"},
			lines: []string{"Executing pre_build hooks: test.hooks.boom, test.hooks.panic, test.hooks.true",
				"Method test.hooks.boom threw an exception: boom",
				"Method test.hooks.panic threw an exception: panic: kaput"},
			data: map[string]map[string]any{},
		},
		{
			name:  "disabled hooks are listed but skipped",
			hooks: []config.Hook{hook("test.hooks.none", disabled), hook("test.hooks.true")},
			calls: []string{"true"},
			lines: []string{"Executing pre_build hooks: test.hooks.none, test.hooks.true"},
			data:  map[string]map[string]any{},
		},
		{
			name:    "a duplicate data_key is an error",
			hooks:   []config.Hook{hook("test.hooks.mock", key("k"), optional), hook("test.hooks.mock", key("k"), optional)},
			wantErr: "Hook data for key k already exists, each hook must have a unique data_key.",
			calls:   []string{"mock", "mock"},
			lines:   []string{"Executing pre_build hooks: test.hooks.mock, test.hooks.mock"},
		},
		{
			name:  "profile and region args target the hook",
			hooks: []config.Hook{hook("test.hooks.target"), hook("test.hooks.target", arg("profile", "prod"), arg("region", "eu-west-1"))},
			calls: []string{"target default us-east-1", "target prod/eu-west-1 eu-west-1"},
			lines: []string{"Executing pre_build hooks: test.hooks.target, test.hooks.target"},
			data:  map[string]map[string]any{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			takeCalls()
			con := &fakeConsole{}
			r := newRunner(con)
			err := r.Run(context.Background(), PreBuild, tt.hooks)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("error %v", err)
			}
			if tt.wantErr != "" {
				var fe *FailedError
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.As(err, &fe) {
					t.Fatalf("error %v, want a *FailedError with %q", err, tt.wantErr)
				}
			}
			if got := takeCalls(); !reflect.DeepEqual(got, tt.calls) {
				t.Errorf("calls %q, want %q", got, tt.calls)
			}
			if !reflect.DeepEqual(con.lines, tt.lines) {
				t.Errorf("lines\n%q\nwant\n%q", con.lines, tt.lines)
			}
			if tt.data != nil && !reflect.DeepEqual(r.Context.HookData, tt.data) {
				t.Errorf("hook data %v, want %v", r.Context.HookData, tt.data)
			}
		})
	}
}

func TestNoHooksPrintsNothing(t *testing.T) {
	con := &fakeConsole{}
	if err := newRunner(con).Run(context.Background(), PostDestroy, nil); err != nil || len(con.lines) != 0 {
		t.Fatalf("err %v lines %q", err, con.lines)
	}
}

// fakeBridge stands in for the Python bridge.
type fakeBridge struct{ known map[string]any }

func (b fakeBridge) HasHook(_ context.Context, path string) (bool, error) {
	_, ok := b.known[path]
	return ok, nil
}
func (b fakeBridge) CallHook(_ context.Context, path string, _ *hooks.Input) (any, error) {
	v, ok := b.known[path]
	if !ok {
		return nil, &LoadError{Err: fmt.Errorf("No module named %q", path)}
	}
	return v, nil
}

func TestFallbackRunsUnregisteredPaths(t *testing.T) {
	con := &fakeConsole{}
	r := newRunner(con)
	r.Fallback = fakeBridge{known: map[string]any{"mypkg.hooks.go": map[string]any{"x": "y"}}}
	err := r.Run(context.Background(), PostBuild, []config.Hook{hook("mypkg.hooks.go", key("py")), hook("mypkg.hooks.missing", optional)})
	if err != nil {
		t.Fatal(err)
	}
	if r.Context.HookData["py"]["x"] != "y" {
		t.Fatalf("data %v", r.Context.HookData)
	}
	if want := `Unable to load method at mypkg.hooks.missing: No module named "mypkg.hooks.missing"`; con.lines[len(con.lines)-1] != want {
		t.Fatalf("lines %q", con.lines)
	}
}

func TestRepr(t *testing.T) {
	for _, tt := range []struct {
		v    any
		want string
	}{
		{nil, "None"}, {false, "False"}, {true, "True"}, {0, "0"}, {"", ""},
		{map[string]any{}, "{}"}, {[]any{}, "[]"},
		{map[string]any{"b": "x", "a": []any{1, "y"}}, "{'a': [1, 'y'], 'b': 'x'}"},
	} {
		if got := Repr(tt.v); got != tt.want {
			t.Errorf("Repr(%#v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestCheckReportsUnknownPathsAndDuplicateKeysAtTheirPositions(t *testing.T) {
	cfg := &config.Config{
		PreBuild: []config.Hook{
			hook("stacker.hooks.comand.run_comand"),
			hook("test.hooks.mock", key("k")),
			hook("nowhere.at.all", disabled),
		},
		PostBuild: []config.Hook{hook("test.hooks.mock", key("k"), func(h *config.Hook) { h.Pos.Line = 9 })},
		// Destroy stages are not checked by a build.
		PreDestroy: []config.Hook{hook("not.checked")},
	}
	err := Check(context.Background(), cfg, nil, PreBuild, PostBuild)
	var errs config.Errors
	if !errors.As(err, &errs) || len(errs) != 2 {
		t.Fatalf("errors %v", err)
	}
	if got := errs[0].Error(); !strings.HasPrefix(got, `stacker.yaml:3:5: pre_build[0]: path "stacker.hooks.comand.run_comand": no Go hook is registered under this path and Python hooks cannot run here (did you mean "stacker.hooks.command.run_command`) {
		t.Errorf("unknown path: %s", got)
	}
	if got := errs[1].Error(); !strings.HasPrefix(got, "stacker.yaml:9:5: post_build[0]: Hook data for key k already exists, each hook must have a unique data_key. (first set by test.hooks.mock at stacker.yaml:3:5)") {
		t.Errorf("duplicate: %s", got)
	}
	// A bridge that can import the path makes it valid.
	err = Check(context.Background(), &config.Config{PreBuild: []config.Hook{hook("mypkg.hooks.go")}}, fakeBridge{known: map[string]any{"mypkg.hooks.go": true}}, PreBuild)
	if err != nil {
		t.Fatalf("bridge path: %v", err)
	}
}

func TestCheckHookDataNamesTheMissingKey(t *testing.T) {
	cfg := &config.Config{
		PreBuild:  []config.Hook{hook("test.hooks.mock", key("lambda")), hook("test.hooks.mock", key("off"), disabled)},
		PostBuild: []config.Hook{hook("test.hooks.mock", key("late"))},
		Stacks: []*config.Stack{
			{Name: "ok", Enabled: true, Variables: map[string]any{"A": "${hook_data lambda::Fn}"}},
			{Name: "bad", Enabled: true, Variables: map[string]any{"B": []any{"x-${hook_data lamda::Fn}"}, "C": "${split ,::${hook_data late::x}}"},
				VariablePos: map[string]config.Pos{"B": {File: "stacker.yaml", Line: 20, Col: 9}, "C": {File: "stacker.yaml", Line: 21, Col: 9}}},
			{Name: "off", Enabled: false, Variables: map[string]any{"D": "${hook_data off::x}"}},
		},
	}
	reg := lookup.NewRegistry()
	err := CheckHookData(cfg, reg, []string{"ok", "bad", "off"})
	var errs config.Errors
	if !errors.As(err, &errs) || len(errs) != 2 {
		t.Fatalf("errors %v", err)
	}
	want := []string{
		`stacker.yaml:20:9: stack "bad": variable B: ${hook_data lamda::Fn}: no enabled pre_build hook stores data under data_key "lamda" (did you mean "lambda"?)`,
		`stacker.yaml:21:9: stack "bad": variable C: ${hook_data late::x}: no enabled pre_build hook stores data under data_key "late" (data_keys: lambda)`,
	}
	for i, w := range want {
		if errs[i].Error() != w {
			t.Errorf("error %d:\n%s\nwant\n%s", i, errs[i].Error(), w)
		}
	}
}
