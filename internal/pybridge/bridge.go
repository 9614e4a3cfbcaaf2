// Package pybridge runs a config's Python code: blueprints named by a
// class_path that is not a registered Go blueprint, hooks whose path is not
// a Go hook, and custom lookup handlers written in Python.
//
// One Python process serves a whole run. It starts lazily on the first
// request, is reused for every stack, hook and lookup, and is killed (with
// everything it started: it leads its own process group) when the run ends
// or is interrupted. Requests and answers are one JSON object per line on
// the process's stdin and stdout; the Python side moves those pipes out of
// the way of user code, whose print() output goes to stderr.
//
// If the Python environment has the stacker package (or runway's CFNgin),
// blueprints run against it unchanged; otherwise a small compatibility
// package embedded in the binary provides the parts of stacker's API that
// troposphere blueprints import. The package knows nothing of the config
// format, AWS calls or the graph: callers hand it settings and values.
package pybridge

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// EnvPython names the interpreter; it wins over the config's python: key.
const EnvPython = "STACKER_PYTHON"

// EnvWorkers caps the Python processes started for parallel rendering
// (default DefaultWorkers).
const EnvWorkers = "STACKER_PYTHON_WORKERS"

// DefaultWorkers is one process: rendering through more was not faster on
// the benchmark machine (bench/bridge, README's benchmark table), and one process keeps one
// interpreter start per run.
const DefaultWorkers = 1

// startTimeout bounds the interpreter start and the bridge's handshake.
const startTimeout = 60 * time.Second

// Settings describe where the Python code lives for one run.
type Settings struct {
	// Python is the config's python: key ("" if unset), resolved like a
	// command name (PATH) or relative to ConfigDir when it has a slash.
	Python string
	// ConfigDir is the config's directory: the Python side resolves
	// file:// paths against it and it is the base of relative paths.
	ConfigDir string
	// Paths are directories appended to Python's sys.path in this order:
	// the config's sys_path entries, then package_sources paths. Absolute.
	Paths []string
	// Context is the run's base context (namespace, environment,
	// mappings...); hook and lookup calls start from it.
	Context Context
	// SysPath is the config's sys_path as written, for messages.
	SysPath string
	// Sources, when set, fetches the config's package_sources (once, just
	// before the first Python process starts) and returns the directories
	// to append after Paths.
	Sources func(ctx context.Context) ([]string, error)
}

// Options are fixed for a bridge's life.
type Options struct {
	// Stderr receives the Python process's stderr (user prints and logs);
	// nil means os.Stderr.
	Stderr io.Writer
	// Workers caps concurrent Python processes; 0 reads EnvWorkers, else
	// DefaultWorkers.
	Workers int
	// Getenv reads the environment (nil: os.Getenv); tests replace it.
	Getenv func(string) string
}

// Bridge is a run's Python bridge. The zero value is not usable; call New.
// A Bridge is safe for concurrent use.
type Bridge struct {
	opts Options

	mu       sync.Mutex
	settings *Settings // from Configure
	prepared bool      // Sources fetched into settings.Paths
	python   string    // resolved interpreter
	source   string    // where the interpreter came from, for messages
	dir      string    // extracted bridge script and compatibility package
	hello    *Hello
	startErr error // sticky: a missing interpreter is reported once per stack, not retried
	workers  []*worker
	idle     chan *worker
	closed   bool
	starts   int

	errMu sync.Mutex // serializes stderr lines from several workers
}

// Hello is what the Python side reports when it starts.
type Hello struct {
	Python      string `json:"python"`
	Executable  string `json:"executable"`
	Stacker     string `json:"stacker"`     // "compat", or the installed package's directory
	Troposphere string `json:"troposphere"` // version, "" if not installed
}

// New returns a bridge that starts no process until its first request.
func New(opts Options) *Bridge {
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
		if s := opts.Getenv(EnvWorkers); s != "" {
			var n int
			if _, err := fmt.Sscanf(s, "%d", &n); err == nil && n > 0 && n <= 64 {
				opts.Workers = n
			}
		}
	}
	return &Bridge{opts: opts, idle: make(chan *worker, opts.Workers)}
}

type ctxKey struct{}

// NewContext returns ctx carrying b, for code that renders, calls hooks
// or resolves lookups deep inside a run.
func NewContext(ctx context.Context, b *Bridge) context.Context {
	return context.WithValue(ctx, ctxKey{}, b)
}

// FromContext returns the run's bridge, or nil.
func FromContext(ctx context.Context) *Bridge {
	b, _ := ctx.Value(ctxKey{}).(*Bridge)
	return b
}

// Configure sets where the run's Python code lives. Call it once the
// config is loaded, before the first request.
func (b *Bridge) Configure(s Settings) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.settings = &s
	b.prepared = false
}

// Settings returns the settings given to Configure (nil before).
func (b *Bridge) Settings() *Settings {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.settings
}

// Starts is how many Python processes this bridge has started.
func (b *Bridge) Starts() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.starts
}

// Info returns what the Python side reported at start (nil before).
func (b *Bridge) Info() *Hello {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.hello
}

// Close stops every Python process (and whatever they started) and removes
// the extracted files. It is safe to call more than once.
func (b *Bridge) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	ws := b.workers
	b.workers = nil
	dir := b.dir
	b.mu.Unlock()
	for _, w := range ws {
		w.stop(2 * time.Second)
	}
	if dir != "" {
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("python bridge: removing %s: %w", dir, err)
		}
	}
	return nil
}

// findPython resolves the interpreter: STACKER_PYTHON, then the config's
// python: key, then python3 on PATH.
func (b *Bridge) findPython(s *Settings) (path, source string, err error) {
	type cand struct{ name, source string }
	var c cand
	switch {
	case b.opts.Getenv(EnvPython) != "":
		c = cand{b.opts.Getenv(EnvPython), EnvPython}
	case s.Python != "":
		c = cand{s.Python, "the config's python: key"}
		if strings.ContainsRune(c.name, filepath.Separator) && !filepath.IsAbs(c.name) && s.ConfigDir != "" {
			c.name = filepath.Join(s.ConfigDir, c.name)
		}
	default:
		c = cand{"python3", "python3 on PATH"}
	}
	p, err := exec.LookPath(c.name)
	if err != nil {
		if c.source == "python3 on PATH" {
			return "", c.source, &Error{Kind: KindNoPython, Message: "no Python interpreter found: " + EnvPython +
				" is not set, the config has no python: key, and there is no python3 on PATH"}
		}
		return "", c.source, &Error{Kind: KindNoPython, Message: fmt.Sprintf("Python interpreter %q (from %s) not found: %v", c.name, c.source, err)}
	}
	return p, c.source, nil
}

// acquire returns an idle worker, starting one when none is idle and
// fewer than Workers run.
func (b *Bridge) acquire(ctx context.Context) (*worker, error) {
	for {
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			return nil, errors.New("python bridge: closed")
		}
		if b.startErr != nil {
			err := b.startErr
			b.mu.Unlock()
			return nil, err
		}
		if b.settings == nil {
			b.mu.Unlock()
			return nil, errors.New("python bridge: not configured (no config loaded)")
		}
		select {
		case w := <-b.idle:
			b.mu.Unlock()
			if w.isDead() {
				b.forget(w)
				continue
			}
			return w, nil
		default:
		}
		if len(b.workers) < b.opts.Workers {
			w, err := b.startLocked(ctx)
			if err != nil {
				if ctx.Err() == nil {
					b.startErr = err
				}
				b.mu.Unlock()
				return nil, err
			}
			b.workers = append(b.workers, w)
			b.mu.Unlock()
			return w, nil
		}
		b.mu.Unlock()
		select {
		case w := <-b.idle:
			if w.isDead() {
				b.forget(w)
				continue
			}
			return w, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (b *Bridge) release(w *worker) {
	if w.isDead() {
		b.forget(w)
		return
	}
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		w.stop(0)
		return
	}
	b.idle <- w
}

func (b *Bridge) forget(w *worker) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, x := range b.workers {
		if x == w {
			b.workers = append(b.workers[:i], b.workers[i+1:]...)
			break
		}
	}
}

// startLocked starts one Python process (b.mu held).
func (b *Bridge) startLocked(ctx context.Context) (*worker, error) {
	s := b.settings
	if !b.prepared && s.Sources != nil {
		extra, err := s.Sources(ctx)
		if err != nil {
			return nil, err
		}
		s.Paths = append(s.Paths, extra...)
	}
	b.prepared = true
	if b.python == "" {
		p, source, err := b.findPython(s)
		if err != nil {
			return nil, err
		}
		b.python, b.source = p, source
		slog.Debug("python bridge: interpreter", "path", p, "from", source)
	}
	if b.dir == "" {
		dir, err := extract()
		if err != nil {
			return nil, err
		}
		b.dir = dir
	}
	verbose := slog.Default().Enabled(ctx, slog.LevelDebug)
	w, hello, err := startWorker(ctx, b, s, verbose)
	if err != nil {
		return nil, err
	}
	b.starts++
	if b.hello == nil {
		b.hello = hello
		slog.Debug("python bridge: started", "python", hello.Python, "executable", hello.Executable,
			"stacker", hello.Stacker, "troposphere", hello.Troposphere, "workers", b.opts.Workers)
	}
	return w, nil
}

// call sends one request and decodes its result into out.
func (b *Bridge) call(ctx context.Context, req map[string]any, out any) error {
	w, err := b.acquire(ctx)
	if err != nil {
		return err
	}
	defer b.release(w)
	b.mu.Lock()
	req["sys_path"] = b.settings.Paths
	b.mu.Unlock()
	raw, err := w.roundTrip(ctx, req)
	if err != nil {
		return err
	}
	var resp struct {
		OK     bool            `json:"ok"`
		Result json.RawMessage `json:"result"`
		Error  *Error          `json:"error"`
	}
	if err := json.Unmarshal(raw, &resp); err != nil {
		return fmt.Errorf("python bridge: bad answer %q: %w", truncate(string(raw), 200), err)
	}
	if !resp.OK {
		if resp.Error == nil {
			return errors.New("python bridge: failed without an error")
		}
		resp.Error.python = b.describePython()
		return resp.Error
	}
	if out == nil {
		return nil
	}
	if err := decodeJSON(resp.Result, out); err != nil {
		return fmt.Errorf("python bridge: decoding answer: %w", err)
	}
	return nil
}

func (b *Bridge) describePython() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.hello != nil && b.hello.Executable != "" {
		return b.python + " (Python " + b.hello.Python + ", from " + b.source + ")"
	}
	return b.python
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// stderrLines copies r to the bridge's stderr line by line.
func (b *Bridge) stderrLines(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		b.errMu.Lock()
		fmt.Fprintln(b.opts.Stderr, sc.Text())
		b.errMu.Unlock()
	}
}
