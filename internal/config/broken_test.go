package config

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/broken/*.expect from the current messages")

// TestBrokenConfigs loads every testdata/broken/NAME.yaml and compares the
// error with NAME.expect. An optional NAME.opts holds one option a line:
// "env: PATH" (environment file), "e: KEY=VALUE" (a -e override) or
// "config: PATH" (load this path instead of NAME.yaml). Paths are relative
// to the package directory, as are the positions in messages.
func TestBrokenConfigs(t *testing.T) {
	files, err := filepath.Glob("testdata/broken/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no broken configs: %v", err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, ".env.yaml") {
			continue
		}
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			opts := LoadOptions{Path: f}
			base := strings.TrimSuffix(f, ".yaml")
			if b, err := os.ReadFile(base + ".opts"); err == nil {
				for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
					k, v, _ := strings.Cut(line, ": ")
					switch k {
					case "env":
						opts.EnvFile = v
					case "e":
						opts.EnvOverrides = append(opts.EnvOverrides, v)
					case "config":
						opts.Path = v
					default:
						t.Fatalf("bad opts line %q", line)
					}
				}
			}
			cfg, err := Load(opts)
			got := ""
			switch {
			case err != nil:
				got = err.Error()
			case len(cfg.Warnings) > 0:
				got = "warnings:\n" + strings.Join(cfg.Warnings, "\n")
			default:
				t.Fatalf("%s loaded without error or warning", f)
			}
			got += "\n"
			if *update {
				if err := os.WriteFile(base+".expect", []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(base + ".expect")
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("message differs\n got: %s\nwant: %s", got, want)
			}
		})
	}
}
