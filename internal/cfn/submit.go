package cfn

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/stacker-go/stacker/internal/awserr"
)

// Mutating calls (CreateStack, UpdateStack, DeleteStack, ExecuteChangeSet)
// carry a ClientRequestToken: CloudFormation answers a call that repeats a
// token that already took effect with the first call's answer and does
// nothing more, so a retried submission can never create, update or delete
// twice. The SDK under the provider already retries a failed attempt a few
// times with the same input (so the same token). When it gives up on a
// transient error (a throttle, a 5xx, a timeout, a dropped connection) the
// provider decides as follows, until the retry deadline (throttles, which
// say the call was refused, until ctx ends):
//
//   - a throttle or a connection refused before anything was sent: the call
//     did not take effect; submit again (same token) after a jittered
//     back-off;
//   - anything else: the call may have taken effect, so the stack's real
//     state is read first (DescribeStacks, and its events for the token):
//     if the call took effect, the provider waits on the stack like after a
//     successful call; if not, it submits again with the same token.

// tokens hands out the ClientRequestTokens of one provider (one run in one
// target).
type tokens struct {
	// nonce makes tokens unique to the run: a token of an earlier run must
	// never make CloudFormation take a new submission for a retry of an
	// old one.
	nonce string
	mu    sync.Mutex
	n     map[string]int // submissions so far, by action and stack
}

// newNonce returns 12 random hex digits.
func newNonce() string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // never fails on supported platforms
	}
	return hex.EncodeToString(b[:])
}

// token returns the ClientRequestToken of the next submission of action
// ("create", "update", "delete", "execute") on a stack: deterministic in
// the run's nonce, the action, the stack and the submission's number, so
// that every retry of one submission sends the same token and two
// submissions never share one. It matches CloudFormation's pattern
// [a-zA-Z0-9][-a-zA-Z0-9]* and is at most 60 characters.
func (p *Provider) token(action, stack string) string {
	t := &p.tokens
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n == nil {
		t.n = map[string]int{}
	}
	k := action + "\x00" + stack
	t.n[k]++
	h := sha256.Sum256([]byte(stack))
	return fmt.Sprintf("stacker-%s-%s-%s-%d", t.nonce, action, hex.EncodeToString(h[:6]), t.n[k])
}

// notSent reports whether a failed call is known not to have taken
// effect: the service refused it for its rate, or the connection was
// refused before the request was sent.
func notSent(err error) bool {
	if awserr.IsThrottle(err) {
		return true
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// submit runs a mutating call until it succeeds, fails for good, or
// transient failures outlast the retry deadline (see the comment at the top
// of this file). took reads the stack's real state after a failure that
// may have taken effect and reports whether it did; nil means the call is
// idempotent by nature and is simply submitted again. what names the call
// in errors.
func (p *Provider) submit(ctx context.Context, what string, call func() error, took func(ctx context.Context) (bool, error)) error {
	var settled func(context.Context, error) (bool, error)
	if took != nil {
		settled = func(ctx context.Context, err error) (bool, error) {
			if notSent(err) {
				return false, nil
			}
			done, cerr := took(ctx)
			if cerr != nil {
				return false, fmt.Errorf("%s failed (%w), then reading the stack's state failed: %w", what, err, cerr)
			}
			return done, nil
		}
	}
	return retryLoop{deadline: p.retryDeadline, first: 200 * time.Millisecond, max: 5 * time.Second, now: p.now, sleep: p.sleep}.run(ctx, call, settled)
}

// tokenSeen reports whether any of the stack's newest events carries
// token: the operation the token started took effect.
func (p *Provider) tokenSeen(ctx context.Context, stack, token string) (bool, error) {
	evs, err := p.Events(ctx, stack)
	if err != nil {
		if isNotExist(err) {
			return false, nil
		}
		return false, err
	}
	for _, e := range evs {
		if e.Token == token {
			return true, nil
		}
	}
	return false, nil
}

// createStack submits a CreateStack with a fresh token and returns the new
// stack's id. After a transient failure it reads the stack: one created
// by this submission is returned (and waited on by the caller), none is
// submitted again.
func (p *Provider) createStack(ctx context.Context, in *cloudformation.CreateStackInput) (string, error) {
	name := aws.ToString(in.StackName)
	in.ClientRequestToken = aws.String(p.token("create", name))
	var id string
	err := p.submit(ctx, "create stack "+name, func() error {
		out, err := p.write.CreateStack(ctx, in)
		if err == nil {
			id = aws.ToString(out.StackId)
		}
		return err
	}, func(ctx context.Context) (bool, error) {
		st, err := p.Describe(ctx, name)
		if err != nil || st == nil || st.Status == "DELETE_COMPLETE" {
			return false, err
		}
		ok, err := p.tokenSeen(ctx, st.ID, aws.ToString(in.ClientRequestToken))
		if ok {
			id = st.ID
		}
		return ok, err
	})
	return id, err
}

// updateStack submits an UpdateStack of the stack with id (its current
// incarnation) with a fresh token; after a transient failure it reads the
// stack's events for the token before submitting again.
func (p *Provider) updateStack(ctx context.Context, in *cloudformation.UpdateStackInput, id string) (string, error) {
	in.ClientRequestToken = aws.String(p.token("update", aws.ToString(in.StackName)))
	out := id
	err := p.submit(ctx, "update stack "+aws.ToString(in.StackName), func() error {
		o, err := p.write.UpdateStack(ctx, in)
		if err == nil && aws.ToString(o.StackId) != "" {
			out = aws.ToString(o.StackId)
		}
		return err
	}, func(ctx context.Context) (bool, error) {
		st, err := p.Describe(ctx, id)
		if err != nil || st == nil {
			return false, err
		}
		return p.tokenSeen(ctx, id, aws.ToString(in.ClientRequestToken))
	})
	return out, err
}

// deleteStack submits a DeleteStack of the stack with id with a fresh
// token; after a transient failure it reads the stack: gone, being deleted
// or showing the token means the call took effect.
func (p *Provider) deleteStack(ctx context.Context, id, roleARN string) error {
	token := p.token("delete", id)
	return p.submit(ctx, "delete stack "+id, func() error {
		_, err := p.write.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String(id), RoleARN: optional(roleARN), ClientRequestToken: aws.String(token)})
		return err
	}, func(ctx context.Context) (bool, error) {
		st, err := p.Describe(ctx, id)
		if err != nil {
			return false, err
		}
		if st == nil || st.Status == "DELETE_COMPLETE" || st.Status == "DELETE_IN_PROGRESS" {
			return true, nil
		}
		return p.tokenSeen(ctx, id, token)
	})
}

// setTerminationProtection sets a stack's termination protection; setting
// a flag is idempotent, so transient failures are simply retried.
func (p *Provider) setTerminationProtection(ctx context.Context, id string, on bool) error {
	return p.submit(ctx, "update termination protection", func() error {
		_, err := p.write.UpdateTerminationProtection(ctx, &cloudformation.UpdateTerminationProtectionInput{
			StackName: aws.String(id), EnableTerminationProtection: aws.Bool(on),
		})
		return err
	}, nil)
}
