package lookup

import (
	"context"
	"slices"
	"strings"
	"testing"

	ilookup "github.com/stacker-go/stacker/internal/lookup"
)

func TestRegisteredHandlerResolvesThroughAConfigsRegistry(t *testing.T) {
	// The registry is process-wide: a second run (-count=2) finds it there.
	if !slices.Contains(Names(), "test.Greet") {
		Register("test.Greet", func(_ context.Context, value string, env *Env) (any, error) {
			return "hello " + value + " from " + env.Stack + " in " + env.Environment["team"].(string), nil
		})
	}
	r := ilookup.NewRegistry()
	if err := r.UseCustom("greet", "test.Greet"); err != nil {
		t.Fatal(err)
	}
	got, err := r.Resolve(context.Background(), map[string]any{"Msg": "${greet world}"},
		&ilookup.Env{Stack: "app", Environment: map[string]any{"team": "infra"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := "hello world from app in infra"; got.(map[string]any)["Msg"] != want {
		t.Errorf("Msg = %v, want %q", got, want)
	}
}

func TestRegisterRejectsProgrammingErrors(t *testing.T) {
	ok := func(context.Context, string, *Env) (any, error) { return "", nil }
	if !slices.Contains(Names(), "test.Once") {
		Register("test.Once", ok)
	}
	for _, tt := range []struct {
		name    string
		regName string
		h       Handler
		want    string
	}{
		{"empty name", "", ok, "empty name"},
		{"nil handler", "test.Nil", nil, "nil handler"},
		{"duplicate name", "test.Once", ok, "registered twice"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil || !strings.Contains(r.(string), tt.want) {
					t.Errorf("panic = %v, want one containing %q", r, tt.want)
				}
			}()
			Register(tt.regName, tt.h)
		})
	}
}
