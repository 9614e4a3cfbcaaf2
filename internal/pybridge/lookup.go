package pybridge

import (
	"context"
	"errors"
	"fmt"

	"github.com/stacker-go/stacker/internal/lookup"
)

// LookupHandler is a lookup.Handler that runs a Python lookup handler
// named in a config's lookups: section (lookups: {Type: Path}) through the
// run's bridge (taken from the context). Its lookups create no graph
// edges: a Python handler's dependencies() is not asked, so a stack that
// needs another one first says so with requires:.
type LookupHandler struct {
	Type string // the lookup type it is registered as
	Path string // the dotted path of the class or function
}

// Handle implements lookup.Handler.
func (h LookupHandler) Handle(ctx context.Context, data string, env *lookup.Env) (any, error) {
	b := FromContext(ctx)
	if b == nil {
		return nil, errors.New("no Python bridge in this run for lookup handler " + h.Path)
	}
	call := LookupCall{Type: h.Type, Path: h.Path, Value: data, Stack: env.Stack}
	if s := b.Settings(); s != nil {
		call.Context = s.Context
	}
	if env.Environment != nil {
		call.Context.Environment = env.Environment
	}
	if env.HookData != nil {
		call.Context.HookData = env.HookData
	}
	if env.AWS != nil {
		cfg, err := env.AWS(ctx, "")
		if err != nil {
			return nil, fmt.Errorf("credentials for lookup handler %s: %w", h.Path, err)
		}
		call.AWS = &cfg
	}
	return b.CallLookup(ctx, call)
}
