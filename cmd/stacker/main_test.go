package main

import (
	"strings"
	"testing"

	"github.com/stacker-go/stacker/blueprint"
)

// TestRegisteredBlueprints: the shipped binary registers only real
// blueprints, under names no user module can collide with by accident
// (stacker's test blueprints live in internal/testblueprints, for tests).
func TestRegisteredBlueprints(t *testing.T) {
	got := strings.Join(blueprint.Names(), " ")
	if want := "stacker_blueprints.vpc.VPC"; got != want {
		t.Errorf("registered blueprints = %q, want %q", got, want)
	}
}
