package cfn

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"

	"github.com/stacker-go/stacker/internal/sandbox/sandboxtest"
)

// BenchmarkPollRound measures a status round on the sandbox over HTTP,
// both ways: the listing (every page of DescribeStacks, 100 stacks a
// page, with `total` stacks in the account, most of them not ours) and
// per-stack polls of the `waiting` stacks. The time of one page against
// one single-stack call is the latency side of the crossover; the budget
// side is calls (pages against waiting stacks), see poller.perStackCheaper.
//
//	go test -run x -bench PollRound ./internal/cfn
func BenchmarkPollRound(b *testing.B) {
	env := sandboxtest.Start(b)
	ctx := context.Background()
	client := cloudformation.NewFromConfig(env.AWSConfig(ctx, "master"))
	const tpl = `{"Resources":{"H":{"Type":"AWS::CloudFormation::WaitConditionHandle"}},"Outputs":{"Id":{"Value":{"Ref":"H"}}}}`
	created := 0
	grow := func(total int) []string {
		var mu sync.Mutex
		var wg sync.WaitGroup
		next := make(chan int)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					_, err := client.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String(fmt.Sprintf("s%05d", i)), TemplateBody: aws.String(tpl),
						Parameters: nil, Tags: nil})
					if err != nil {
						mu.Lock()
						b.Errorf("create: %v", err)
						mu.Unlock()
					}
				}
			}()
		}
		for ; created < total; created++ {
			next <- created
		}
		close(next)
		wg.Wait()
		time.Sleep(200 * time.Millisecond) // let creates settle
		ids := make([]string, 0, 30)
		for i := range 30 {
			ids = append(ids, fmt.Sprintf("s%05d", i))
		}
		return ids
	}
	p := New(client, Options{})
	for _, total := range []int{100, 1000, 3000} {
		ids := grow(total)
		b.Run(fmt.Sprintf("listing/total=%d", total), func(b *testing.B) {
			for b.Loop() {
				p.poll.listing(ctx, ids[:1], nil)
			}
			b.ReportMetric(float64(p.poll.pages), "calls/op")
		})
		for _, w := range []int{1, 10} {
			b.Run(fmt.Sprintf("per-stack/total=%d/waiting=%d", total, w), func(b *testing.B) {
				for b.Loop() {
					p.poll.perStack(ctx, ids[:w])
				}
				b.ReportMetric(float64(w), "calls/op")
			})
		}
	}
}
