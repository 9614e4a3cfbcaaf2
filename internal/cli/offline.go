package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/stacker-go/stacker/internal/config"
	"github.com/stacker-go/stacker/internal/graph"
	"github.com/stacker-go/stacker/internal/lookup"
	"github.com/stacker-go/stacker/internal/preflight"
	"github.com/stacker-go/stacker/internal/template"
)

// printPlan writes stacker's plan outline (§6.7) on stderr, without the
// log timestamp: `Plan "<desc>":` then one `  - step: N: target: "<name>",
// action: "<action>"` line per node in g.Order(). Targets get the action
// "target_fn", as in stacker.
func printPlan(stdio IO, desc, action string, g *graph.Graph, message string) {
	w := stdio.ErrOut
	fmt.Fprintf(w, "Plan %q:\n", desc)
	for i, name := range g.Order() {
		a := action
		if g.IsTarget(name) {
			a = "target_fn"
		}
		fmt.Fprintf(w, "  - step: %d: target: %q, action: %q\n", i+1, name, a)
	}
	if message != "" {
		fmt.Fprintln(w, message)
	}
}

// dumpTemplates is `build --dump DIR`: it resolves each stack's variables
// offline (output and hook_data lookups become visible placeholders, AWS
// lookups fail), renders the template and writes it to
// DIR/stack_templates/<fqn>/<name>-<hash>.<json|yaml>. Targets, disabled
// stacks and locked stacks without a template are skipped with a line.
// A stack that fails to render is reported and the others still dump;
// any failure makes the command exit 1.
func dumpTemplates(ctx context.Context, stdio IO, cfg *config.Config, reg *lookup.Registry, g *graph.Graph, dir string) error {
	w := stdio.ErrOut
	fmt.Fprintf(w, "Dumping %q...\n", "Create/Update stacks")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return &ExitError{Code: ExitFailed, Err: fmt.Errorf("dump: %w", err)}
	}
	var failed []string
	for _, name := range g.Order() {
		if err := ctx.Err(); err != nil {
			return runErr(ctx, err)
		}
		st := g.Stack(name)
		switch {
		case st == nil: // a target: nothing to render
			continue
		case !st.Enabled:
			fmt.Fprintf(w, "Skipping stack %q (disabled)\n", name)
			continue
		case st.ClassPath == "" && st.TemplatePath == "":
			fmt.Fprintf(w, "Skipping stack %q (locked, no template)\n", name)
			continue
		}
		path, err := dumpStack(ctx, cfg, reg, st, dir)
		if err != nil {
			fmt.Fprintf(w, "error: %v\n", err) // dumpStack's errors name the stack once
			failed = append(failed, name)
			continue
		}
		fmt.Fprintf(w, "Writing stack %q -> %s\n", name, path)
	}
	if len(failed) > 0 {
		return &ExitError{Code: ExitFailed, Err: fmt.Errorf("dump failed for %d stack(s): %v", len(failed), failed)}
	}
	return nil
}

// dumpStack renders one stack into dir. Its errors name the stack once:
// template.Render's already do, the others get the prefix here.
func dumpStack(ctx context.Context, cfg *config.Config, reg *lookup.Registry, st *config.Stack, dir string) (string, error) {
	path, err := dumpStackTemplate(ctx, cfg, reg, st, dir)
	var rerr renderError
	switch {
	case err == nil:
		return path, nil
	case errors.As(err, &rerr):
		return "", rerr.err
	}
	return "", fmt.Errorf("stack %q: %w", st.Name, err)
}

// renderError is template.Render's error, which names the stack itself.
type renderError struct{ err error }

func (e renderError) Error() string { return e.err.Error() }
func (e renderError) Unwrap() error { return e.err }

func dumpStackTemplate(ctx context.Context, cfg *config.Config, reg *lookup.Registry, st *config.Stack, dir string) (string, error) {
	env := cfg.LookupEnv(st)
	env.Offline = true // output and hook_data render placeholders; AWS lookups fail
	vars := map[string]any{}
	if len(st.Variables) > 0 {
		resolved, err := reg.Resolve(ctx, st.Variables, env)
		if err != nil {
			return "", fmt.Errorf("resolve variables: %w", err)
		}
		m, ok := resolved.(map[string]any)
		if !ok {
			return "", fmt.Errorf("resolve variables: got %T, want a mapping", resolved)
		}
		vars = m
	}
	tpl, err := template.Render(ctx, cfg, st, vars)
	if err != nil {
		return "", renderError{err}
	}
	if tpl == nil {
		return "", errors.New("render template: no template")
	}
	path := filepath.Join(dir, filepath.FromSlash(template.ObjectKey(cfg.FQN(st.Name), st.Name, tpl)))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", fmt.Errorf("write template: %w", err)
	}
	if err := os.WriteFile(path, tpl.Body, 0o644); err != nil {
		return "", fmt.Errorf("write template: %w", err)
	}
	return path, nil
}

// offlineChecks runs the preflight checks that need no AWS (the ones build
// runs before its first change): every stack whose variables hold no
// lookup is rendered and its parameters checked; every template_path must
// exist. Problems are a config error (exit 2); warnings are printed.
func offlineChecks(ctx context.Context, stdio IO, cfg *config.Config, reg *lookup.Registry, g *graph.Graph) error {
	rep := preflight.Run(ctx, preflight.Options{
		Config: cfg, Lookups: reg, Stacks: g.Order(), Offline: true,
		Env: func(st *config.Stack) *lookup.Env {
			env := cfg.LookupEnv(st)
			env.Offline = true
			return env
		},
	})
	if err := ctx.Err(); err != nil {
		return err // interrupted while checking (exit 130), not a config problem
	}
	for _, w := range rep.Warnings {
		fmt.Fprintln(stdio.ErrOut, "WARNING:", w)
	}
	if err := rep.Err(); err != nil {
		return &ExitError{Code: ExitUsage, Err: err}
	}
	return nil
}
