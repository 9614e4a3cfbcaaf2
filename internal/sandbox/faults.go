package sandbox

import (
	"fmt"
	"maps"
	"math/rand"
	"net/http"
	"path"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/stacker-go/stacker/internal/sandbox/platform"
)

// faultState holds failure rules, throttling and random faults. It
// implements platform.Faults.
type faultState struct {
	mu        sync.Mutex
	failures  []*failureRule
	throttles []ThrottleRule
	limiters  map[string]*rate.Limiter
	latency   platform.LatencyModel
	faults    FaultSpec
	rnd       *rand.Rand
	seq       int
	stats     map[statKey]*ActionStats
}

type statKey struct{ service, action string }

// ActionStats counts the calls of one action and the faults they got.
type ActionStats struct {
	Service string `json:"service"`
	Action  string `json:"action"`
	// Calls counts every authenticated call, faulted ones included.
	Calls int64 `json:"calls"`
	// Throttled counts throttling answers (rate limits and injected).
	Throttled int64 `json:"throttled"`
	// Errors counts injected 5xx answers.
	Errors int64 `json:"errors"`
	// Dropped counts connections closed without a response.
	Dropped int64 `json:"dropped"`
	// Lost counts calls the service performed whose answer was then lost
	// (the connection closed without a response after the call took
	// effect).
	Lost int64 `json:"lost"`
}

type failureRule struct {
	platform.FailureRule
	used int
}

func newFaultState(spec *Spec) *faultState {
	f := &faultState{}
	f.reset(spec)
	return f
}

func (f *faultState) reset(spec *Spec) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures = nil
	f.seq = 0
	for _, r := range spec.Failures {
		f.addFailureLocked(r)
	}
	f.throttles = nil
	for _, t := range spec.Throttling {
		f.addThrottleLocked(t)
	}
	f.limiters = map[string]*rate.Limiter{}
	f.stats = map[statKey]*ActionStats{}
	f.latency = spec.Latency
	f.faults = spec.Faults
	f.rnd = rand.New(rand.NewSource(spec.Faults.Seed))
}

func (f *faultState) addFailureLocked(r platform.FailureRule) platform.FailureRule {
	if r.ID == "" {
		f.seq++
		r.ID = fmt.Sprintf("failure-%d", f.seq)
	}
	f.failures = append(f.failures, &failureRule{FailureRule: r})
	return r
}

func (f *faultState) addThrottleLocked(t ThrottleRule) ThrottleRule {
	if t.ID == "" {
		f.seq++
		t.ID = fmt.Sprintf("throttle-%d", f.seq)
	}
	f.throttles = append(f.throttles, t)
	return t
}

// AddFailure adds a failure rule and returns it with its id.
func (f *faultState) AddFailure(r platform.FailureRule) platform.FailureRule {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.addFailureLocked(r)
}

// Failures lists the rules in force.
func (f *faultState) Failures() []platform.FailureRule {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []platform.FailureRule{}
	for _, r := range f.failures {
		out = append(out, r.FailureRule)
	}
	return out
}

// ClearFailures removes the rule with id, or all rules when id is "".
func (f *faultState) ClearFailures(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id == "" {
		f.failures = nil
		return true
	}
	var ok bool
	f.failures, ok = removeByID(f.failures, id, func(r *failureRule) string { return r.ID })
	return ok
}

// removeByID removes the first element of list whose idOf is id.
func removeByID[T any](list []T, id string, idOf func(T) string) ([]T, bool) {
	for i, x := range list {
		if idOf(x) == id {
			return append(list[:i], list[i+1:]...), true
		}
	}
	return list, false
}

func globMatch(pattern, s string) bool {
	if pattern == "" {
		return true
	}
	ok, err := path.Match(pattern, s)
	return err == nil && ok
}

// MatchFailure implements platform.Faults.
func (f *faultState) MatchFailure(account, region, stack, logicalID, resourceType, operation string) (platform.FailureRule, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.failures {
		if (r.Account == "" || r.Account == account) && (r.Region == "" || r.Region == region) &&
			globMatch(r.Stack, stack) && globMatch(r.Resource, logicalID) &&
			(r.Type == "" || r.Type == resourceType) && (r.Operation == "" || r.Operation == operation) {
			if r.Times > 0 && r.used >= r.Times {
				continue
			}
			r.used++
			return r.FailureRule, true
		}
	}
	return platform.FailureRule{}, false
}

// Latency implements platform.Faults.
func (f *faultState) Latency(stack, resourceType string) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.latency
	d := m.Default
	if v, ok := m.ByType[resourceType]; ok {
		d = v
	}
	for _, g := range slices.Sorted(maps.Keys(m.ByStack)) {
		if globMatch(g, stack) {
			d = m.ByStack[g]
			break
		}
	}
	if m.Scale > 0 {
		d = time.Duration(float64(d) * m.Scale)
	}
	return d
}

// StackLatency implements platform.Faults.
func (f *faultState) StackLatency(stack string) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.latency
	var d time.Duration
	for _, g := range slices.Sorted(maps.Keys(m.StackTime)) {
		if globMatch(g, stack) {
			d = m.StackTime[g]
			break
		}
	}
	if m.Scale > 0 {
		d = time.Duration(float64(d) * m.Scale)
	}
	return d
}

// Stats returns the per-action counters, sorted by service and action.
func (f *faultState) Stats() []ActionStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]ActionStats, 0, len(f.stats))
	for _, st := range f.stats {
		out = append(out, *st)
	}
	sortStable(out, func(a, b ActionStats) bool {
		if a.Service != b.Service {
			return a.Service < b.Service
		}
		return a.Action < b.Action
	})
	return out
}

// ClearStats zeroes the counters.
func (f *faultState) ClearStats() {
	f.mu.Lock()
	f.stats = map[statKey]*ActionStats{}
	f.mu.Unlock()
}

// SetLatency replaces the latency model.
func (f *faultState) SetLatency(m platform.LatencyModel) {
	f.mu.Lock()
	f.latency = m
	f.mu.Unlock()
}

// AddThrottle adds a throttling rule.
func (f *faultState) AddThrottle(t ThrottleRule) ThrottleRule {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.addThrottleLocked(t)
}

// Throttles lists the throttling rules.
func (f *faultState) Throttles() []ThrottleRule {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]ThrottleRule{}, f.throttles...)
}

// ClearThrottles removes the rule with id, or all when id is "".
func (f *faultState) ClearThrottles(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id == "" {
		f.throttles = nil
		f.limiters = map[string]*rate.Limiter{}
		return true
	}
	var ok bool
	f.throttles, ok = removeByID(f.throttles, id, func(t ThrottleRule) string { return t.ID })
	return ok
}

// SetFaults replaces the random fault rates (and reseeds).
func (f *faultState) SetFaults(fs FaultSpec) error {
	if err := fs.validate(); err != nil {
		return err
	}
	f.mu.Lock()
	f.faults = fs
	f.rnd = rand.New(rand.NewSource(fs.Seed))
	f.mu.Unlock()
	return nil
}

// decide returns "throttle", "error", "drop", "lost" or "" for a call, and
// counts it.
func (f *faultState) decide(account, region, service, action string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := statKey{service, action}
	st := f.stats[k]
	if st == nil {
		st = &ActionStats{Service: service, Action: action}
		f.stats[k] = st
	}
	st.Calls++
	kind := f.decideLocked(account, region, service, action)
	switch kind {
	case "throttle":
		st.Throttled++
	case "error":
		st.Errors++
	case "drop":
		st.Dropped++
	case "lost":
		st.Lost++
	}
	return kind
}

func (f *faultState) decideLocked(account, region, service, action string) string {
	for _, t := range f.throttles {
		if (t.Account != "" && t.Account != account) || (t.Region != "" && t.Region != region) ||
			!globMatch(t.Service, service) || !globMatch(t.Action, action) {
			continue
		}
		if t.Probability > 0 && f.rnd.Float64() < t.Probability {
			return "throttle"
		}
		if t.Rate > 0 {
			key := t.ID + "|" + account + "|" + region + "|" + service + ":" + action
			l := f.limiters[key]
			if l == nil {
				burst := t.Burst
				if burst <= 0 {
					burst = 1
				}
				l = rate.NewLimiter(rate.Limit(t.Rate), burst)
				f.limiters[key] = l
			}
			if !l.Allow() {
				return "throttle"
			}
		}
	}
	for _, r := range f.faults.Rules {
		if (r.Account != "" && r.Account != account) || (r.Region != "" && r.Region != region) ||
			!globMatch(r.Service, service) || !globMatch(r.Action, action) {
			continue
		}
		if r.Rate > 0 && f.rnd.Float64() < r.Rate {
			return r.Kind
		}
	}
	if f.faults.DropRate > 0 && f.rnd.Float64() < f.faults.DropRate {
		return "drop"
	}
	if f.faults.ErrorRate > 0 && f.rnd.Float64() < f.faults.ErrorRate {
		return "error"
	}
	return ""
}

// throttleErrors and serverErrors are the answers of each protocol's
// services to throttling and internal errors, in AWS's words.
var (
	throttleErrors = map[platform.Protocol]*platform.APIError{
		platform.ProtocolQuery:   apiErr(400, "Throttling", "Rate exceeded"),
		platform.ProtocolRESTXML: apiErr(400, "Throttling", "Rate exceeded"),
		platform.ProtocolJSON:    apiErr(400, "ThrottlingException", "Rate exceeded"),
		platform.ProtocolEC2:     apiErr(503, "RequestLimitExceeded", "Request limit exceeded."),
		platform.ProtocolS3:      apiErr(503, "SlowDown", "Please reduce your request rate."),
	}
	serverErrors = map[platform.Protocol]*platform.APIError{
		platform.ProtocolQuery:   apiErr(500, "InternalFailure", "We encountered an internal error. Please try again."),
		platform.ProtocolRESTXML: apiErr(500, "InternalFailure", "We encountered an internal error. Please try again."),
		platform.ProtocolJSON:    apiErr(500, "InternalServerError", "We encountered an internal error. Please try again."),
		platform.ProtocolEC2:     apiErr(500, "InternalError", "An internal error has occurred"),
		platform.ProtocolS3:      apiErr(500, "InternalError", "We encountered an internal error. Please try again."),
	}
)

// injectFault applies throttling and random faults to an authenticated
// call; it reports whether it answered the request. A lost answer is not
// answered here: it marks rc.lost, and the call is served into the void
// (serveLost) before the connection is dropped.
func (s *Server) injectFault(w http.ResponseWriter, r *http.Request, rc *reqCtx) bool {
	acct := ""
	if rc.principal != nil {
		acct = rc.principal.Account
	}
	switch s.faults.decide(acct, rc.region, rc.service, rc.action) {
	case "throttle":
		s.writeError(w, r, rc, throttleErrors[rc.proto])
		return true
	case "error":
		s.writeError(w, r, rc, serverErrors[rc.proto])
		return true
	case "drop":
		rc.code = "ConnectionDropped"
		s.dropConnection(w, r, rc)
		return true
	case "lost":
		rc.lost = true
	}
	return false
}

// dropConnection closes the request's connection without a response (a
// 500 InternalFailure when the connection cannot be taken over).
func (s *Server) dropConnection(w http.ResponseWriter, r *http.Request, rc *reqCtx) {
	if hj, ok := w.(*statusWriter); ok {
		if c, _, err := hj.Hijack(); err == nil {
			_ = c.Close()
			hj.status = 0
			return
		}
	}
	s.writeError(w, r, rc, apiErr(500, "InternalFailure", "We encountered an internal error. Please try again."))
}

// serveLost performs the call, discards its answer and drops the
// connection: the call took effect but the caller never learns it did.
// The request log records the outcome as AnswerLost.
func (s *Server) serveLost(w http.ResponseWriter, r *http.Request, rc *reqCtx, svc platform.Service, call *platform.Call) {
	if err := svc.Serve(&discardWriter{header: http.Header{}}, call); err != nil {
		s.log.Debug("sandbox: lost answer was an error", "service", rc.service, "action", rc.action, "err", err)
	}
	rc.code = "AnswerLost"
	s.dropConnection(w, r, rc)
}

// discardWriter is a response writer whose answer goes nowhere.
type discardWriter struct{ header http.Header }

func (d *discardWriter) Header() http.Header         { return d.header }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

// LogEntry is one API request in the request log.
type LogEntry struct {
	Seq       uint64    `json:"seq"`
	Time      time.Time `json:"time"`
	RequestID string    `json:"request_id"`
	Caller    string    `json:"caller,omitempty"` // principal ARN
	Account   string    `json:"account,omitempty"`
	Region    string    `json:"region,omitempty"`
	Service   string    `json:"service"`
	Action    string    `json:"action"`
	Status    int       `json:"status"`
	// Outcome is "OK" or the error code.
	Outcome string `json:"outcome"`
	// DurationMS is the server-side handling time.
	DurationMS float64 `json:"duration_ms"`
}

type requestLog struct {
	mu      sync.Mutex
	max     int
	seq     uint64
	entries []LogEntry
}

func newRequestLog(max int) *requestLog { return &requestLog{max: max} }

func (l *requestLog) add(e LogEntry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	e.Seq = l.seq
	if len(l.entries) >= l.max {
		copy(l.entries, l.entries[1:])
		l.entries = l.entries[:len(l.entries)-1]
	}
	l.entries = append(l.entries, e)
}

func (l *requestLog) since(seq uint64) []LogEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := []LogEntry{}
	for _, e := range l.entries {
		if e.Seq > seq {
			out = append(out, e)
		}
	}
	return out
}

func (l *requestLog) clear() {
	l.mu.Lock()
	l.entries = nil
	l.mu.Unlock()
}

func (s *Server) logRequest(rc *reqCtx, w *statusWriter, start time.Time) {
	e := LogEntry{
		Time: start, RequestID: rc.id, Region: rc.region, Service: rc.service, Action: rc.action,
		Status: w.status, Outcome: "OK", DurationMS: float64(time.Since(timeNowMinus(s, start))) / 1e6,
	}
	if rc.principal != nil {
		e.Caller, e.Account = rc.principal.ARN, rc.principal.Account
	}
	if rc.code != "" {
		e.Outcome = rc.code
	} else if w.code != "" {
		e.Outcome = w.code
	} else if w.status >= 300 {
		e.Outcome = http.StatusText(w.status)
	}
	s.reqLog.add(e)
	s.log.Debug("sandbox: request", "service", e.Service, "action", e.Action, "caller", e.Caller, "region", e.Region, "outcome", e.Outcome)
}

// timeNowMinus converts a sandbox-clock start into wall time for durations.
func timeNowMinus(s *Server, start time.Time) time.Time { return start.Add(-s.clock.Offset()) }

// DescribeRateLimit is the rate limit CloudFormation is reported to apply to
// Describe* calls: 5 calls per second with a burst of 10, per account,
// region and action. Add it with AddThrottleRule or list it under
// throttling: in the spec.
func DescribeRateLimit() ThrottleRule {
	return ThrottleRule{Service: "cloudformation", Action: "Describe*", Rate: 5, Burst: 10}
}
