package priority

import (
	"context"
	"testing"
)

func TestWithFrom(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		ctx  context.Context
		want float64
	}{
		{"none", ctx, None},
		{"set", With(ctx, 7), 7},
		{"innermost wins", With(With(ctx, 7), Top), Top},
		{"inherited by children", context.WithoutCancel(With(ctx, 3)), 3},
	}
	for _, tt := range tests {
		if got := From(tt.ctx); got != tt.want {
			t.Errorf("%s: From = %v, want %v", tt.name, got, tt.want)
		}
	}
	if !(Top > 1e300 && None < 1) {
		t.Errorf("Top %v must rank above and None %v below every chain length", Top, None)
	}
}

func TestSpare(t *testing.T) {
	ctx := context.Background()
	if IsSpare(ctx) {
		t.Error("a plain context is spare")
	}
	s := WithSpare(With(ctx, 3))
	if !IsSpare(s) || !IsSpare(context.WithoutCancel(s)) {
		t.Error("WithSpare is not seen by IsSpare, or not inherited")
	}
	if From(s) != 3 {
		t.Errorf("WithSpare lost the priority: %v", From(s))
	}
}
