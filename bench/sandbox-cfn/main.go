// Command sandbox-cfn measures the sandbox CloudFormation service:
// create-and-wait cycles per second of a one-resource stack with zero
// latency, driven over HTTP by aws-sdk-go-v2 clients, and the memory
// held with many stacks.
//
//	go run ./bench/sandbox-cfn [-n 20000] [-workers 8] [-hold 10000]
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"github.com/stacker-go/stacker/internal/sandbox/cloudformation"
	"github.com/stacker-go/stacker/internal/sandbox/platform"
)

const template = `{"Resources":{"Dummy":{"Type":"AWS::CloudFormation::WaitConditionHandle"}},"Outputs":{"Id":{"Value":{"Ref":"Dummy"}}}}`

type allow struct{}

func (allow) Authorize(platform.Principal, string, string, map[string][]string) platform.Decision {
	return platform.Decision{Allowed: true}
}

type clock struct{}

func (clock) Now() time.Time                         { return time.Now() }
func (clock) After(d time.Duration) <-chan time.Time { return time.After(d) }

type noFaults struct{}

func (noFaults) MatchFailure(string, string, string, string, string, string) (platform.FailureRule, bool) {
	return platform.FailureRule{}, false
}
func (noFaults) Latency(string, string) time.Duration { return 0 }
func (noFaults) StackLatency(string) time.Duration    { return 0 }

func main() {
	n := flag.Int("n", 20000, "create-and-wait cycles to time")
	workers := flag.Int("workers", 8, "concurrent clients")
	hold := flag.Int("hold", 10000, "stacks to hold for the memory figure")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the timed phase")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "sandbox-cfn:", err)
			os.Exit(1)
		}
		_ = pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if err := run(*n, *workers, *hold); err != nil {
		fmt.Fprintln(os.Stderr, "sandbox-cfn:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(n, workers, hold int) error {
	svc := cloudformation.New(&platform.Platform{Auth: allow{}, Clock: clock{}, Faults: noFaults{}})
	var seq atomic.Int64
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		id := fmt.Sprintf("bench-%d", seq.Add(1))
		c := &platform.Call{
			Principal: platform.Principal{Account: "111111111111", ARN: "arn:aws:iam::111111111111:user/bench", Kind: "user"},
			Region:    "us-east-1", Service: "cloudformation", Action: r.Form.Get("Action"), Form: r.Form, RequestID: id, HTTP: r,
		}
		if err := svc.Serve(w, c); err != nil {
			ae, ok := err.(*platform.APIError)
			if !ok {
				ae = &platform.APIError{Status: 500, Code: "InternalFailure", Message: err.Error()}
			}
			cloudformation.WriteError(w, id, ae)
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	srv := &http.Server{Handler: handler}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	endpoint := (&url.URL{Scheme: "http", Host: ln.Addr().String()}).String()
	newClient := func(rt http.RoundTripper) *cfn.Client {
		return cfn.NewFromConfig(aws.Config{
			Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDBENCH", "secret", ""),
			BaseEndpoint: aws.String(endpoint), HTTPClient: &http.Client{Transport: rt}, RetryMaxAttempts: 1,
		})
	}
	ctx := context.Background()
	cycleWith := func(client *cfn.Client) func(name string) error {
		return func(name string) error {
			if _, err := client.CreateStack(ctx, &cfn.CreateStackInput{StackName: aws.String(name), TemplateBody: aws.String(template)}); err != nil {
				return fmt.Errorf("creating %s: %w", name, err)
			}
			for {
				out, err := client.DescribeStacks(ctx, &cfn.DescribeStacksInput{StackName: aws.String(name)})
				if err != nil {
					return fmt.Errorf("describing %s: %w", name, err)
				}
				switch s := out.Stacks[0].StackStatus; s {
				case types.StackStatusCreateComplete:
					return nil
				case types.StackStatusCreateInProgress:
					runtime.Gosched() // a waiter yields between polls
					continue
				default:
					return fmt.Errorf("stack %s ended %s", name, s)
				}
			}
		}
	}
	// direct: the service's Serve, no HTTP and no SDK
	direct := func(name string) error {
		f := url.Values{"Action": {"CreateStack"}, "StackName": {name}, "TemplateBody": {template}}
		c := &platform.Call{Principal: platform.Principal{Account: "111111111111"}, Region: "us-east-1", Action: "CreateStack", Form: f, RequestID: "x"}
		if err := svc.Serve(discard{}, c); err != nil {
			return fmt.Errorf("creating %s: %w", name, err)
		}
		for {
			rec := &recorder{}
			f := url.Values{"Action": {"DescribeStacks"}, "StackName": {name}}
			c := &platform.Call{Principal: platform.Principal{Account: "111111111111"}, Region: "us-east-1", Action: "DescribeStacks", Form: f, RequestID: "x"}
			if err := svc.Serve(rec, c); err != nil {
				return fmt.Errorf("describing %s: %w", name, err)
			}
			if strings.Contains(rec.b.String(), "<StackStatus>CREATE_COMPLETE<") {
				return nil
			}
			runtime.Gosched() // a waiter yields between polls
		}
	}
	modes := []struct {
		name  string
		cycle func(string) error
	}{
		{"aws-sdk-go-v2 over loopback TCP", cycleWith(newClient(&http.Transport{MaxIdleConnsPerHost: workers * 2}))},
		{"aws-sdk-go-v2 over an in-memory transport (full query-protocol wire, no sockets)", cycleWith(newClient(memTransport{handler}))},
		{"direct Service.Serve calls (no HTTP, no SDK)", direct},
	}
	for mi, m := range modes {
		for i := 0; i < 200; i++ { // warm up
			if err := m.cycle(fmt.Sprintf("warm-%d-%d", mi, i)); err != nil {
				return err
			}
		}
		var next atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		start := time.Now()
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := next.Add(1)
					if i > int64(n) {
						return
					}
					if err := m.cycle(fmt.Sprintf("bench-%d-%d", mi, i)); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		elapsed := time.Since(start)
		select {
		case err := <-errs:
			return err
		default:
		}
		fmt.Printf("create-and-wait, %s: %d cycles in %v, %d workers, %d CPUs: %.0f cycles/s\n",
			m.name, n, elapsed.Round(time.Millisecond), workers, runtime.NumCPU(), float64(n)/elapsed.Seconds())
		svc.Wait()
		svc.Reset()
	}

	// memory with many stacks held
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	for i := 0; i < hold; i++ {
		f := url.Values{"Action": {"CreateStack"}, "StackName": {fmt.Sprintf("held-%d", i)}, "TemplateBody": {template}}
		c := &platform.Call{Principal: platform.Principal{Account: "111111111111"}, Region: "us-east-1", Action: "CreateStack", Form: f, RequestID: "x"}
		if err := svc.Serve(discard{}, c); err != nil {
			return fmt.Errorf("holding stack %d: %w", i, err)
		}
	}
	svc.Wait()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("load average during the run: %s\n", loadavg())
	fmt.Printf("memory with %d stacks held: heap in use %.1f MB (%.1f KB/stack above baseline), Go runtime total %.1f MB, process RSS %s\n",
		hold, float64(ms.HeapInuse)/1e6, float64(ms.HeapInuse-base.HeapInuse)/float64(hold)/1e3, float64(ms.Sys)/1e6, rss())
	return nil
}

type recorder struct{ b bytes.Buffer }

func (r *recorder) Header() http.Header         { return http.Header{} }
func (r *recorder) Write(b []byte) (int, error) { return r.b.Write(b) }
func (r *recorder) WriteHeader(int)             {}

// memTransport hands requests straight to the handler.
type memTransport struct{ h http.Handler }

func (m memTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	m.h.ServeHTTP(rec, req)
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

func rss() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			return strings.TrimSpace(strings.TrimPrefix(line, "VmRSS:"))
		}
	}
	return "unknown"
}
