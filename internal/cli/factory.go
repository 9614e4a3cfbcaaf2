package cli

import (
	"os"

	"github.com/stacker-go/stacker/internal/target"
	"github.com/stacker-go/stacker/internal/ui"
)

// Factory hands every command what it needs from outside its own flags
// (the cli/cli pattern): the streams, the environment and how a run's
// credential factory is made. Commands take it instead of reaching for
// os.Stdout, os.Getenv or a package-level client; NewFactory gives the
// process's, and the demo and tests give their own.
type Factory struct {
	IO IO
	// Getenv reads the environment a run sees (the STACKER_* defaults of
	// flags); nil means the process environment.
	Getenv func(string) string
	// NewTargets makes a run's credential factory from the flags' settings;
	// nil means target.NewFactory. The demo points it at its sandbox.
	NewTargets func(target.Options) *target.Factory
}

// NewFactory returns the factory of a real run over stdio.
func NewFactory(stdio IO) *Factory { return &Factory{IO: stdio} }

func (f *Factory) getenv(key string) string {
	if f.Getenv == nil {
		return os.Getenv(key)
	}
	return f.Getenv(key)
}

func (f *Factory) targets(o target.Options) *target.Factory {
	if f.NewTargets == nil {
		return target.NewFactory(o)
	}
	return f.NewTargets(o)
}

// console returns a console over the factory's streams (status lines and
// prompts).
func (f *Factory) console() *ui.Console { return ui.NewConsole(f.IO.In, f.IO.Out, f.IO.ErrOut) }
