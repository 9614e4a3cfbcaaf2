package pybridge

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/stacker-go/stacker/internal/suggest"
)

// Kinds of Error.
const (
	KindNoPython           = "no_python"           // no interpreter, or it does not run the bridge
	KindMissingTroposphere = "missing_troposphere" // the code imports troposphere, which is not installed
	KindModuleNotFound     = "module_not_found"    // the module of the path is not on Python's path
	KindImportError        = "import_error"        // importing the module raised
	KindNotFound           = "not_found"           // the module has no such attribute
	KindNotBlueprint       = "not_a_blueprint"
	KindNotCallable        = "not_callable" // a hook or lookup path names something that cannot be called
	KindException          = "exception"    // the user's code raised
)

// Error is a failure on the Python side (or in starting it), with what the
// caller was doing. Error() is one line; the traceback is logged at debug
// level (-v) by Log.
type Error struct {
	// Set by the caller: what ran ("stack \"vpc\"", "hook", "lookup
	// \"mine\"") and the dotted path of the Python code.
	What string `json:"-"`
	Path string `json:"-"`
	// Role is what Path names: "blueprint", "hook", "lookup handler".
	Role string `json:"-"`
	// Hint says what to install or set.
	Hint string `json:"-"`

	Kind      string   `json:"kind"`
	Type      string   `json:"type"` // the exception's class
	Message   string   `json:"message"`
	File      string   `json:"file"` // the user's frame
	Line      int      `json:"line"`
	Traceback string   `json:"traceback"`
	Module    string   `json:"module"`
	Names     []string `json:"names"`
	SysPath   []string `json:"sys_path"`

	python string // the interpreter, for hints
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.What != "" {
		b.WriteString(e.What)
		b.WriteString(": ")
	}
	if e.Path != "" {
		role := e.Role
		if role == "" {
			role = "Python code"
		}
		fmt.Fprintf(&b, "Python %s %s: ", role, e.Path)
	}
	switch e.Kind {
	case KindException, "":
		if e.Type != "" {
			b.WriteString(e.Type)
			if e.Message != "" {
				b.WriteString(": ")
			}
		}
		b.WriteString(e.Message)
	default:
		b.WriteString(e.Message)
	}
	switch {
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, " (at %s:%d)", displayPath(e.File), e.Line)
	case e.File != "":
		fmt.Fprintf(&b, " (in %s)", displayPath(e.File))
	}
	if e.Hint != "" {
		b.WriteString("; ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

// Log writes the Python traceback at debug level (shown with -v).
func (e *Error) Log() {
	if e.Traceback != "" {
		slog.Debug("python traceback", "what", e.What, "path", e.Path, "traceback", e.Traceback)
	}
}

// displayPath shortens a file under the working directory to a relative path.
func displayPath(p string) string {
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(rel, "..") {
			return rel
		}
	}
	return p
}

// annotate fills in what the caller was doing and the hint for its kind.
func annotate(err error, what, role, path string, s *Settings) error {
	e, ok := err.(*Error)
	if !ok {
		if what != "" {
			return fmt.Errorf("%s: Python %s %s: %w", what, role, path, err)
		}
		return err
	}
	e.What, e.Role, e.Path = what, role, path
	py := e.python
	if py == "" {
		py = "the Python interpreter"
	}
	switch e.Kind {
	case KindNoPython:
		e.Hint = "install Python 3 with troposphere, or set " + EnvPython + " (or the config's python: key) to an interpreter that has it"
	case KindMissingTroposphere:
		e.Hint = "install it for " + py + " (python3 -m pip install troposphere), or point " + EnvPython + " (or python:) at an interpreter that has it"
	case KindModuleNotFound:
		if s == nil || s.SysPath == "" {
			e.Hint = "the config has no sys_path: set sys_path to the directory that contains " + e.Module + ", add a package_sources entry, or install the module for " + py
		} else {
			e.Hint = fmt.Sprintf("sys_path %q (relative to %s) and the package_sources paths were searched; fix sys_path, add a package_sources entry, or install the module for %s",
				s.SysPath, s.ConfigDir, py)
		}
	case KindImportError:
		if e.Type == "ModuleNotFoundError" && e.Module != "" {
			e.Hint = "install " + e.Module + " for " + py
		}
	case KindNotFound:
		if near := suggest.Find(lastElem(path), e.Names, suggest.Options{Max: 3, Limit: suggest.Fraction(3, 2), Ranked: true}); len(near) > 0 {
			e.Hint = "did you mean " + suggest.Quoted(near) + "?"
		}
	}
	e.Log()
	return e
}

func lastElem(p string) string {
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[i+1:]
	}
	return p
}
