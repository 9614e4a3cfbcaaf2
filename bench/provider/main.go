// Command provider benchmarks the provider against moto_server: a 20-stack
// ${output} chain and 50 mixed stacks, built from scratch and then again
// with no change. It prints wall time, the stacker process's peak memory
// and API calls by operation. It is a benchmark, not a test.
//
//	go run ./bench/provider [-read-rate N] [-moto PATH]
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/stacker-go/stacker/bench/internal/benchutil"
)

const template = `AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Input:
    Type: String
Resources:
  Handle:
    Type: AWS::CloudFormation::WaitConditionHandle
Outputs:
  Value:
    Value: !Ref Input
`

func main() {
	readRate := flag.Float64("read-rate", 0, "pass --read-rate N to stacker (0: stacker's default)")
	motoFlag := flag.String("moto", "", "moto_server binary (default: pyenv shim, then PATH)")
	flag.Parse()
	if err := run(*readRate, *motoFlag); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(readRate float64, moto string) error {
	if moto == "" {
		moto = "/root/.pyenv/shims/moto_server"
		if _, err := os.Stat(moto); err != nil {
			p, err := exec.LookPath("moto_server")
			if err != nil {
				return fmt.Errorf("moto_server not found")
			}
			moto = p
		}
	}
	tmp, err := os.MkdirTemp("", "stacker-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin, err := benchutil.BuildStacker(tmp)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	srv := exec.Command(moto, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() { srv.Process.Kill(); srv.Wait() }()
	url := fmt.Sprintf("http://localhost:%d", port)
	for i := 0; ; i++ {
		if resp, err := http.Get(url + "/moto-api/"); err == nil {
			resp.Body.Close()
			break
		}
		if i > 600 {
			return fmt.Errorf("moto did not start")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Warm moto's CloudFormation and S3 backends (imported on first use).
	warm := writeScenario(tmp, "warm", 1, func(i int) []int { return nil })
	if _, err := stacker(bin, url, warm, readRate); err != nil {
		return err
	}

	fmt.Printf("moto_server %s, stacker read rate %s\n\n", url, rateName(readRate))
	fmt.Printf("%-28s %9s %9s %7s %11s  %s\n", "scenario", "wall", "peak RSS", "stacks", "reads/stack", "API calls")
	chain := writeScenario(tmp, "chain", 20, func(i int) []int {
		if i == 0 {
			return nil
		}
		return []int{i - 1}
	})
	mixed := writeScenario(tmp, "mixed", 50, func(i int) []int {
		// 10 roots; every other stack depends on one or two earlier ones.
		switch {
		case i < 10:
			return nil
		case i%3 == 0:
			return []int{i - 10, i - 7}
		default:
			return []int{i - 10}
		}
	})
	for _, sc := range []struct {
		name string
		dir  string
		n    int
	}{
		{"20-stack chain, create", chain, 20}, {"20-stack chain, nochange", chain, 20},
		{"50 mixed, create", mixed, 50}, {"50 mixed, nochange", mixed, 50},
	} {
		res, err := stacker(bin, url, sc.dir, readRate)
		if err != nil {
			return fmt.Errorf("%s: %w", sc.name, err)
		}
		fmt.Printf("%-28s %8.2fs %7.1fMB %7d %11.1f  %s\n", sc.name, res.wall.Seconds(), float64(res.maxRSSKB)/1024, sc.n,
			float64(res.reads)/float64(sc.n), res.calls)
	}
	return nil
}

func rateName(r float64) string {
	if r == 0 {
		return "default"
	}
	return fmt.Sprintf("%g/s", r)
}

// writeScenario writes a config of n stacks where stack i takes its input
// from the outputs of deps(i).
func writeScenario(tmp, name string, n int, deps func(i int) []int) string {
	dir := filepath.Join(tmp, name)
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "t.yaml"), []byte(template), 0o644)
	var b strings.Builder
	fmt.Fprintf(&b, "namespace: bench-%s\nstacks:\n", name)
	for i := 0; i < n; i++ {
		input := fmt.Sprintf("v%d", i)
		for _, d := range deps(i) {
			input += fmt.Sprintf("-${output s%02d::Value}", d)
		}
		fmt.Fprintf(&b, "  - name: s%02d\n    template_path: t.yaml\n    variables:\n      Input: %q\n", i, input)
	}
	os.WriteFile(filepath.Join(dir, "stacker.yaml"), []byte(b.String()), 0o644)
	return dir
}

type result struct {
	wall     time.Duration
	maxRSSKB int64
	reads    int64
	calls    string
}

func stacker(bin, url, dir string, readRate float64) (result, error) {
	stats := filepath.Join(dir, "stats.json")
	args := []string{"build", "stacker.yaml"}
	if readRate > 0 {
		args = append(args, "--read-rate", fmt.Sprint(readRate))
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + dir,
		"AWS_ENDPOINT_URL=" + url, "AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing", "AWS_REGION=us-east-1",
		"AWS_CONFIG_FILE=" + filepath.Join(dir, "none"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "none"),
		"STACKER_NO_CREDENTIAL_CACHE=1", "STACKER_API_STATS=" + stats, "NO_COLOR=1",
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	began := time.Now()
	err := cmd.Run()
	wall := time.Since(began)
	if err != nil {
		return result{}, fmt.Errorf("%v\n%s", err, stderr.String())
	}
	res := result{wall: wall, maxRSSKB: benchutil.PeakRSSKiB(cmd.ProcessState)}
	var st struct {
		Calls map[string]int64 `json:"calls"`
	}
	b, err := os.ReadFile(stats)
	if err != nil {
		return res, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return res, err
	}
	counts := st.Calls
	keys := make([]string, 0, len(counts))
	for k, v := range counts {
		keys = append(keys, k)
		if strings.HasPrefix(k, "CloudFormation.Describe") || strings.HasPrefix(k, "CloudFormation.Get") || strings.HasPrefix(k, "CloudFormation.List") {
			res.reads += v
		}
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", strings.TrimPrefix(k, "CloudFormation."), counts[k]))
	}
	res.calls = strings.Join(parts, " ")
	return res, nil
}
