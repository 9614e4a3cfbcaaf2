package graph

import (
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/stacker-go/stacker/internal/config"
)

// FromConfig builds the graph of cfg with the edges its lookups declare:
// every output lookup in a stack's variables, nested ones included, found
// by the config's lookup registry (config.Config.Registry). A lookup that
// cannot be read is reported at its variable's position.
func FromConfig(cfg *config.Config) (*Graph, error) {
	reg := cfg.Registry()
	return New(cfg, func(st *config.Stack) ([]string, error) {
		names := make([]string, 0, len(st.Variables))
		for name := range st.Variables {
			names = append(names, name)
		}
		sort.Strings(names)
		var out []string
		for _, name := range names {
			d, err := reg.Dependencies(st.Variables[name])
			if err != nil {
				return nil, variableError(st, name, err)
			}
			out = append(out, d...)
		}
		sort.Strings(out)
		return slices.Compact(out), nil
	})
}

// variableError positions err at a stack variable, keeping a position the
// error already has.
func variableError(st *config.Stack, name string, err error) error {
	var ce *config.Error
	if errors.As(err, &ce) && ce.Pos.File != "" {
		return err
	}
	pos, ok := st.VariablePos[name]
	if !ok {
		pos = st.Pos
	}
	return &config.Error{Pos: pos, Msg: fmt.Sprintf("stack %q: variable %s: %v", st.Name, name, err)}
}
