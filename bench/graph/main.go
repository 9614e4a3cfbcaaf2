// Command graph benchmarks the offline commands on a large generated
// config: it builds the stacker binary, writes a config of N stacks with M
// dependency edges (half `requires`, half `${output}` lookups) and raw
// templates, then runs `stacker graph` and `stacker build --outline`
// several times, printing wall time and peak RSS (getrusage of the child).
//
//	go run ./bench/graph                  # 2,000 stacks, 5,000 edges, 5 runs
//	go run ./bench/graph -stacks 5000 -edges 20000 -runs 3
//	go run ./bench/graph -gen /tmp/big    # only write the config
package main

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/stacker-go/stacker/bench/internal/benchutil"
)

func main() {
	stacks := flag.Int("stacks", 2000, "number of stacks")
	edges := flag.Int("edges", 5000, "number of dependency edges")
	runs := flag.Int("runs", 5, "runs per command")
	gen := flag.String("gen", "", "only generate the config into this directory")
	bin := flag.String("bin", "", "use this stacker binary instead of building one")
	flag.Parse()
	if err := run(*stacks, *edges, *runs, *gen, *bin); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(stacks, edges, runs int, gen, bin string) error {
	if gen != "" {
		path, err := Generate(gen, stacks, edges, 1)
		if err != nil {
			return err
		}
		fmt.Println(path)
		return nil
	}
	tmp, err := os.MkdirTemp("", "stacker-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if bin == "" {
		if bin, err = benchutil.BuildStacker(tmp); err != nil {
			return err
		}
	}
	cfg, err := Generate(filepath.Join(tmp, "config"), stacks, edges, 1)
	if err != nil {
		return err
	}
	fmt.Printf("config: %d stacks, %d edges (%s)\n", stacks, edges, cfg)
	for _, c := range []struct {
		name string
		args []string
	}{
		{"graph -f dot", []string{"graph", cfg}},
		{"graph -f json --reduce", []string{"graph", "-f", "json", "--reduce", cfg}},
		{"build --outline", []string{"build", "--outline", cfg}},
	} {
		var walls, cpus []time.Duration
		var rss []int64
		for i := 0; i < runs; i++ {
			w, cpu, r, err := measure(bin, c.args)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			walls = append(walls, w)
			cpus = append(cpus, cpu)
			rss = append(rss, r)
		}
		slices.Sort(walls)
		slices.Sort(cpus)
		slices.Sort(rss)
		fmt.Printf("%-24s wall median %6.3fs max %6.3fs   cpu (user+sys) median %6.3fs   peak RSS median %5.1f MB max %5.1f MB\n",
			c.name, walls[len(walls)/2].Seconds(), walls[len(walls)-1].Seconds(), cpus[len(cpus)/2].Seconds(),
			float64(rss[len(rss)/2])/1024, float64(rss[len(rss)-1])/1024)
	}
	return nil
}

// measure runs bin once and returns its wall time, CPU time (user+sys)
// and peak RSS in KiB. CPU time is the figure to trust on a busy machine.
func measure(bin string, args []string) (wall, cpu time.Duration, rssKiB int64, err error) {
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stdout = nil // discard
	cmd.Stderr = &stderr
	start := time.Now()
	err = cmd.Run()
	wall = time.Since(start)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("%v: %s", err, lastLine(stderr.String()))
	}
	cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return wall, cpu, benchutil.PeakRSSKiB(cmd.ProcessState), nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

const rawTemplate = `{
    "AWSTemplateFormatVersion": "2010-09-09",
    "Parameters": {
        "Upstream": {"Type": "String", "Default": ""},
        "Size": {"Type": "String", "Default": "small"}
    },
    "Resources": {
        "Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}
    },
    "Outputs": {
        "Id": {"Value": {"Ref": "Handle"}}
    }
}
`

// Generate writes dir/stacker.yaml with n stacks and (about) m distinct
// edges, each from a stack to an earlier one, so the graph is acyclic. Half
// the edges are requires, half ${output} lookups. It returns the config path.
func Generate(dir string, n, m int, seed int64) (string, error) {
	if n < 2 && m > 0 {
		return "", fmt.Errorf("need at least 2 stacks for edges")
	}
	if max := n * (n - 1) / 2; m > max {
		return "", fmt.Errorf("at most %d edges fit %d stacks", max, n)
	}
	if err := os.MkdirAll(filepath.Join(dir, "templates"), 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "templates", "stack.json"), []byte(rawTemplate), 0o644); err != nil {
		return "", err
	}
	rng := rand.New(rand.NewSource(seed))
	requires := make([][]int, n)
	lookups := make([][]int, n)
	seen := map[[2]int]bool{}
	for e := 0; e < m; {
		i := 1 + rng.Intn(n-1)
		j := rng.Intn(i)
		if seen[[2]int{i, j}] {
			continue
		}
		seen[[2]int{i, j}] = true
		if e%2 == 0 {
			requires[i] = append(requires[i], j)
		} else {
			lookups[i] = append(lookups[i], j)
		}
		e++
	}
	var b strings.Builder
	b.WriteString("namespace: bench\nstacker_bucket: \"\"\nstacks:\n")
	name := func(i int) string { return fmt.Sprintf("stack-%05d", i) }
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  - name: %s\n    template_path: templates/stack.json\n", name(i))
		if len(requires[i]) > 0 {
			b.WriteString("    requires:\n")
			for _, j := range requires[i] {
				fmt.Fprintf(&b, "      - %s\n", name(j))
			}
		}
		b.WriteString("    variables:\n      Size: small\n")
		if len(lookups[i]) > 0 {
			parts := make([]string, len(lookups[i]))
			for k, j := range lookups[i] {
				parts[k] = fmt.Sprintf("${output %s::Id}", name(j))
			}
			fmt.Fprintf(&b, "      Upstream: %s\n", strings.Join(parts, ","))
		}
	}
	path := filepath.Join(dir, "stacker.yaml")
	return path, os.WriteFile(path, []byte(b.String()), 0o644)
}
