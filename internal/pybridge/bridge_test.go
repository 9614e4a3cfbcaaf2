package pybridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// needPython skips nothing: CI has python3 (the bridge's tests are part of
// the suite). A machine without it fails loudly here.
func needPython(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil && os.Getenv(EnvPython) == "" {
		t.Fatalf("these tests need python3 on PATH (or %s): %v", EnvPython, err)
	}
}

func projectDir(t *testing.T) string {
	t.Helper()
	d, err := filepath.Abs("testdata/project")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newBridge returns a configured bridge over testdata/project (its sys_path
// "."), closed at the end of the test, and its stderr.
func newBridge(t *testing.T, opts Options) (*Bridge, *syncBuf) {
	t.Helper()
	needPython(t)
	stderr := &syncBuf{}
	opts.Stderr = stderr
	if opts.Getenv == nil {
		opts.Getenv = func(k string) string {
			if k == EnvWorkers {
				return ""
			}
			return os.Getenv(k)
		}
	}
	b := New(opts)
	dir := projectDir(t)
	b.Configure(Settings{
		ConfigDir: dir,
		SysPath:   ".",
		Paths:     []string{dir},
		Context:   Context{Namespace: "ns", NamespaceDelimiter: "-", TemplateIndent: 4},
	})
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	})
	return b, stderr
}

func baseContext() Context {
	return Context{
		Namespace:          "My.NS",
		NamespaceDelimiter: "-",
		Environment:        map[string]any{"env": "prod", "count": 3},
		Mappings:           map[string]map[string]map[string]any{"AmiMap": {"us-east-1": {"NAT": "ami-1"}}},
		HookData:           map[string]map[string]any{"lambda": {"Fn": map[string]any{"S3Bucket": "b", "S3Key": "k"}}},
		TemplateIndent:     2,
	}
}

func metadata(t *testing.T, r *Rendered) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal([]byte(r.Template), &doc); err != nil {
		t.Fatalf("template is not JSON: %v\n%s", err, r.Template)
	}
	md, _ := doc["Metadata"].(map[string]any)
	if md == nil {
		t.Fatalf("no Metadata in %s", r.Template)
	}
	return md
}

func TestRenderPassesEveryVariableTypeAndTheContext(t *testing.T) {
	b, _ := newBridge(t, Options{})
	vars := map[string]any{
		"Param1": "value",
		"Names":  []any{"a", "b"},
		"Count":  3,
		"Ratio":  2.5,
		"Flag":   true,
		"Nested": map[string]any{"k": []any{1, "two", map[string]any{"deep": false}}},
		"Null":   nil,
		"Join":   map[string]any{"Fn::Join": []any{"", []any{"a", map[string]any{"Ref": "AWS::Region"}}}},
	}
	r, err := b.Render(context.Background(), RenderRequest{
		Stack: "vpc", ClassPath: "blueprints.duck.Echo", Description: "my stack",
		Variables: vars, Context: baseContext(),
	})
	if err != nil {
		t.Fatal(err)
	}
	md := metadata(t, r)
	wantTypes := map[string]any{"Param1": "str", "Names": "list", "Count": "int", "Ratio": "float",
		"Flag": "bool", "Nested": "dict", "Null": "NoneType", "Join": "dict"}
	gotTypes, _ := json.Marshal(md["Types"])
	wantJSON, _ := json.Marshal(wantTypes)
	if string(gotTypes) != string(wantJSON) {
		t.Errorf("types the class saw:\n got %s\nwant %s", gotTypes, wantJSON)
	}
	gotVars, _ := json.Marshal(md["Variables"])
	wantVars, _ := json.Marshal(vars)
	if string(gotVars) != string(wantVars) {
		t.Errorf("values the class saw:\n got %s\nwant %s", gotVars, wantVars)
	}
	checks := map[string]string{"Name": `"vpc"`, "Namespace": `"My.NS"`, "FQN": `"my-ns-vpc"`,
		"Environment": `{"count":3,"env":"prod"}`,
		"HookData":    `{"lambda":{"Fn":{"S3Bucket":"b","S3Key":"k"}}}`,
		"Mappings":    `{"AmiMap":{"us-east-1":{"NAT":"ami-1"}}}`}
	for k, want := range checks {
		got, _ := json.Marshal(md[k])
		if string(got) != want {
			t.Errorf("%s: got %s, want %s", k, got, want)
		}
	}
	if !strings.Contains(r.Template, "\n  \"Description\": \"my stack\"") {
		t.Errorf("template_indent 2 and description not honoured:\n%s", r.Template)
	}
	if got := r.Parameters["Param1"]; got != "value" {
		t.Errorf("parameter Param1 = %#v", got)
	}
	if got, _ := json.Marshal(r.Parameters["Names"]); string(got) != `["a","b"]` {
		t.Errorf("parameter Names = %s", got)
	}
	if strings.Join(r.DefinedVariables, ",") != "Names,Param1" {
		t.Errorf("defined variables = %v", r.DefinedVariables)
	}
}

func TestFiftyStacksShareOneInterpreter(t *testing.T) {
	b, _ := newBridge(t, Options{})
	pids := map[float64]bool{}
	for i := 0; i < 50; i++ {
		r, err := b.Render(context.Background(), RenderRequest{
			Stack: "s" + strconv.Itoa(i), ClassPath: "blueprints.duck.Echo",
			Variables: map[string]any{"Param1": strconv.Itoa(i)}, Context: baseContext(),
		})
		if err != nil {
			t.Fatal(err)
		}
		md := metadata(t, r)
		pids[md["Pid"].(float64)] = true
		if md["Name"] != "s"+strconv.Itoa(i) {
			t.Fatalf("stack %d rendered as %v", i, md["Name"])
		}
	}
	if len(pids) != 1 || b.Starts() != 1 {
		t.Errorf("50 stacks used %d processes (%d starts), want 1", len(pids), b.Starts())
	}
}

func TestConcurrentRendersWithSeveralWorkers(t *testing.T) {
	b, _ := newBridge(t, Options{Workers: 2})
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r, err := b.Render(context.Background(), RenderRequest{
				Stack: "s" + strconv.Itoa(i), ClassPath: "blueprints.duck.Echo",
				Variables: map[string]any{"Param1": strconv.Itoa(i)}, Context: baseContext(),
			})
			if err != nil {
				errs <- err
				return
			}
			if r.Parameters["Param1"] != strconv.Itoa(i) {
				errs <- errors.New("answer for the wrong request: " + r.Template)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := b.Starts(); n < 1 || n > 2 {
		t.Errorf("started %d processes, want 1 or 2", n)
	}
}

func TestUserOutputDoesNotBreakTheProtocol(t *testing.T) {
	b, stderr := newBridge(t, Options{})
	_, err := b.Render(context.Background(), RenderRequest{Stack: "c", ClassPath: "blueprints.duck.Chatty",
		Variables: map[string]any{}, Context: baseContext()})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "hello from a blueprint") {
		t.Errorf("print() output not forwarded to stderr: %q", stderr.String())
	}
}

func TestErrors(t *testing.T) {
	b, _ := newBridge(t, Options{})
	dir := projectDir(t)
	tests := []struct {
		name, classPath string
		kind            string
		want            []string
	}{
		{"an exception names the stack, the class and the user's file:line", "blueprints.duck.Broken", KindException,
			[]string{`stack "web": Python blueprint blueprints.duck.Broken: ValueError: bad cidr 10.0.0.0/33 (at `,
				filepath.Join("testdata", "project", "blueprints", "duck.py") + ":60)"}},
		{"a module that is not on the path", "nowhere.mod.Cls", KindModuleNotFound,
			[]string{"module nowhere not found on Python's path", `sys_path "." (relative to ` + dir}},
		{"a module whose import fails names the missing dependency", "blueprints.badimport.Thing", KindImportError,
			[]string{"importing blueprints.badimport failed: ModuleNotFoundError: No module named 'awacs_not_installed_here'",
				"badimport.py:3)", "install awacs_not_installed_here for "}},
		{"troposphere missing says what to install", "blueprints.needs_tropo.Tropo", KindMissingTroposphere,
			[]string{"troposphere is not installed", "pip install troposphere", EnvPython}},
		{"a missing class suggests near names", "blueprints.duck.Ech", KindNotFound,
			[]string{"module blueprints.duck has no class 'Ech'", `did you mean "Echo"?`}},
		{"not a class", "blueprints.duck.NOT_A_CLASS", KindNotBlueprint, []string{"is a int, not a blueprint class"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := b.Render(context.Background(), RenderRequest{Stack: "web", ClassPath: tt.classPath,
				Variables: map[string]any{}, Context: baseContext()})
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("want *Error, got %v", err)
			}
			if pe.Kind != tt.kind {
				t.Errorf("kind %q, want %q (%v)", pe.Kind, tt.kind, err)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error is not one line: %q", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q\nlacks %q", msg, w)
				}
			}
			if tt.kind == KindException && !strings.Contains(pe.Traceback, "Traceback") {
				t.Errorf("no traceback kept for -v: %q", pe.Traceback)
			}
		})
	}
	// The bridge survives every failure above.
	if _, err := b.Render(context.Background(), RenderRequest{Stack: "ok", ClassPath: "blueprints.duck.Echo",
		Variables: map[string]any{}, Context: baseContext()}); err != nil {
		t.Fatal(err)
	}
	if b.Starts() != 1 {
		t.Errorf("%d starts", b.Starts())
	}
}

func TestNoInterpreter(t *testing.T) {
	tests := []struct {
		name   string
		env    string
		config string
		path   string
		want   string
	}{
		{"env var names a missing program", "/nonexistent/python9", "", os.Getenv("PATH"), `"/nonexistent/python9" (from STACKER_PYTHON) not found`},
		{"config key names a missing program", "", "python-missing-here", os.Getenv("PATH"), `"python-missing-here" (from the config's python: key) not found`},
		{"nothing on PATH", "", "", t.TempDir(), "STACKER_PYTHON is not set, the config has no python: key, and there is no python3 on PATH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("PATH", tt.path)
			b := New(Options{Getenv: func(k string) string {
				if k == EnvPython {
					return tt.env
				}
				return ""
			}})
			defer b.Close()
			b.Configure(Settings{Python: tt.config})
			_, err := b.Render(context.Background(), RenderRequest{Stack: "x", ClassPath: "a.B"})
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "install Python 3") {
				t.Fatalf("got %v\nwant %q and a hint", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), `stack "x": Python blueprint a.B: `) {
				t.Errorf("error does not name the stack and class: %v", err)
			}
			// Reported again for the next stack without retrying.
			_, err2 := b.Render(context.Background(), RenderRequest{Stack: "y", ClassPath: "a.B"})
			if err2 == nil || !strings.Contains(err2.Error(), tt.want) {
				t.Errorf("second stack: %v", err2)
			}
		})
	}
}

func TestInterpreterFromEnvAndConfig(t *testing.T) {
	needPython(t)
	out, err := exec.Command("python3", "-c", "import sys; print(sys.executable)").Output()
	if err != nil {
		t.Fatal(err)
	}
	py := strings.TrimSpace(string(out))
	link := filepath.Join(t.TempDir(), "mypython")
	if err := os.Symlink(py, link); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, env, config string
	}{
		{"STACKER_PYTHON wins over the config", link, "python-missing-here"},
		{"config key relative to the config dir", "", "./" + filepath.Base(link)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := New(Options{Getenv: func(k string) string {
				if k == EnvPython {
					return tt.env
				}
				return ""
			}})
			defer b.Close()
			b.Configure(Settings{Python: tt.config, ConfigDir: filepath.Dir(link), Paths: []string{projectDir(t)}})
			if _, err := b.Render(context.Background(), RenderRequest{Stack: "x", ClassPath: "blueprints.duck.Echo", Context: baseContext()}); err != nil {
				t.Fatal(err)
			}
			if b.python != link {
				t.Errorf("interpreter %q, want %q", b.python, link)
			}
		})
	}
}

func TestHooks(t *testing.T) {
	b, _ := newBridge(t, Options{})
	cfg := aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDBRIDGETEST", "secret", "tok")}
	res, err := b.CallHook(context.Background(), HookCall{Path: "helpers.hooks.record",
		Args: map[string]any{"a": 1, "b": []any{"x"}}, Context: Context{Namespace: "ns"}, AWS: &cfg})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(res.Value)
	want := `{"args":{"a":1,"b":["x"]},"has_key":true,"namespace":"ns","region":"eu-west-1"}`
	if string(got) != want {
		t.Errorf("hook returned %s\nwant %s", got, want)
	}
	// The credentials were only there for that call.
	res, err = b.CallHook(context.Background(), HookCall{Path: "helpers.hooks.record", Context: Context{Namespace: "ns"}})
	if err != nil {
		t.Fatal(err)
	}
	if m := res.Value.(map[string]any); m["has_key"] != false {
		t.Errorf("credentials leaked into a later call: %v", m)
	}
	res, err = b.CallHook(context.Background(), HookCall{Path: "helpers.hooks.store"})
	if err != nil || res.Value != true {
		t.Fatalf("store: %v %v", res, err)
	}
	if got, _ := json.Marshal(res.Stored); string(got) != `{"stored":{"x":1}}` {
		t.Errorf("set_hook_data came back as %s", got)
	}
	res, err = b.CallHook(context.Background(), HookCall{Path: "helpers.hooks.falsy"})
	if err != nil || res.Value != false {
		t.Errorf("falsy: %v %v", res, err)
	}
	_, err = b.CallHook(context.Background(), HookCall{Path: "helpers.hooks.fail", Args: map[string]any{"what": "db"}})
	if err == nil || !strings.Contains(err.Error(), "Python hook helpers.hooks.fail: RuntimeError: hook broke on db (at ") ||
		!strings.Contains(err.Error(), filepath.Join("helpers", "hooks.py")+":") {
		t.Errorf("hook error: %v", err)
	}
}

func TestLookups(t *testing.T) {
	b, _ := newBridge(t, Options{})
	v, err := b.CallLookup(context.Background(), LookupCall{Type: "upper", Path: "helpers.lookups.Upper", Value: "abc", Context: Context{Namespace: "ns"}})
	if err != nil || v != "ns-ABC" {
		t.Errorf("new style: %v %v", v, err)
	}
	v, err = b.CallLookup(context.Background(), LookupCall{Type: "mock", Path: "helpers.lookups.handler", Value: "abc"})
	got, _ := json.Marshal(v)
	if err != nil || string(got) != `{"list":[1,2.5,"x"],"mock":"abc"}` {
		t.Errorf("old style: %s %v", got, err)
	}
	if m, ok := v.(map[string]any); !ok || m["list"].([]any)[0] != 1 {
		t.Errorf("whole numbers must come back as int: %#v", v)
	}
	_, err = b.CallLookup(context.Background(), LookupCall{Type: "boom", Path: "helpers.lookups.Boom", Value: "missing", Stack: "app"})
	if err == nil || !strings.Contains(err.Error(), `stack "app": lookup "boom": Python lookup handler helpers.lookups.Boom: KeyError: 'missing' (at `) {
		t.Errorf("lookup error: %v", err)
	}
}

// TestCancelLeavesNoProcess: a hook stuck in user code (with a child
// process of its own) is stopped when the run's context ends, and nothing
// is left running.
func TestCancelLeavesNoProcess(t *testing.T) {
	b, _ := newBridge(t, Options{})
	pidfile := filepath.Join(t.TempDir(), "pids")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := b.CallHook(ctx, HookCall{Path: "helpers.hooks.hang", Args: map[string]any{"pidfile": pidfile}})
		done <- err
	}()
	var pids []int
	deadline := time.Now().Add(20 * time.Second)
	for len(pids) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		data, _ := os.ReadFile(pidfile)
		pids = pids[:0]
		for _, f := range strings.Fields(string(data)) {
			if n, err := strconv.Atoi(f); err == nil {
				pids = append(pids, n)
			}
		}
	}
	if len(pids) < 2 {
		t.Fatal("the hook did not start")
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("want context.Canceled, got %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cancel did not stop the call")
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("process %d still running after cancel", pid)
		}
	}
}

// alive reports whether pid runs (a zombie counts as gone).
func alive(pid int) bool {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if err := syscall.Kill(pid, 0); err != nil {
			return false
		}
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err == nil {
			f := strings.Fields(string(stat))
			if len(f) > 2 && f[2] == "Z" {
				return false
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

func TestCloseStopsTheInterpreterAndRemovesItsFiles(t *testing.T) {
	b, _ := newBridge(t, Options{})
	if _, err := b.Render(context.Background(), RenderRequest{Stack: "x", ClassPath: "blueprints.duck.Echo", Context: baseContext()}); err != nil {
		t.Fatal(err)
	}
	pid := b.workers[0].cmd.Process.Pid
	dir := b.dir
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if alive(pid) {
		t.Errorf("python %d still running after Close", pid)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s not removed: %v", dir, err)
	}
	if _, err := b.Render(context.Background(), RenderRequest{Stack: "x", ClassPath: "blueprints.duck.Echo"}); err == nil {
		t.Error("a closed bridge rendered")
	}
}

func TestNoProcessUntilNeeded(t *testing.T) {
	b := New(Options{})
	b.Configure(Settings{})
	if b.Starts() != 0 || b.dir != "" {
		t.Error("New or Configure started Python")
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestTroposphereTypedVariables: a mapping given to a variable typed with
// a troposphere property class (awslambda.Code, what stacker's Lambda hook
// returned) reaches the blueprint as that class, and an intrinsic mapping
// given to a helper-typed variable as a helper. A stand-in troposphere
// module is used: CI has no troposphere.
func TestTroposphereTypedVariables(t *testing.T) {
	needPython(t)
	dir, err := filepath.Abs("testdata/faketropo")
	if err != nil {
		t.Fatal(err)
	}
	b := New(Options{Stderr: &syncBuf{}})
	b.Configure(Settings{ConfigDir: dir, SysPath: ".", Paths: []string{dir}, Context: Context{Namespace: "ns", TemplateIndent: 4}})
	t.Cleanup(func() { b.Close() })
	r, err := b.Render(context.Background(), RenderRequest{Stack: "fn", ClassPath: "typedbp.Typed", Variables: map[string]any{
		"Code": map[string]any{"S3Bucket": "b", "S3Key": "k.zip"},
		"Name": map[string]any{"Fn::Join": []any{"-", []any{"a", map[string]any{"Ref": "Env"}}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"Resources": {"Fn": {"Properties": {"Code": {"S3Bucket": "b", "S3Key": "k.zip"}, "FunctionName": {"Fn::Join": ["-", ["a", {"Ref": "Env"}]]}}, "Type": "AWS::Lambda::Function"}}}`
	if r.Template != want {
		t.Errorf("template\n%s\nwant\n%s", r.Template, want)
	}
}
