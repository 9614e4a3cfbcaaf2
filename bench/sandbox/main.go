// Command sandbox benchmarks the sandbox server: start-up time (exec of
// `stacker sandbox serve` until its ready line, and in-process New+Start
// until the first authenticated answer) and the resident memory of a
// server process holding N CloudFormation stacks.
//
//	go run ./bench/sandbox                    # 10 start-ups, 10,000 stacks
//	go run ./bench/sandbox -stacks 2000 -runs 5
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/stacker-go/stacker/bench/internal/benchutil"
	"github.com/stacker-go/stacker/internal/sandbox"
)

func main() {
	runs := flag.Int("runs", 10, "start-ups to time")
	stacks := flag.Int("stacks", 10000, "stacks to hold for the memory figure")
	par := flag.Int("parallel", 16, "concurrent CreateStack calls")
	bin := flag.String("bin", "", "use this stacker binary instead of building one")
	flag.Parse()
	if err := run(*runs, *stacks, *par, *bin); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(runs, stacks, par int, bin string) error {
	ctx := context.Background()
	if bin == "" {
		tmp, err := os.MkdirTemp("", "sandbox-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		if bin, err = benchutil.BuildStacker(tmp); err != nil {
			return err
		}
	}
	// In-process start-up: New + Start + first GetCallerIdentity.
	var inproc []time.Duration
	for i := 0; i < runs; i++ {
		t0 := time.Now()
		srv, err := sandbox.New(nil)
		if err != nil {
			return err
		}
		url, err := srv.Start("127.0.0.1:0")
		if err != nil {
			return err
		}
		if _, err := sts.NewFromConfig(cfgFor(url)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
			return fmt.Errorf("first call: %w", err)
		}
		inproc = append(inproc, time.Since(t0))
		_ = srv.Close()
	}
	// Process start-up: exec until the ready line.
	var proc []time.Duration
	for i := 0; i < runs; i++ {
		t0 := time.Now()
		cmd, url, err := startServer(bin)
		if err != nil {
			return err
		}
		proc = append(proc, time.Since(t0))
		_ = url
		stop(cmd)
	}
	// Baseline: the same binary doing nothing (package initialisation of
	// everything linked into stacker).
	var base []time.Duration
	for i := 0; i < runs; i++ {
		t0 := time.Now()
		if err := exec.Command(bin, "--version").Run(); err != nil {
			return fmt.Errorf("stacker --version: %w", err)
		}
		base = append(base, time.Since(t0))
	}
	fmt.Printf("baseline, process (exec of \"stacker --version\"):        median %v, max %v over %d runs\n", median(base), slices.Max(base), runs)
	fmt.Printf("start-up, in process (New+Start+first GetCallerIdentity): median %v, max %v over %d runs\n", median(inproc), slices.Max(inproc), runs)
	fmt.Printf("start-up, process (exec until \"sandbox ready\"):          median %v, max %v over %d runs\n", median(proc), slices.Max(proc), runs)

	cmd, url, err := startServer(bin)
	if err != nil {
		return err
	}
	defer stop(cmd)
	rss0, _ := rssKB(cmd.Process.Pid)
	cfn := cloudformation.NewFromConfig(cfgFor(url))
	body := `{"Resources":{"Topic":{"Type":"AWS::SNS::Topic"},"Bucket":{"Type":"AWS::S3::Bucket"}},"Outputs":{"Name":{"Value":{"Ref":"Bucket"}}}}`
	var next, failed atomic.Int64
	var firstErr error
	var mu sync.Mutex
	t0 := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < par; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n := next.Add(1)
				if n > int64(stacks) {
					return
				}
				_, err := cfn.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String(fmt.Sprintf("bench-%05d", n)), TemplateBody: aws.String(body)})
				if err != nil {
					failed.Add(1)
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	created := time.Since(t0)
	if firstErr != nil {
		fmt.Printf("%d CreateStack calls failed; first: %v\n", failed.Load(), firstErr)
	}
	// Let the stacks settle (CREATE_COMPLETE) before measuring.
	time.Sleep(2 * time.Second)
	rss, err := rssKB(cmd.Process.Pid)
	if err != nil {
		return err
	}
	fmt.Printf("memory: %d stacks created in %v (%.0f CreateStack/s); server RSS %.1f MB (idle %.1f MB)\n",
		int64(stacks)-failed.Load(), created.Round(time.Millisecond), float64(stacks)/created.Seconds(), float64(rss)/1024, float64(rss0)/1024)
	return nil
}

func cfgFor(url string) aws.Config {
	k := sandbox.DefaultAccessKey("111111111111")
	return aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider(k.ID, k.Secret, "")}
}

func startServer(bin string) (*exec.Cmd, string, error) {
	cmd := exec.Command(bin, "sandbox", "serve", "--listen", "127.0.0.1:0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		stop(cmd)
		return nil, "", fmt.Errorf("read ready line: %w", err)
	}
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "sandbox ready: ")
	if !ok {
		stop(cmd)
		return nil, "", errors.New("unexpected first line: " + line)
	}
	return cmd, url, nil
}

func stop(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

func rssKB(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			var kb int64
			_, err := fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(l, "VmRSS:")), "%d", &kb)
			return kb, err
		}
	}
	return 0, errors.New("no VmRSS")
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
