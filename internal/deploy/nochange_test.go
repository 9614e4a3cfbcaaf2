package deploy

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stacker-go/stacker/internal/event"
	"github.com/stacker-go/stacker/internal/target"
)

// With deploy records a rebuild of an unchanged config makes no
// UpdateStack call at all (not even one CloudFormation refuses), the
// records are keyed by each stack's own account and region, and a stack
// whose input changed (a's output moves, so b's parameter does) is
// submitted again. Without them every stack is submitted.
func TestBuildSkipsUnchangedStacksFromDeployRecords(t *testing.T) {
	w := newWorld(seedAccounts)
	cfg, g := loadConfig(t, crossAccount)
	dir := filepath.Join(t.TempDir(), "deployed")
	build := func(records string) map[string]event.StackStatus {
		t.Helper()
		rec := &recorder{}
		o := options(w, cfg, g, rec)
		o.DeployRecords = records
		if err := Build(context.Background(), o); err != nil {
			t.Fatal(err)
		}
		return rec.final()
	}
	updates := func() int {
		n := 0
		for _, p := range []string{"", "prod", "stage"} {
			c := w.cloud(target.Key{Profile: p})
			c.mu.Lock()
			n += c.updateCalls
			c.mu.Unlock()
		}
		return n
	}

	build(dir)
	var files []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		files = append(files, e.Name())
	}
	want := []string{"111111111111_us-east-1_ns-solo.json", "222222222222_us-east-1_ns-b.json", "222222222222_us-east-1_ns-c.json", "333333333333_us-east-1_ns-a.json"}
	if !slices.Equal(files, want) {
		t.Fatalf("records %q, want %q", files, want)
	}

	for name, s := range build(dir) {
		if s.State != event.Skipped || s.Reason != "nochange" {
			t.Errorf("rebuild %s: %+v", name, s)
		}
	}
	if n := updates(); n != 0 {
		t.Errorf("rebuild made %d UpdateStack calls, want none", n)
	}

	// a's output changes out of band, and so does b's input: b is
	// submitted (and updated), the others are not.
	a := w.cloud(target.Key{Profile: "stage"}).find("ns-a")
	a.outputs["Out"] = "moved"
	a.created = a.created.Add(1)
	final := build(dir)
	if n := updates(); n != 2 {
		t.Errorf("after a and b changed: %d UpdateStack calls, want 2 (a refused, b updated)", n)
	}
	if s := final["b"]; s.State != event.Complete {
		t.Errorf("b after its input changed: %+v", s)
	}

	build("")
	if n := updates(); n != 2+4 {
		t.Errorf("without records: %d UpdateStack calls in all, want 6", n)
	}
}
