// Command coldbuild measures a first build of the stacker binary: it builds
// ./cmd/stacker with an empty build cache (GOCACHE in a fresh temporary
// directory, so the standard library is compiled too) and prints the wall
// time, the CPU time and peak memory of the go command and every compiler
// and linker it ran (getrusage of the child), the binary's size, and the
// packages that cost the most compile CPU, grouped by module.
//
// The module cache stays warm: modules are downloaded (go mod download)
// before the clock starts, so the figure is build work only, not network.
//
//	go run ./bench/coldbuild             # one cold build, top 12 cost centres
//	go run ./bench/coldbuild -top 0      # figures only
//	go run ./bench/coldbuild -pkg ./cmd/stacker -keep /tmp/stacker
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"
)

func main() {
	pkg := flag.String("pkg", "./cmd/stacker", "package to build")
	top := flag.Int("top", 12, "print the N costliest modules by compile CPU (0: none)")
	keep := flag.String("keep", "", "copy the built binary here")
	flag.Parse()
	if err := run(*pkg, *top, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "coldbuild:", err)
		os.Exit(1)
	}
}

func run(pkg string, top int, keep string) error {
	tmp, err := os.MkdirTemp("", "stacker-coldbuild-")
	if err != nil {
		return fmt.Errorf("make temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)

	dl := exec.Command("go", "mod", "download")
	dl.Stderr = os.Stderr
	if err := dl.Run(); err != nil {
		return fmt.Errorf("go mod download (warming the module cache): %w", err)
	}

	bin := filepath.Join(tmp, "stacker")
	graph := filepath.Join(tmp, "actions.json")
	cmd := exec.Command("go", "build", "-o", bin, "-debug-actiongraph="+graph, pkg)
	cmd.Env = append(os.Environ(), "GOCACHE="+filepath.Join(tmp, "gocache"))
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = os.Stdout, &stderr
	load := loadAvg()
	start := time.Now()
	err = cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, stderr.String())
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return errors.New("no resource usage for the go command on this platform")
	}
	fi, err := os.Stat(bin)
	if err != nil {
		return fmt.Errorf("stat binary: %w", err)
	}
	user := time.Duration(ru.Utime.Nano())
	sys := time.Duration(ru.Stime.Nano())
	fmt.Printf("cold build of %s (%s, %d CPUs, load average %s at start; module cache warm, build cache empty)\n",
		pkg, runtime.Version(), runtime.NumCPU(), load)
	fmt.Printf("wall %.1f s, CPU %.1f s (user %.1f s, sys %.1f s), peak RSS %d MB, binary %.1f MB\n",
		wall.Seconds(), (user + sys).Seconds(), user.Seconds(), sys.Seconds(), ru.Maxrss/1024, float64(fi.Size())/1e6)
	if keep != "" {
		b, err := os.ReadFile(bin)
		if err == nil {
			err = os.WriteFile(keep, b, 0o755)
		}
		if err != nil {
			return fmt.Errorf("keep binary: %w", err)
		}
	}
	if top > 0 {
		return printTop(graph, top)
	}
	return nil
}

// loadAvg is the 1-minute load average, or "?" where /proc is missing.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

// action is the part of a -debug-actiongraph entry read here.
type action struct {
	Mode    string
	Package string
	CmdUser time.Duration
	CmdSys  time.Duration
}

// printTop prints compile CPU per cost centre: each AWS SDK service and the
// goformation resource packages on their own, other modules whole, the
// standard library as "std".
func printTop(path string, n int) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read action graph: %w", err)
	}
	var acts []action
	if err := json.Unmarshal(b, &acts); err != nil {
		return fmt.Errorf("parse action graph: %w", err)
	}
	cpu := map[string]time.Duration{}
	pkgs := map[string]int{}
	var total time.Duration
	for _, a := range acts {
		if a.Mode != "build" && a.Mode != "link" {
			continue
		}
		k := centre(a.Package)
		if a.Mode == "link" {
			k = "link"
		}
		d := a.CmdUser + a.CmdSys
		cpu[k] += d
		pkgs[k]++
		total += d
	}
	keys := make([]string, 0, len(cpu))
	for k := range cpu {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return cpu[keys[i]] > cpu[keys[j]] })
	fmt.Printf("compile and link CPU by cost centre (%.1f s in all):\n", total.Seconds())
	for i, k := range keys {
		if i == n {
			break
		}
		fmt.Printf("  %7.1f s %5.1f%% %4d pkgs  %s\n", cpu[k].Seconds(), 100*float64(cpu[k])/float64(total), pkgs[k], k)
	}
	return nil
}

func centre(p string) string {
	const sdk = "github.com/aws/aws-sdk-go-v2/service/"
	const gf = "github.com/awslabs/goformation/v7/cloudformation"
	switch {
	case strings.HasPrefix(p, sdk):
		return sdk + strings.SplitN(strings.TrimPrefix(p, sdk), "/", 2)[0]
	case p == gf:
		return gf + " (template, intrinsics, resource index)"
	case strings.HasPrefix(p, gf+"/"):
		return gf + "/* (resource types)"
	case !strings.Contains(strings.SplitN(p, "/", 2)[0], "."):
		return "std"
	}
	parts := strings.Split(p, "/")
	if len(parts) > 3 {
		parts = parts[:3]
	}
	return strings.Join(parts, "/")
}
