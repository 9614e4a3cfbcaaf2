package ui

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestStatusLinesGolden(t *testing.T) {
	var buf bytes.Buffer
	off, on := false, true
	zone := time.FixedZone("X", 2*3600)
	clock := func() time.Time { return time.Date(2026, 11, 24, 3, 14, 5, 0, zone) }
	c := NewConsole(nil, &buf, &buf)
	c.Clock, c.Colour = clock, &off
	c.Status("vpc", "submitted", "creating new stack")
	c.Status("vpc", "complete", "creating new stack")
	c.Status("app", "skipped", "nochange")
	c.Status("db", "failed", "rolled back new stack")
	c.Status("diffed", "complete", "")
	c.Infof("ns-db Stack Roll Back Reason: %s", "Queue: bad name")
	c.Event(Event{Stack: "db", Time: time.Date(2026, 11, 24, 1, 14, 4, 0, time.UTC), LogicalID: "Queue", ResourceType: "AWS::SQS::Queue", Status: "CREATE_FAILED", Reason: "bad name"})
	c.Colour = &on
	c.Status("vpc", "submitted", "updating existing stack")
	c.Status("vpc", "complete", "updating existing stack")
	c.Status("db", "failed", "dependency has failed")
	c.Status("app", "skipped", "locked")
	golden(t, "status.golden", buf.Bytes())
}

func TestColourFollowsNoColor(t *testing.T) {
	t.Setenv("NO_COLOR", "1")
	c := NewConsole(nil, os.Stdout, os.Stderr)
	if c.colourOn() {
		t.Error("colour with NO_COLOR")
	}
	var buf bytes.Buffer
	t.Setenv("NO_COLOR", "")
	os.Unsetenv("NO_COLOR")
	c = NewConsole(nil, &buf, &buf)
	if c.colourOn() {
		t.Error("colour on a buffer")
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s:\n%s", path, got)
	}
}
