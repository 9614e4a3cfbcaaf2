package main

import (
	"os"
	"strings"
	"testing"
)

func TestGenerateCountsEdges(t *testing.T) {
	dir := t.TempDir()
	path, err := Generate(dir, 50, 200, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	stacks := strings.Count(s, "  - name: ")
	edges := strings.Count(s, "      - stack-") + strings.Count(s, "${output ")
	if stacks != 50 || edges != 200 {
		t.Errorf("generated %d stacks, %d edges", stacks, edges)
	}
	if _, err := Generate(dir, 3, 4, 1); err == nil {
		t.Error("4 edges accepted for 3 stacks")
	}
}
