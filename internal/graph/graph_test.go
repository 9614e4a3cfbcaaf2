package graph

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stacker-go/stacker/internal/config"
)

var update = flag.Bool("update", false, "rewrite golden files")

// cfgOf builds a config from "name:dep,dep" specs; a leading "@" marks a
// target. Positions are line = index+1.
func cfgOf(specs ...string) *config.Config {
	cfg := &config.Config{Path: "stacker.yaml"}
	for i, s := range specs {
		name, deps, _ := strings.Cut(s, ":")
		var req []string
		if deps != "" {
			req = strings.Split(deps, ",")
		}
		pos := config.Pos{File: "stacker.yaml", Line: i + 1, Col: 5}
		if strings.HasPrefix(name, "@") {
			cfg.Targets = append(cfg.Targets, config.Target{Name: name[1:], Requires: req, Pos: pos})
			continue
		}
		cfg.Stacks = append(cfg.Stacks, &config.Stack{Name: name, Requires: req, Enabled: true, Pos: pos})
	}
	return cfg
}

func mustNew(t testing.TB, cfg *config.Config) *Graph {
	t.Helper()
	g, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// batsConfig is the config of stacker's functional tests 07 and 08.
func batsConfig() *config.Config {
	return cfgOf("vpc", "bastion1:vpc", "bastion2:vpc", "app1:bastion1", "app2:bastion2")
}

func TestOrderMatchesStacker(t *testing.T) {
	tests := []struct {
		name  string
		cfg   *config.Config
		order string
	}{
		{"bats 07/08 example from §6.1", batsConfig(), "vpc,bastion2,bastion1,app2,app1"},
		{"independent stacks keep reversed config order", cfgOf("a", "b", "c"), "c,b,a"},
		{"chain", cfgOf("c:b", "b:a", "a"), "a,b,c"},
		{"successors visited in name order", cfgOf("top:z,m,a", "a", "m", "z"), "z,m,a,top"},
		{"targets are nodes", cfgOf("vpc", "app:vpc", "@all:app,vpc"), "vpc,app,all"},
		{"diamond", cfgOf("d:b,c", "b:a", "c:a", "a"), "a,c,b,d"},
		{"empty", cfgOf(), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := mustNew(t, tt.cfg)
			if got := strings.Join(g.Order(), ","); got != tt.order {
				t.Errorf("Order() = %s, want %s", got, tt.order)
			}
		})
	}
}

func TestRequiredByAndLookupDeps(t *testing.T) {
	cfg := cfgOf("vpc", "db", "app")
	cfg.Stacks[0].RequiredBy = []string{"db"}
	cfg.Stacks[2].Variables = map[string]any{"Db": "${output db::Endpoint}"}
	deps := func(st *config.Stack) ([]string, error) {
		if st.Name == "app" {
			return []string{"db", "db"}, nil // duplicates collapse
		}
		return nil, nil
	}
	g, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(g.Order(), ","); got != "vpc,db,app" {
		t.Errorf("Order() = %s", got)
	}
	if got := g.Deps("db"); !slices.Equal(got, []string{"vpc"}) {
		t.Errorf("Deps(db) = %v", got)
	}
	if got := g.Dependants("db"); !slices.Equal(got, []string{"app"}) {
		t.Errorf("Dependants(db) = %v", got)
	}
	if g.Stack("app") != cfg.Stacks[2] || g.IsTarget("app") || g.Has("nope") {
		t.Error("Stack/IsTarget/Has wrong")
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  *config.Config
		deps func(*config.Stack) ([]string, error)
		want string
	}{
		{"cycle of three printed in order", cfgOf("a:b", "b:c", "c:a"), nil,
			"stacker.yaml:1:5: dependency cycle: a -> b -> c -> a"},
		{"cycle starts at earliest stack", cfgOf("x", "c:a", "a:b", "b:c"), nil,
			"stacker.yaml:2:5: dependency cycle: c -> a -> b -> c"},
		{"self reference", cfgOf("vpc:vpc"), nil, "stacker.yaml:1:5: dependency cycle: vpc -> vpc"},
		{"cycle through a target", cfgOf("a:t", "@t:a"), nil, "stacker.yaml:1:5: dependency cycle: a -> t -> a"},
		{"unknown requires with suggestion", cfgOf("vpc", "app:vcp"), nil,
			`stacker.yaml:2:5: stack "app": requires unknown stack or target "vcp" (did you mean "vpc"?)`},
		{"unknown requires far from everything", cfgOf("vpc", "app:zzzzzzzz"), nil,
			`stacker.yaml:2:5: stack "app": requires unknown stack or target "zzzzzzzz" (known: app, vpc)`},
		{"unknown lookup dependency", cfgOf("vpc", "app"),
			func(st *config.Stack) ([]string, error) {
				if st.Name == "app" {
					return []string{"vpcc"}, nil
				}
				return nil, nil
			},
			`stacker.yaml:2:5: stack "app": output lookup refers to unknown stack or target "vpcc" (did you mean "vpc"?)`},
		{"target with unknown requires", cfgOf("vpc", "@all:vpx"), nil,
			`stacker.yaml:2:5: target "all": requires unknown stack or target "vpx" (did you mean "vpc"?)`},
		{"duplicate name across stack and target", cfgOf("vpc", "@vpc"), nil,
			`stacker.yaml:2:5: duplicate stack or target name "vpc" (first declared at stacker.yaml:1:5)`},
		{"deps callback error passes through", cfgOf("vpc"),
			func(*config.Stack) ([]string, error) { return nil, errors.New("bad lookup") }, "bad lookup"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg, tt.deps)
			if err == nil || err.Error() != tt.want {
				t.Errorf("err = %v\nwant %s", err, tt.want)
			}
		})
	}
}

func TestSelect(t *testing.T) {
	g := mustNew(t, batsConfig())
	tests := []struct {
		names   []string
		reverse bool
		order   string
	}{
		{[]string{"app1"}, false, "vpc,bastion1,app1"},
		{[]string{"bastion2", "app1"}, false, "vpc,bastion1,app1,bastion2"},
		{[]string{"bastion1"}, true, "bastion1,app1"},
		{[]string{"vpc"}, true, "vpc,bastion2,bastion1,app2,app1"},
		{nil, false, "vpc,bastion2,bastion1,app2,app1"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.names, tt.reverse), func(t *testing.T) {
			s, err := g.Select(tt.names, tt.reverse)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(s.Order(), ","); got != tt.order {
				t.Errorf("Order() = %s, want %s", got, tt.order)
			}
		})
	}
	_, err := g.Select([]string{"bastion3", "vpc"}, false)
	want := `unknown stack or target "bastion3" (did you mean "bastion1" or "bastion2"?)`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
}

func TestReverseIsDestroyOrder(t *testing.T) {
	g := mustNew(t, batsConfig())
	r := g.Reverse()
	// Kahn over the transposed graph: seeds vpc; then bastion1, bastion2; ...
	if got := strings.Join(r.Order(), ","); got != "app2,app1,bastion2,bastion1,vpc" {
		t.Errorf("Reverse().Order() = %s", got)
	}
	if got := r.Deps("vpc"); !slices.Equal(got, []string{"bastion1", "bastion2"}) {
		t.Errorf("reversed Deps(vpc) = %v", got)
	}
	if got := g.Deps("vpc"); len(got) != 0 {
		t.Errorf("original changed: %v", got)
	}
}

// naiveReduce drops a->c when c is reachable from another dependency of a.
func naiveReduce(g *Graph) map[string][]string {
	reach := func(from string) map[string]bool {
		seen := map[string]bool{}
		var walk func(string)
		walk = func(n string) {
			for _, d := range g.Deps(n) {
				if !seen[d] {
					seen[d] = true
					walk(d)
				}
			}
		}
		walk(from)
		return seen
	}
	out := map[string][]string{}
	for _, n := range g.Order() {
		for _, d := range g.Deps(n) {
			redundant := false
			for _, o := range g.Deps(n) {
				if o != d && reach(o)[d] {
					redundant = true
				}
			}
			if !redundant {
				out[n] = append(out[n], d)
			}
		}
	}
	return out
}

func TestReduceMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for round := 0; round < 30; round++ {
		cfg := randomConfig(rng, 40, 120)
		g := mustNew(t, cfg)
		r := g.Reduce()
		want := naiveReduce(g)
		for _, n := range g.Order() {
			if got := r.Deps(n); !slices.Equal(got, want[n]) && !(len(got) == 0 && len(want[n]) == 0) {
				t.Fatalf("round %d: Reduce().Deps(%s) = %v, want %v", round, n, got, want[n])
			}
		}
	}
	r := mustNew(t, cfgOf("a", "b:a", "c:a,b")).Reduce()
	if got := r.Deps("c"); !slices.Equal(got, []string{"b"}) {
		t.Errorf("Deps(c) = %v", got)
	}
}

// randomConfig makes a DAG: stack i may depend only on stacks j < i.
func randomConfig(rng *rand.Rand, stacks, edges int) *config.Config {
	cfg := &config.Config{}
	for i := 0; i < stacks; i++ {
		cfg.Stacks = append(cfg.Stacks, &config.Stack{Name: fmt.Sprintf("stack-%04d", i), Enabled: true})
	}
	for e := 0; e < edges; e++ {
		i := 1 + rng.Intn(stacks-1)
		j := rng.Intn(i)
		cfg.Stacks[i].Requires = append(cfg.Stacks[i].Requires, cfg.Stacks[j].Name)
	}
	rng.Shuffle(len(cfg.Stacks), func(a, b int) { cfg.Stacks[a], cfg.Stacks[b] = cfg.Stacks[b], cfg.Stacks[a] })
	return cfg
}

func TestFormatsGolden(t *testing.T) {
	cfg := cfgOf("vpc", "bastion1:vpc", "bastion2:vpc", "app1:bastion1,vpc", "app2:bastion2", "@all:app1,app2", "lonely")
	g := mustNew(t, cfg)
	for _, reduce := range []bool{false, true} {
		for _, f := range Formats {
			name := f
			gg := g
			if reduce {
				name += "-reduce"
				gg = g.Reduce()
			}
			t.Run(name, func(t *testing.T) {
				var buf bytes.Buffer
				if err := gg.Write(&buf, f); err != nil {
					t.Fatal(err)
				}
				golden(t, filepath.Join("testdata", name+".golden"), buf.Bytes())
				if f == "json" {
					var v map[string]map[string]map[string][]string
					if err := json.Unmarshal(buf.Bytes(), &v); err != nil {
						t.Fatalf("invalid json: %v", err)
					}
				}
			})
		}
	}
	if err := g.Write(&bytes.Buffer{}, "png"); err == nil {
		t.Error("unknown format accepted")
	}
}

func TestJSONMatchesPythonEncoding(t *testing.T) {
	var buf bytes.Buffer
	if err := mustNew(t, cfgOf()).WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	if buf.String() != "{\n    \"steps\": {}\n}\n" {
		t.Errorf("empty graph json = %q", buf.String())
	}
	if got := pyQuote("é\"x\\\t\U0001F600\x7f"); got != `"\u00e9\"x\\\t\ud83d\ude00\u007f"` {
		t.Errorf("pyQuote = %s", got)
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s mismatch:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func largeConfig(stacks, edges int) *config.Config {
	return randomConfig(rand.New(rand.NewSource(42)), stacks, edges)
}

func BenchmarkNew2000x5000(b *testing.B) {
	cfg := largeConfig(2000, 5000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := New(cfg, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReduce2000x5000(b *testing.B) {
	g := mustNew(b, largeConfig(2000, 5000))
	b.ReportAllocs()
	for b.Loop() {
		g.Reduce()
	}
}

func BenchmarkSelect2000x5000(b *testing.B) {
	g := mustNew(b, largeConfig(2000, 5000))
	names := g.Order()[1900:]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.Select(names, false); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteJSON2000x5000(b *testing.B) {
	g := mustNew(b, largeConfig(2000, 5000))
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		g.WriteJSON(&buf)
	}
}

func TestFromConfigFollowsLookups(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "stacker.yaml")
	if err := os.WriteFile(path, []byte(`namespace: t
stacks:
  - name: vpc
    template_path: t.yaml
  - name: db
    template_path: t.yaml
  - name: app
    template_path: t.yaml
    variables:
      A: ${split ,::${output vpc::Subnets}}
      B: ${output ${default which::vpc}::Id}
      C: ["${output vpc::Id}"]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(config.LoadOptions{Path: path, EnvOverrides: []string{"which=db"}})
	if err != nil {
		t.Fatal(err)
	}
	g, err := FromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Deps("app"); !slices.Equal(got, []string{"db", "vpc"}) {
		t.Errorf("Deps(app) = %v, want [db vpc] (nested and environment-built names included)", got)
	}
}
