package blueprint

import (
	"context"
	"strings"
	"testing"
)

type nopBlueprint struct{}

func (nopBlueprint) Variables() []Variable { return nil }
func (nopBlueprint) Render(context.Context, *Input) (*Template, error) {
	return &Template{Body: []byte("{}"), Format: "json"}, nil
}

func TestRegistry(t *testing.T) {
	f := func() Blueprint { return nopBlueprint{} }
	registerOnce("test.registry.Alpha", f)
	registerOnce("test.registry.Beta", f)

	if _, err := Lookup("test.registry.Alpha"); err != nil {
		t.Fatalf("Lookup registered: %v", err)
	}
	names := Names()
	if !contains(names, "test.registry.Alpha") || !contains(names, "test.registry.Beta") {
		t.Errorf("Names() = %v, missing registered names", names)
	}

	tests := []struct {
		name      string
		classPath string
		want      string
	}{
		{"typo suggests the nearest name", "test.registry.Alpah", `unknown blueprint class_path "test.registry.Alpah"; did you mean "test.registry.Alpha"`},
		{"different module, same class suggests it", "other.Beta", `did you mean "test.registry.Beta"`},
		{"nothing close suggests nothing", "zzzzzzzzzzzzzzzzzzzzzzzz", `unknown blueprint class_path "zzzzzzzzzzzzzzzzzzzzzzzz"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Lookup(tt.classPath)
			if err == nil {
				t.Fatal("Lookup: want error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q, want it to contain %q", err, tt.want)
			}
			if strings.HasPrefix(tt.classPath, "zzz") && strings.Contains(err.Error(), "did you mean") {
				t.Errorf("error = %q, want no suggestion", err)
			}
		})
	}
}

func TestRegisterDuplicatePanics(t *testing.T) {
	f := func() Blueprint { return nopBlueprint{} }
	registerOnce("test.registry.Dup", f)
	defer func() {
		if recover() == nil {
			t.Error("second Register of the same class path did not panic")
		}
	}()
	Register("test.registry.Dup", f)
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// registerOnce registers a test blueprint unless an earlier run of the test
// (go test -count=N) already did: the registry is process-wide.
func registerOnce(classPath string, f func() Blueprint) {
	if _, err := Lookup(classPath); err != nil {
		Register(classPath, f)
	}
}
