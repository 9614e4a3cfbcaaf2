package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// bigConfig writes a config of n stacks where stack i reads outputs of
// stacks i-1 and i/2 (about 2 edges a stack), plus explicit requires.
func bigConfig(tb testing.TB, n int) string {
	tb.Helper()
	var b strings.Builder
	b.WriteString("namespace: ${ns}\nstacker_bucket: ''\ncommon: &common\n  region: eu-west-1\n  profile: prod\nstacks:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  - name: stack-%04d\n    <<: *common\n    class_path: blueprints.Generic\n    tags: {owner: team-%d}\n    variables:\n      Cidr: 10.%d.0.0/16\n      Count: %d\n", i, i%7, i%250, i)
		if i > 0 {
			fmt.Fprintf(&b, "      Prev: ${output stack-%04d::Id}\n      Subnets: ${split ,::${output stack-%04d::Subnets}}\n    requires: [stack-%04d]\n", i-1, i/2, (i*7)%i)
		}
	}
	dir := tb.TempDir()
	path := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

func BenchmarkLoad2000Stacks(b *testing.B) {
	path := bigConfig(b, 2000)
	fi, _ := os.Stat(path)
	b.SetBytes(fi.Size())
	b.ReportAllocs()
	start := cpuTime()
	for b.Loop() {
		cfg, err := Load(LoadOptions{Path: path, EnvOverrides: []string{"ns=bench"}})
		if err != nil {
			b.Fatal(err)
		}
		if len(cfg.Stacks) != 2000 {
			b.Fatal(len(cfg.Stacks))
		}
	}
	// CPU time (user+system, all threads, GC included) is steadier than
	// wall time on a shared machine.
	b.ReportMetric(float64((cpuTime()-start).Milliseconds())/float64(b.N), "cpu-ms/op")
}

func BenchmarkDependencies2000Stacks(b *testing.B) {
	path := bigConfig(b, 2000)
	cfg, err := Load(LoadOptions{Path: path, EnvOverrides: []string{"ns=bench"}})
	if err != nil {
		b.Fatal(err)
	}
	reg := cfg.Registry()
	b.ReportAllocs()
	for b.Loop() {
		edges := 0
		for _, st := range cfg.Stacks {
			d, err := reg.Dependencies(st.Variables)
			if err != nil {
				b.Fatal(err)
			}
			edges += len(d)
		}
		b.ReportMetric(float64(edges), "edges")
	}
}

// TestBigConfigLoads keeps the benchmark's config honest in normal runs.
func TestBigConfigLoads(t *testing.T) {
	cfg, err := Load(LoadOptions{Path: bigConfig(t, 50), EnvOverrides: []string{"ns=bench"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Stacks) != 50 || cfg.Stacks[10].Region != "eu-west-1" {
		t.Fatalf("stacks %d", len(cfg.Stacks))
	}
}
