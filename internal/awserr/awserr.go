// Package awserr classifies AWS SDK errors in one place: throttles,
// transient failures worth retrying, and the service's own code and
// message. Everything that decides from an AWS error asks here, never the
// error's text.
package awserr

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
)

// IsThrottle reports whether err is the service refusing a call for its
// rate: the SDK's throttle codes (Throttling, ThrottlingException,
// RequestLimitExceeded, TooManyRequestsException, ...) or a message
// "Rate exceeded".
func IsThrottle(err error) bool {
	if err == nil {
		return false
	}
	if retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary {
		return true
	}
	var ae smithy.APIError
	return errors.As(err, &ae) && strings.Contains(ae.ErrorMessage(), "Rate exceeded")
}

// IsTransient reports whether a call that failed with err may succeed if
// tried again unchanged: a throttle, a 5xx answer, a timeout or a dropped
// connection. A cancelled or expired context is never transient.
func IsTransient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if IsThrottle(err) {
		return true
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() >= 500 {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	return retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary
}

// Code is the service's error code ("ValidationError"), "" for errors that
// are not API errors.
func Code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// Message is the service's message for an API error, else err.Error().
func Message(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorMessage() != "" {
		return ae.ErrorMessage()
	}
	return err.Error()
}

// MessageContains reports whether err is an API error whose message (not
// the SDK's text around it) contains text.
func MessageContains(err error, text string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && strings.Contains(ae.ErrorMessage(), text)
}

// ThrottleDelay is the wait before retrying a throttled call: short
// (50–250 ms, jittered), because every attempt also waits on its target's
// API budget, which halves its rate at each throttle and is the pacing.
// Other transient errors back off exponentially.
func ThrottleDelay() time.Duration {
	return 50*time.Millisecond + rand.N(200*time.Millisecond)
}
