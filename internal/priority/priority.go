// Package priority carries how urgent a piece of work is through a
// context, from the engine (which knows the graph) down to the API budget
// (which decides whose call goes next), so neither imports the other.
//
// A priority is a number: higher goes first. The engine gives each step
// the longest remaining chain of its node (engine.Priorities); work without
// a priority ranks as None, below every step; the status poller's rounds
// rank as Top, above every step, since they are what sees stacks finish.
package priority

import (
	"context"
	"errors"
	"math"
)

// Priorities every caller can name.
const (
	// None is the priority of work that has none in its context (lookups,
	// uploads, hooks outside a step): below every step's.
	None = 0.0
	// Top is above every other priority: calls that must never wait behind
	// queued submissions (status polls).
	Top = math.MaxFloat64
)

type key struct{}

// With returns ctx carrying priority p.
func With(ctx context.Context, p float64) context.Context {
	return context.WithValue(ctx, key{}, p)
}

// From is the priority ctx carries, None when it carries none.
func From(ctx context.Context) float64 {
	if p, ok := ctx.Value(key{}).(float64); ok {
		return p
	}
	return None
}

type spareKey struct{}

// WithSpare marks the calls made with ctx as spare: each goes only when
// the budget can spare it at once (a token free, nobody queued, and a
// reserve left for the calls that matter), else it fails at once with
// ErrNotSpared instead of waiting. The live view's resource events are
// read so: they must never slow down the polls that see stacks finish.
func WithSpare(ctx context.Context) context.Context {
	return context.WithValue(ctx, spareKey{}, true)
}

// IsSpare reports whether ctx marks its calls as spare (WithSpare).
func IsSpare(ctx context.Context) bool {
	b, _ := ctx.Value(spareKey{}).(bool)
	return b
}

// ErrNotSpared is a spare call's error when the budget had none to spare.
var ErrNotSpared = errors.New("the API budget has no call to spare")
