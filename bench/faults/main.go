// Command faults measures what the sandbox's fault injection does to a
// deploy: for a clean run and each fault kind of the fault suite
// (internal/e2e/faults: CloudFormation Describe* throttled at 50% and 90%,
// 5xx on CloudFormation at 20%, 10% dropped connections, S3 throttled at
// 50%, answers of CloudFormation's mutating calls lost at 20% after they
// took effect, fixed seeds), it runs the built binary over HTTP through the phases
// (build, rerun, update, destroy; -phases) of the 30-stack config, each
// kind on its own sandbox, and prints per kind: the runs, the faults injected (the
// sandbox's /_sandbox/stats), false failures (stacks the binary reported
// failed, or a non-zero exit, where only transient faults were injected;
// goal 0), stacks lost (stacks not in the expected state after a run, in
// progress included; goal 0) and the slowdown against the clean run.
//
//	go run ./bench/faults                 # every phase, every kind at once (about 3 minutes)
//	go run ./bench/faults -phases build,destroy -parallel 3 -cycles 2
//	go run ./bench/faults -kinds cfn-lost-20   # one kind (and the clean run)
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stacker-go/stacker/bench/internal/benchutil"
	"github.com/stacker-go/stacker/internal/e2e/faults"
	"github.com/stacker-go/stacker/internal/sandbox"
)

func main() {
	cycles := flag.Int("cycles", 1, "cycles of the phases per kind")
	parallel := flag.Int("parallel", 7, "kinds measured at once (each on its own sandbox; the clean run included)")
	only := flag.String("kinds", "", "comma-separated fault kinds to measure (default: all); the clean run is always measured")
	phases := flag.String("phases", "build,rerun,update,destroy", "phases of a cycle, in order: build, rerun (nochange), update, destroy")
	flag.Parse()
	var names []string
	if *only != "" {
		names = strings.Split(*only, ",")
	}
	if err := run(*cycles, *parallel, strings.Split(*phases, ","), names); err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		os.Exit(1)
	}
}

type result struct {
	kind          string
	runs          int
	injected      int64
	falseFailures int
	lost          int
	took          time.Duration
	err           error
	notes         []string
}

func run(cycles, parallel int, phases, only []string) error {
	for _, p := range phases {
		if !slices.Contains([]string{"build", "rerun", "update", "destroy"}, p) {
			return fmt.Errorf("-phases: unknown phase %q (build, rerun, update, destroy)", p)
		}
	}
	tmp, err := os.MkdirTemp("", "stacker-bench-faults-")
	if err != nil {
		return fmt.Errorf("make temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	bin, err := benchutil.BuildStacker(tmp)
	if err != nil {
		return err
	}

	kinds := []faults.Kind{{Name: "clean"}}
	for _, k := range faults.Kinds() {
		if len(only) == 0 || slices.Contains(only, k.Name) {
			kinds = append(kinds, k)
		}
	}
	for _, n := range only {
		if !slices.ContainsFunc(kinds, func(k faults.Kind) bool { return k.Name == n }) {
			return fmt.Errorf("-kinds: unknown kind %q", n)
		}
	}
	results := make([]result, len(kinds))
	sem := make(chan struct{}, max(parallel, 1))
	var wg sync.WaitGroup
	start := time.Now()
	for i, k := range kinds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i] = measure(bin, filepath.Join(tmp, k.Name), k, cycles, phases)
		}()
	}
	wg.Wait()

	fmt.Printf("fault benchmark: %d-stack config (%d independent, %d chains of %d), %d cycle(s) of %s per kind, %d kinds at a time; %s, %d CPUs, %s total\n\n",
		len(faults.Names()), faults.Independent, faults.Chains, faults.ChainLength, cycles, strings.Join(phases, ", "), parallel, runtime.Version(), runtime.NumCPU(), time.Since(start).Round(time.Second))
	fmt.Printf("%-16s %5s %9s %15s %12s %9s %9s\n", "kind", "runs", "injected", "false failures", "stacks lost", "time", "slowdown")
	clean := results[0].took
	failed := false
	for _, r := range results {
		slow := "-"
		if clean > 0 && r.kind != "clean" {
			slow = fmt.Sprintf("%.2fx", float64(r.took)/float64(clean))
		}
		fmt.Printf("%-16s %5d %9d %15d %12d %9s %9s\n", r.kind, r.runs, r.injected, r.falseFailures, r.lost, r.took.Round(100*time.Millisecond), slow)
		if r.err != nil {
			fmt.Printf("  error: %v\n", r.err)
			failed = true
		}
		for _, n := range r.notes {
			fmt.Printf("  %s\n", n)
		}
	}
	if failed {
		return fmt.Errorf("some kinds could not be measured")
	}
	return nil
}

// measure runs the cycles of one kind on its own sandbox.
func measure(bin, dir string, k faults.Kind, cycles int, phases []string) (res result) {
	res.kind = k.Name
	if err := faults.WriteProject(dir); err != nil {
		res.err = err
		return res
	}
	sb, err := faults.StartSandbox(dir, 0)
	if err != nil {
		res.err = err
		return res
	}
	defer sb.Close()
	if err := sb.Server.SetFaults(k.Faults); err != nil {
		res.err = err
		return res
	}
	env := sb.Env(dir)
	ctx := context.Background()
	for c := 1; c <= cycles; c++ {
		rev := fmt.Sprint(2 * c)
		steps := []struct {
			what  string
			args  []string
			state map[string]string
			out   map[string]string
		}{
			{"build", faults.Args("build", "-e", "rev="+fmt.Sprint(2*c-1)), faults.All("CREATE_COMPLETE"), faults.Expected(fmt.Sprint(2*c - 1))},
			{"rerun", faults.Args("build", "-e", "rev="+fmt.Sprint(2*c-1)), faults.All("CREATE_COMPLETE"), faults.Expected(fmt.Sprint(2*c - 1))},
			{"update", faults.Args("build", "-e", "rev="+rev), faults.All("UPDATE_COMPLETE"), faults.Expected(rev)},
			{"destroy", faults.Args("destroy", "--force", "-e", "rev="+rev), faults.All(""), nil},
		}
		for _, s := range steps {
			if !slices.Contains(phases, s.what) {
				continue
			}
			r, err := faults.Run(ctx, bin, dir, env, 10*time.Minute, nil, s.args...)
			if err != nil {
				res.err = err
				return res
			}
			res.runs++
			res.took += r.Took
			ff := 0
			for name, status := range r.Status() {
				if strings.HasPrefix(status, "failed") {
					ff++
					res.notes = append(res.notes, fmt.Sprintf("cycle %d %s: %s: %s", c, s.what, name, status))
				}
			}
			if ff == 0 && r.Code != 0 {
				ff = 1
				res.notes = append(res.notes, fmt.Sprintf("cycle %d %s: exit %d", c, s.what, r.Code))
			}
			res.falseFailures += ff
			st, err := sb.Inspect(ctx, k.Faults)
			if err != nil {
				res.err = err
				return res
			}
			for _, name := range faults.Names() {
				if st.Status[name] != s.state[name] || (s.out != nil && st.Outputs[name] != s.out[name]) {
					res.lost++
					res.notes = append(res.notes, fmt.Sprintf("cycle %d %s: %s is %q (output %q)", c, s.what, name, st.Status[name], st.Outputs[name]))
				}
			}
			if st.ChangeSets > 0 {
				res.notes = append(res.notes, fmt.Sprintf("cycle %d %s: %d change sets left", c, s.what, st.ChangeSets))
			}
		}
	}
	res.injected = injected(sb.Server.Stats())
	return res
}

func injected(stats []sandbox.ActionStats) int64 {
	var n int64
	for _, a := range stats {
		n += a.Throttled + a.Errors + a.Dropped + a.Lost
	}
	return n
}
