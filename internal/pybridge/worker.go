package pybridge

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// worker is one Python process serving one request at a time.
type worker struct {
	cmd     *exec.Cmd
	in      io.WriteCloser
	out     *bufio.Reader
	outFile *os.File
	exited  chan struct{} // closed when the process has been waited for
	dead    atomic.Bool
	nextID  int64

	stopOnce sync.Once
	tail     *tailBuffer // last stderr bytes, for start failures
}

// tailBuffer keeps the last bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 4096 {
		t.buf = t.buf[len(t.buf)-4096:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}

func startWorker(ctx context.Context, b *Bridge, s *Settings, verbose bool) (*worker, *Hello, error) {
	paths, err := json.Marshal(s.Paths)
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(b.python, "-u", filepath.Join(b.dir, "stacker_bridge.py"))
	cmd.Env = append(os.Environ(),
		"STACKER_BRIDGE_PATHS="+string(paths),
		"STACKER_CONFIG_DIR="+s.ConfigDir,
		"PYTHONIOENCODING=utf-8",
	)
	if verbose {
		cmd.Env = append(cmd.Env, "STACKER_BRIDGE_VERBOSE=1")
	}
	if s.ConfigDir != "" {
		cmd.Dir = s.ConfigDir
	}
	ownProcessGroup(cmd)
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, err
	}
	// Our own pipe for answers, not StdoutPipe: Wait closes those as soon
	// as the process exits, racing a read of its last answer.
	out, outW, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	cmd.Stdout = outW
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		return nil, nil, err
	}
	err = cmd.Start()
	outW.Close()
	if err != nil {
		out.Close()
		return nil, nil, &Error{Kind: KindNoPython, Message: fmt.Sprintf("starting Python %s: %v", b.python, err)}
	}
	w := &worker{cmd: cmd, in: in, outFile: out, out: bufio.NewReaderSize(out, 256*1024), exited: make(chan struct{}), tail: &tailBuffer{}}
	var copied sync.WaitGroup
	copied.Add(1)
	go func() {
		defer copied.Done()
		b.stderrLines(io.TeeReader(errPipe, w.tail))
	}()
	go func() {
		copied.Wait() // Wait closes the pipes: read stderr to the end first
		_ = cmd.Wait()
		w.dead.Store(true)
		close(w.exited)
	}()

	sctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	line, err := w.readLine(sctx)
	if err != nil {
		w.stop(0)
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		msg := fmt.Sprintf("Python %s did not start the bridge: %v", b.python, err)
		if t := w.tail.String(); t != "" {
			msg += ": " + lastLines(t, 5)
		}
		return nil, nil, &Error{Kind: KindNoPython, Message: msg}
	}
	var hello Hello
	if err := json.Unmarshal(line, &hello); err != nil || hello.Python == "" {
		w.stop(0)
		return nil, nil, &Error{Kind: KindNoPython, Message: fmt.Sprintf("Python %s did not start the bridge: unexpected first line %q", b.python, truncate(string(line), 200))}
	}
	if !strings.HasPrefix(hello.Python, "3.") {
		w.stop(0)
		return nil, nil, &Error{Kind: KindNoPython, Message: fmt.Sprintf("Python %s is version %s; Python 3 is needed", b.python, hello.Python)}
	}
	return w, &hello, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

func (w *worker) isDead() bool { return w.dead.Load() }

// readLine reads one protocol line, giving up when ctx ends.
func (w *worker) readLine(ctx context.Context) ([]byte, error) {
	type res struct {
		line []byte
		err  error
	}
	ch := make(chan res, 1)
	go func() {
		line, err := w.out.ReadBytes('\n')
		ch <- res{line, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			if errors.Is(r.err, io.EOF) {
				return nil, errors.New("the Python process exited")
			}
			return nil, r.err
		}
		return bytes.TrimSpace(r.line), nil
	case <-ctx.Done():
		// The request may be stuck in user code: stop the process (and
		// what it started); the reading goroutine then sees EOF.
		w.stop(0)
		return nil, ctx.Err()
	}
}

// roundTrip sends one request and returns its answer line.
func (w *worker) roundTrip(ctx context.Context, req map[string]any) ([]byte, error) {
	if w.isDead() {
		return nil, errors.New("python bridge: the Python process has exited")
	}
	w.nextID++
	req["id"] = w.nextID
	line, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("python bridge: encoding request: %w", err)
	}
	line = append(line, '\n')
	if _, err := w.in.Write(line); err != nil {
		w.stop(0)
		return nil, fmt.Errorf("python bridge: sending request: %w%s", err, w.tailNote())
	}
	resp, err := w.readLine(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		w.stop(0)
		return nil, fmt.Errorf("python bridge: %w%s", err, w.tailNote())
	}
	return resp, nil
}

func (w *worker) tailNote() string {
	if t := w.tail.String(); t != "" {
		return ": " + lastLines(t, 5)
	}
	return ""
}

// stop ends the process: with grace > 0 it first closes stdin (the bridge
// exits on EOF) and waits that long; then it kills the whole process
// group, so nothing the user's code started is left running.
func (w *worker) stop(grace time.Duration) {
	w.stopOnce.Do(func() {
		w.dead.Store(true)
		_ = w.in.Close()
		if grace > 0 {
			select {
			case <-w.exited:
			case <-time.After(grace):
			}
		}
		killProcessGroup(w.cmd)
		select {
		case <-w.exited:
		case <-time.After(5 * time.Second):
		}
		_ = w.outFile.Close()
	})
}
