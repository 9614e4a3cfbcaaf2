package platform

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// Errorf is an API error with a formatted message; 4xx statuses are the
// sender's fault, 5xx the service's.
func Errorf(status int, code, format string, a ...any) *APIError {
	return &APIError{Status: status, Code: code, Message: fmt.Sprintf(format, a...), Sender: status < 500}
}

// DecodeJSON decodes the body of a JSON-protocol call into v; an empty body
// leaves v as it is. A body that is not JSON is AWS's
// SerializationException.
func DecodeJSON(c *Call, v any) error {
	if len(c.Body) == 0 {
		return nil
	}
	if err := json.Unmarshal(c.Body, v); err != nil {
		return Errorf(400, "SerializationException", "Start of structure or map found where not expected.")
	}
	return nil
}

// WriteJSON writes v as the JSON 1.1 response of the call.
func WriteJSON(w http.ResponseWriter, c *Call, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s response: %w", c.Action, err)
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", c.RequestID)
	_, err = w.Write(b)
	return err
}

// SnapshotState is a service's Snapshot: its state, guarded by mu, as JSON.
func SnapshotState(mu *sync.Mutex, state any) ([]byte, error) {
	mu.Lock()
	defer mu.Unlock()
	return json.Marshal(state)
}

// RestoreState is a service's Restore: *state, guarded by mu, replaced by
// data; what names the state in the error.
func RestoreState[T any](mu *sync.Mutex, state *T, data []byte, what string) error {
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		return fmt.Errorf("restore %s: %w", what, err)
	}
	mu.Lock()
	*state = v
	mu.Unlock()
	return nil
}

// ResetState is a service's Reset: *state, guarded by mu, set to empty.
func ResetState[T any](mu *sync.Mutex, state *T, empty T) {
	mu.Lock()
	*state = empty
	mu.Unlock()
}

// Authorize asks the platform's authorizer whether the call's principal may
// perform action ("ssm:GetParameter") on resource. A denial becomes the
// error deny builds from AWS's wording of the reason (each service has its
// own error code and status for it). A platform without an authorizer (a
// service's unit tests) allows everything.
func (p *Platform) Authorize(c *Call, action, resource string, deny func(reason string) error) error {
	if p == nil || p.Auth == nil {
		return nil
	}
	d := p.Auth.Authorize(c.Principal, action, resource, nil)
	if d.Allowed {
		return nil
	}
	reason := d.Reason
	if reason == "" {
		reason = fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s", c.Principal.ARN, action, resource)
	}
	return deny(reason)
}

// Now is the platform clock's time (the wall clock without one).
func (p *Platform) Now() time.Time {
	if p != nil && p.Clock != nil {
		return p.Clock.Now()
	}
	return time.Now()
}

// ARN is arn:aws:SERVICE:REGION:ACCOUNT:RESOURCE for a resource of the
// call's region in account.
func ARN(c *Call, service, account, resource string) string {
	return "arn:aws:" + service + ":" + c.Region + ":" + account + ":" + resource
}
