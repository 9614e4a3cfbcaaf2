package ui

import "testing"

// Exported for the external test package.
var (
	SampleBuild       = sampleBuild
	SampleInterrupted = sampleInterrupted
)

func Golden(t *testing.T, name string, got []byte) { t.Helper(); golden(t, name, got) }
