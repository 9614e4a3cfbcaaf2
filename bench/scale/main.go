// Command scale measures stacker at 300 to 1,000 stacks on the sandbox
// against the critical path of the graph: a generated DAG over several
// accounts and regions, each stack with a known backend time (the
// sandbox's latency model) and CloudFormation's Describe* calls throttled
// per account, region and action as CloudFormation is reported to throttle
// them. For each scenario it prints the makespan, the critical-path bound
// (the longest chain of backend times; with -j, the best schedule that cap
// allows), their ratio, API calls and throttled calls per stack, Describe
// calls per stack and the stacker process's peak RSS. It is a benchmark,
// not a test: nothing asserts on the figures.
//
//	go run ./bench/scale [-scenarios build,nochange,destroy,j,big] [-stacks 300] [-tty] ...
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/stacker-go/stacker/bench/internal/benchutil"
	"github.com/stacker-go/stacker/internal/sandbox"
	"github.com/stacker-go/stacker/internal/sandbox/platform"
)

// shape is the generated graph's parameters.
type shape struct {
	stacks, accounts, regions, levels int
	cross                             float64 // fraction of stacks reading an output of another account
	extra                             float64 // chance of a second dependency
	min, max                          time.Duration
	seed                              uint64
}

type stack struct {
	name    string
	account int
	region  int
	level   int
	deps    []int
	time    time.Duration
}

var regions = []string{"us-east-1", "us-west-2", "eu-west-1", "eu-central-1"}

// generate makes a DAG levels deep: the first stacks of each level form a
// chain through every level, every other stack of level > 0 depends on one
// stack of the level below (another account's with probability cross, its
// own otherwise) and, with probability extra, on one more of any lower
// level in its account.
func generate(s shape) []stack {
	r := rand.New(rand.NewPCG(s.seed, 1))
	out := make([]stack, s.stacks)
	byLevel := make([][]int, s.levels)
	for i := range out {
		lvl := i
		if i >= s.levels {
			lvl = r.IntN(s.levels)
		}
		span := s.max - s.min
		out[i] = stack{
			name:    fmt.Sprintf("s%04d", i),
			account: r.IntN(s.accounts),
			region:  r.IntN(s.regions),
			level:   lvl,
			time:    s.min + time.Duration(r.Int64N(int64(span)+1)),
		}
		byLevel[lvl] = append(byLevel[lvl], i)
	}
	pick := func(from []int, want func(int) bool) int {
		var c []int
		for _, j := range from {
			if want(j) {
				c = append(c, j)
			}
		}
		if len(c) == 0 {
			return -1
		}
		return c[r.IntN(len(c))]
	}
	for i := range out {
		st := &out[i]
		if st.level == 0 {
			continue
		}
		below := byLevel[st.level-1]
		crossAcct := r.Float64() < s.cross
		d := pick(below, func(j int) bool { return (out[j].account != st.account) == crossAcct })
		if d < 0 {
			d = below[r.IntN(len(below))]
		}
		st.deps = append(st.deps, d)
		if r.Float64() < s.extra {
			var lower []int
			for l := 0; l < st.level; l++ {
				lower = append(lower, byLevel[l]...)
			}
			if e := pick(lower, func(j int) bool { return out[j].account == st.account && j != d }); e >= 0 {
				st.deps = append(st.deps, e)
			}
		}
	}
	return out
}

// criticalPath is the longest chain of backend times.
func criticalPath(g []stack) time.Duration {
	finish := make([]time.Duration, len(g))
	var best time.Duration
	for _, i := range topo(g) {
		var start time.Duration
		for _, d := range g[i].deps {
			start = max(start, finish[d])
		}
		finish[i] = start + g[i].time
		best = max(best, finish[i])
	}
	return best
}

// topo orders by level (deps are always on lower levels).
func topo(g []stack) []int {
	idx := make([]int, len(g))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return g[idx[a]].level < g[idx[b]].level })
	return idx
}

// tails is each stack's longest remaining chain of backend times (itself
// included), in time or, with count, in stacks.
func tails(g []stack, count bool) []float64 {
	_, dependants := edges(g)
	t := make([]float64, len(g))
	order := topo(g)
	for k := len(order) - 1; k >= 0; k-- {
		i := order[k]
		var m float64
		for _, j := range dependants[i] {
			m = max(m, t[j])
		}
		w := g[i].time.Seconds()
		if count {
			w = 1
		}
		t[i] = m + w
	}
	return t
}

// edges is, for each stack, how many stacks it waits for and which wait
// for it.
func edges(g []stack) (left []int, dependants [][]int) {
	left = make([]int, len(g))
	dependants = make([][]int, len(g))
	for i, s := range g {
		left[i] = len(s.deps)
		for _, d := range s.deps {
			dependants[d] = append(dependants[d], i)
		}
	}
	return left, dependants
}

// listSchedule simulates p slots taking ready stacks highest priority
// first and returns the makespan.
func listSchedule(g []stack, p int, prio []float64) time.Duration {
	left, dependants := edges(g)
	var ready []int
	for i := range g {
		if left[i] == 0 {
			ready = append(ready, i)
		}
	}
	type run struct {
		i   int
		end time.Duration
	}
	var running []run
	var now time.Duration
	done := 0
	for done < len(g) {
		sort.SliceStable(ready, func(a, b int) bool { return prio[ready[a]] > prio[ready[b]] })
		for len(running) < p && len(ready) > 0 {
			running = append(running, run{ready[0], now + g[ready[0]].time})
			ready = ready[1:]
		}
		sort.Slice(running, func(a, b int) bool { return running[a].end < running[b].end })
		r := running[0]
		running = running[1:]
		now = r.end
		done++
		for _, j := range dependants[r.i] {
			if left[j]--; left[j] == 0 {
				ready = append(ready, j)
			}
		}
	}
	return now
}

// budgetSchedule simulates the build the write budget allows: every stack
// makes one submission (CreateStack), which waits for a token of its
// target's bucket (rate per second, burst), ready stacks highest priority
// first, and then takes its backend time; nothing else is limited (no -j,
// reads free). It returns the makespan: with few stacks per target it is
// the critical path, with many the budget's floor of about
// (stacks per target - burst) / rate plus what runs after the last
// submission.
func budgetSchedule(g []stack, regionsPer int, rate float64, burst int, prio []float64) time.Duration {
	left, dependants := edges(g)
	target := func(i int) int { return g[i].account*regionsPer + g[i].region }
	type bucket struct {
		tokens float64
		at     float64 // seconds: when tokens was last brought up to date
		queue  []int
	}
	buckets := map[int]*bucket{}
	bk := func(t int) *bucket {
		b, ok := buckets[t]
		if !ok {
			b = &bucket{tokens: float64(burst)}
			buckets[t] = b
		}
		return b
	}
	for i := range g {
		if left[i] == 0 {
			b := bk(target(i))
			b.queue = append(b.queue, i)
		}
	}
	type run struct {
		i   int
		end float64
	}
	var running []run
	now, end := 0.0, 0.0
	done := 0
	for done < len(g) {
		// The next event: a token for some queue, or a stack finishing.
		next, nextT := -1.0, -1
		for t, b := range buckets {
			if len(b.queue) == 0 {
				continue
			}
			at := now
			if tok := min(float64(burst), b.tokens+(now-b.at)*rate); tok < 1 {
				at = now + (1-tok)/rate
			}
			if next < 0 || at < next {
				next, nextT = at, t
			}
		}
		fin := -1
		for k, r := range running {
			if fin < 0 || r.end < running[fin].end {
				fin = k
			}
		}
		if fin >= 0 && (next < 0 || running[fin].end <= next) {
			r := running[fin]
			running = append(running[:fin], running[fin+1:]...)
			now = r.end
			end = max(end, now)
			done++
			for _, j := range dependants[r.i] {
				if left[j]--; left[j] == 0 {
					b := bk(target(j))
					b.queue = append(b.queue, j)
				}
			}
			continue
		}
		now = next
		b := buckets[nextT]
		b.tokens = min(float64(burst), b.tokens+(now-b.at)*rate) - 1
		b.at = now
		sort.SliceStable(b.queue, func(x, y int) bool { return prio[b.queue[x]] > prio[b.queue[y]] })
		i := b.queue[0]
		b.queue = b.queue[1:]
		running = append(running, run{i, now + g[i].time.Seconds()})
	}
	return time.Duration(end * float64(time.Second))
}

// reversed is g with its edges turned around (destroy's order): a stack
// waits for every stack that depends on it.
func reversed(g []stack, levels int) []stack {
	out := make([]stack, len(g))
	for i, s := range g {
		out[i] = s
		out[i].deps = nil
		out[i].level = levels - 1 - s.level
	}
	for i, s := range g {
		for _, d := range s.deps {
			out[d].deps = append(out[d].deps, i)
		}
	}
	return out
}

const template = `AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Input:
    Type: String
    Default: none
Resources:
  Handle:
    Type: AWS::CloudFormation::WaitConditionHandle
Outputs:
  Value:
    Value: !Ref Handle
`

// config writes the stacker config of g in dir.
func config(dir, namespace string, g []stack, accounts []string) (string, error) {
	if err := os.WriteFile(filepath.Join(dir, "t.yaml"), []byte(template), 0o644); err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "namespace: %s\nstacker_bucket: \"\"\nstacks:\n", namespace)
	for _, s := range g {
		fmt.Fprintf(&b, "  - name: %s\n    template_path: t.yaml\n    profile: sandbox-%s\n    region: %s\n", s.name, accounts[s.account], regions[s.region])
		if len(s.deps) > 0 {
			var in []string
			for _, d := range s.deps {
				in = append(in, "${output "+g[d].name+"::Value}")
			}
			fmt.Fprintf(&b, "    variables:\n      Input: %q\n", strings.Join(in, ","))
		}
	}
	p := filepath.Join(dir, namespace+".yaml")
	return p, os.WriteFile(p, []byte(b.String()), 0o644)
}

// spec is the sandbox: accounts without MFA, each stack's backend time,
// Describe* throttled per account, region and action.
func spec(namespace string, g []stack, accounts []string, rps float64, burst int) *sandbox.Spec {
	sp := &sandbox.Spec{Latency: platform.LatencyModel{StackTime: map[string]time.Duration{}}}
	for i, a := range accounts {
		sp.Accounts = append(sp.Accounts, sandbox.AccountSpec{
			Name: a, ID: fmt.Sprintf("%d", 111111111111*(i+1)),
			Users: []sandbox.UserSpec{{Name: "admin", Admin: true}},
		})
	}
	for _, s := range g {
		sp.Latency.StackTime[namespace+"-"+s.name] = s.time
	}
	sp.Throttling = []sandbox.ThrottleRule{{ID: "describe", Service: "cloudformation", Action: "Describe*", Rate: rps, Burst: burst}}
	return sp
}

type result struct {
	wall     time.Duration
	rssMB    float64
	calls    int64
	throttle int64
	describe int64
}

// writeRate is stacker's --write-rate (0: its default), set by -write-rate;
// onTTY runs stacker with stderr on a terminal (-tty).
var (
	writeRate float64
	onTTY     bool
)

// tailWriter keeps the last 3,000 bytes written to it.
type tailWriter struct{ b []byte }

func (w *tailWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	if len(w.b) > 3000 {
		w.b = w.b[len(w.b)-3000:]
	}
	return len(p), nil
}

// runStacker runs the binary and reads its API stats.
func runStacker(bin, dir, awsConfig string, args ...string) (result, error) {
	if writeRate > 0 {
		args = append(args[:1:1], append([]string{"--write-rate", fmt.Sprint(writeRate)}, args[1:]...)...)
	}
	stats := filepath.Join(dir, "stats.json")
	os.Remove(stats)
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "AWS_CONFIG_FILE="+awsConfig, "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "none"),
		"HOME="+dir, "STACKER_NO_CREDENTIAL_CACHE=1", "STACKER_API_STATS="+stats)
	var errOut tailWriter
	var err error
	var start time.Time
	if onTTY {
		// A person's terminal: stderr on a pty, so the live view draws.
		cmd.Env = append(cmd.Env, "TERM=xterm")
		start = time.Now()
		err = runOnTTY(cmd, &errOut)
	} else {
		cmd.Env = append(cmd.Env, "NO_COLOR=1")
		cmd.Stderr = &errOut
		start = time.Now()
		err = cmd.Run()
	}
	res := result{wall: time.Since(start), rssMB: float64(benchutil.PeakRSSKiB(cmd.ProcessState)) / 1024}
	if err != nil {
		tail := string(errOut.b)
		return res, fmt.Errorf("stacker %s: %v\n%s", strings.Join(args, " "), err, tail)
	}
	var st struct {
		Calls     map[string]int64 `json:"calls"`
		Throttles map[string]int64 `json:"throttles"`
	}
	b, err := os.ReadFile(stats)
	if err != nil {
		return res, fmt.Errorf("read API stats: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return res, fmt.Errorf("read API stats: %w", err)
	}
	for op, n := range st.Calls {
		res.calls += n
		if strings.HasPrefix(op, "CloudFormation.Describe") {
			res.describe += n
		}
	}
	for _, n := range st.Throttles {
		res.throttle += n
	}
	return res, nil
}

func row(name string, n int, bound time.Duration, boundName string, r result, goal string) {
	ratio := "-"
	if bound > 0 {
		ratio = fmt.Sprintf("%.2f", r.wall.Seconds()/bound.Seconds())
	}
	fmt.Printf("%-22s %5d %8.1fs %8.1fs %-9s %6s %7.1f %9.2f %9.2f %7.0fMB  %s\n", name, n, r.wall.Seconds(), bound.Seconds(), boundName, ratio,
		float64(r.calls)/float64(n), float64(r.throttle)/float64(n), float64(r.describe)/float64(n), r.rssMB, goal)
}

func main() {
	var s shape
	flag.IntVar(&s.stacks, "stacks", 300, "stacks in the main scenarios")
	flag.IntVar(&s.accounts, "accounts", 3, "accounts (at most 4)")
	flag.IntVar(&s.regions, "regions", 2, "regions per account (at most 4)")
	flag.IntVar(&s.levels, "levels", 9, "depth of the DAG")
	flag.Float64Var(&s.cross, "cross", 0.17, "fraction of stacks reading another account's ${output}")
	flag.Float64Var(&s.extra, "extra", 0.4, "chance of a second dependency")
	flag.DurationVar(&s.min, "min", 2*time.Second, "shortest backend time of a stack")
	flag.DurationVar(&s.max, "max", 6*time.Second, "longest backend time of a stack")
	flag.Uint64Var(&s.seed, "seed", 1, "seed of the generated graph")
	big := flag.Int("big", 1000, "stacks in the big scenario")
	bigMin := flag.Duration("big-min", 500*time.Millisecond, "shortest backend time in the big scenario")
	bigMax := flag.Duration("big-max", 1500*time.Millisecond, "longest backend time in the big scenario")
	j := flag.Int("j", 20, "-j of the capped scenario")
	rps := flag.Float64("rate", 5, "Describe* calls per second the sandbox allows per account, region and action")
	burst := flag.Int("burst", 10, "the sandbox's burst of Describe* calls")
	flag.Float64Var(&writeRate, "write-rate", 0, "stacker's --write-rate (0: its default, 2 per second per account and region)")
	flag.BoolVar(&onTTY, "tty", false, "run stacker on a pseudo-terminal (its live view), as a person at a terminal would")
	scen := flag.String("scenarios", "build,nochange,destroy,j,big", "scenarios to run, comma-separated")
	flag.Parse()
	if err := run(s, *big, *bigMin, *bigMax, *j, *rps, *burst, strings.Split(*scen, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func run(s shape, big int, bigMin, bigMax time.Duration, j int, rps float64, burst int, scen []string) error {
	if s.accounts < 1 || s.accounts > 4 || s.regions < 1 || s.regions > len(regions) || s.levels < 1 || s.stacks < s.levels {
		return fmt.Errorf("bad shape: 1-4 accounts, 1-%d regions, at least as many stacks as levels", len(regions))
	}
	tmp, err := os.MkdirTemp("", "stacker-scale-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin, err := benchutil.BuildStacker(tmp)
	if err != nil {
		return err
	}
	accounts := []string{"master", "prod", "stage", "dev"}[:s.accounts]
	wr := "stacker's default write rate"
	if writeRate > 0 {
		wr = fmt.Sprintf("--write-rate %v", writeRate)
	}
	if onTTY {
		wr += "; stacker on a terminal (live view)"
	}
	fmt.Printf("Describe* throttled at %.0f calls/s, burst %d, per account, region and action; %d accounts x %d regions; %s\n", rps, burst, s.accounts, s.regions, wr)
	fmt.Printf("%-22s %5s %9s %9s %-9s %6s %7s %9s %9s %9s  %s\n", "scenario", "stacks", "makespan", "bound", "", "ratio", "calls/st", "throt/st", "descr/st", "peak RSS", "goal")

	// startSandbox starts one sandbox for a graph and writes its AWS config.
	startSandbox := func(ns string, g []stack) (*sandbox.Server, string, error) {
		srv, err := sandbox.New(spec(ns, g, accounts, rps, burst))
		if err != nil {
			return nil, "", err
		}
		if _, err := srv.Start("127.0.0.1:0"); err != nil {
			return nil, "", err
		}
		p := filepath.Join(tmp, ns+".aws-config")
		if err := srv.WriteAWSConfig(p); err != nil {
			srv.Close()
			return nil, "", err
		}
		return srv, p, nil
	}

	if has(scen, "build") || has(scen, "nochange") || has(scen, "destroy") || has(scen, "j") {
		g := generate(s)
		cp := criticalPath(g)
		crossN := 0
		for _, st := range g {
			for _, d := range st.deps {
				if g[d].account != st.account {
					crossN++
					break
				}
			}
		}
		fmt.Printf("# graph: %d stacks, %d levels, %d (%.0f%%) read another account's output, backend %v-%v\n", len(g), s.levels, crossN, 100*float64(crossN)/float64(len(g)), s.min, s.max)
		wr := writeRate
		if wr <= 0 {
			wr = 2 // target.DefaultWriteRate
		}
		rg := reversed(g, s.levels)
		fmt.Printf("# the write budget (%v submissions/s, burst 10, per account and region) allows at best: build %.1fs, destroy %.1fs\n",
			wr, budgetSchedule(g, s.regions, wr, 10, tails(g, false)).Seconds(), budgetSchedule(rg, s.regions, wr, 10, tails(rg, false)).Seconds())
		srv, awsConfig, err := startSandbox("scale", g)
		if err != nil {
			return err
		}
		defer srv.Close()
		cfgPath, err := config(tmp, "scale", g, accounts)
		if err != nil {
			return err
		}
		if has(scen, "build") || has(scen, "nochange") || has(scen, "destroy") {
			r, err := runStacker(bin, tmp, awsConfig, "build", cfgPath)
			if err != nil {
				return err
			}
			row("build", len(g), cp, "crit.path", r, "<=1.10x, 0 throttles, <=3 describe/stack")
			if has(scen, "nochange") {
				r, err := runStacker(bin, tmp, awsConfig, "build", cfgPath)
				if err != nil {
					return err
				}
				row("no-change rebuild", len(g), 0, "", r, "<=3 s")
			}
			r, err = runStacker(bin, tmp, awsConfig, "destroy", "--force", cfgPath)
			if err != nil {
				return err
			}
			if has(scen, "destroy") {
				row("destroy", len(g), cp, "crit.path", r, "<=1.15x")
			}
		}
		if has(scen, "j") {
			var total time.Duration
			for _, st := range g {
				total += st.time
			}
			lb := max(cp, time.Duration(math.Ceil(float64(total)/float64(j))))
			byTime := listSchedule(g, j, tails(g, false))
			byCount := listSchedule(g, j, tails(g, true))
			fifo := make([]float64, len(g))
			for i := range fifo {
				fifo[i] = float64(-g[i].level)
			}
			byLevel := listSchedule(g, j, fifo)
			fmt.Printf("# -j %d: lower bound %.1fs (max of critical path, work/%d); list schedules: longest remaining time first %.1fs, most remaining stacks first %.1fs, level order %.1fs\n",
				j, lb.Seconds(), j, byTime.Seconds(), byCount.Seconds(), byLevel.Seconds())
			best := min(byTime, byCount)
			r, err := runStacker(bin, tmp, awsConfig, "build", "-j", fmt.Sprint(j), cfgPath)
			if err != nil {
				return err
			}
			row(fmt.Sprintf("build -j %d", j), len(g), best, "best sched", r, fmt.Sprintf("within 10%% of best (lower bound %.1fs: %.2fx)", lb.Seconds(), r.wall.Seconds()/lb.Seconds()))
			if _, err := runStacker(bin, tmp, awsConfig, "destroy", "--force", cfgPath); err != nil {
				return err
			}
		}
	}
	if has(scen, "big") {
		b := s
		b.stacks, b.min, b.max = big, bigMin, bigMax
		g := generate(b)
		cp := criticalPath(g)
		fmt.Printf("# big graph: %d stacks, %d levels, backend %v-%v\n", len(g), b.levels, b.min, b.max)
		srv, awsConfig, err := startSandbox("big", g)
		if err != nil {
			return err
		}
		defer srv.Close()
		cfgPath, err := config(tmp, "big", g, accounts)
		if err != nil {
			return err
		}
		wr := writeRate
		if wr <= 0 {
			wr = 2 // target.DefaultWriteRate
		}
		bb := budgetSchedule(g, b.regions, wr, 10, tails(g, false))
		fmt.Printf("# the write budget (%v submissions/s, burst 10, per account and region) allows at best %.1fs\n", wr, bb.Seconds())
		r, err := runStacker(bin, tmp, awsConfig, "build", cfgPath)
		if err != nil {
			return err
		}
		row("build (big)", len(g), cp, "crit.path", r, "<=1.30x, RSS<=120MB")
		row("  vs write budget", len(g), bb, "budget", r, "")
	}
	return nil
}
