// Package cloudformation is the sandbox's CloudFormation service: the
// query-protocol API (stacks, change sets, events, resources, exports,
// drift), an asynchronous lifecycle driven by the platform clock with
// latency and failure rules, and resources that become real sandbox IAM
// and S3 objects. See docs/sandbox-cloudformation.md.
package cloudformation

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stacker-go/stacker/internal/sandbox/cloudformation/cfntemplate"
	"github.com/stacker-go/stacker/internal/sandbox/platform"
)

const xmlns = "http://cloudformation.amazonaws.com/doc/2010-05-15/"

// Service implements platform.Service and platform.Drifter.
type Service struct {
	p *platform.Platform

	mu      sync.Mutex
	regions map[string]*region

	tplMu    sync.Mutex
	tplCache map[string]*cfntemplate.Template

	wg sync.WaitGroup // running operations
}

var (
	_ platform.Service  = (*Service)(nil)
	_ platform.Stateful = (*Service)(nil)
	_ platform.Drifter  = (*Service)(nil)
)

var knownTypes = func() map[string]bool {
	m := make(map[string]bool, len(knownTypeList))
	for _, t := range knownTypeList {
		m[t] = true
	}
	return m
}()

// New returns the service.
func New(p *platform.Platform) *Service {
	return &Service{p: p, regions: map[string]*region{}, tplCache: map[string]*cfntemplate.Template{}}
}

// Name is "cloudformation".
func (s *Service) Name() string { return "cloudformation" }

// Protocol is the query protocol.
func (s *Service) Protocol() platform.Protocol { return platform.ProtocolQuery }

func (s *Service) region(account, name string) *region {
	key := account + "/" + name
	s.mu.Lock()
	defer s.mu.Unlock()
	rg := s.regions[key]
	if rg == nil {
		rg = newRegion(account, name)
		s.regions[key] = rg
	}
	return rg
}

func (s *Service) now() time.Time {
	return s.p.Now().UTC()
}

// parse parses and validates a template body, caching by body.
func (s *Service) parse(body string) (*cfntemplate.Template, error) {
	s.tplMu.Lock()
	t, ok := s.tplCache[body]
	s.tplMu.Unlock()
	if ok {
		return t, nil
	}
	t, err := cfntemplate.Parse(body)
	if err != nil {
		return nil, err
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	var unknown []string
	for _, name := range t.ResourceOrder {
		typ := t.Resources[name].Type
		if !knownTypes[typ] && !strings.HasPrefix(typ, "Custom::") {
			unknown = append(unknown, typ)
		}
	}
	if len(unknown) > 0 {
		return nil, &cfntemplate.Error{Msg: "Template format error: Unrecognized resource types: [" + strings.Join(dedupe(unknown), ", ") + "]"}
	}
	s.tplMu.Lock()
	if len(s.tplCache) > 512 {
		s.tplCache = map[string]*cfntemplate.Template{}
	}
	s.tplCache[body] = t
	s.tplMu.Unlock()
	return t, nil
}

func dedupe(l []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range l {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// ---- errors ----

func apiErr(status int, code, format string, a ...any) *platform.APIError {
	msg := format
	if len(a) > 0 {
		msg = fmt.Sprintf(format, a...)
	}
	return &platform.APIError{Status: status, Code: code, Message: msg, Sender: true}
}

func validation(format string, a ...any) *platform.APIError {
	return apiErr(400, "ValidationError", format, a...)
}

func asAPI(err error) error {
	if err == nil {
		return nil
	}
	if e, ok := err.(*platform.APIError); ok {
		return e
	}
	if e, ok := err.(*cfntemplate.Error); ok {
		return validation("%s", e.Msg)
	}
	return validation("%s", err.Error())
}

// ---- request plumbing ----

type req struct {
	s    *Service
	c    *platform.Call
	f    url.Values
	rg   *region
	acct string
}

func (r *req) get(k string) string { return r.f.Get(k) }

// list reads Prefix.member.N values in N order.
func (r *req) list(prefix string) []string {
	type item struct {
		n int
		v string
	}
	var items []item
	p := prefix + ".member."
	for k, v := range r.f {
		if strings.HasPrefix(k, p) {
			n, err := strconv.Atoi(k[len(p):])
			if err == nil && len(v) > 0 {
				items = append(items, item{n, v[0]})
			}
		}
	}
	sort.Slice(items, func(i, j int) bool { return items[i].n < items[j].n })
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.v
	}
	return out
}

// members reads Prefix.member.N.Field structures in N order.
func (r *req) members(prefix string) []map[string]string {
	byN := map[int]map[string]string{}
	p := prefix + ".member."
	for k, v := range r.f {
		if !strings.HasPrefix(k, p) || len(v) == 0 {
			continue
		}
		rest := k[len(p):]
		ns, field, ok := strings.Cut(rest, ".")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(ns)
		if err != nil {
			continue
		}
		if byN[n] == nil {
			byN[n] = map[string]string{}
		}
		byN[n][field] = v[0]
	}
	keys := make([]int, 0, len(byN))
	for n := range byN {
		keys = append(keys, n)
	}
	sort.Ints(keys)
	out := make([]map[string]string, len(keys))
	for i, n := range keys {
		out[i] = byN[n]
	}
	return out
}

func (r *req) boolean(k string) bool { return strings.EqualFold(r.f.Get(k), "true") }

func (r *req) authorize(action, resource string) error {
	return r.s.p.Authorize(r.c, "cloudformation:"+action, resource, func(reason string) error {
		return apiErr(403, "AccessDenied", "%s", reason)
	})
}

func (r *req) stackARN(name string) string {
	if strings.HasPrefix(name, "arn:") {
		return name
	}
	r.rg.mu.RLock()
	st := r.rg.byName[name]
	r.rg.mu.RUnlock()
	if st != nil {
		return st.ID
	}
	if name == "" {
		return "*"
	}
	return fmt.Sprintf("arn:aws:cloudformation:%s:%s:stack/%s/*", r.c.Region, r.acct, name)
}

// ---- XML ----

type xw struct{ b bytes.Buffer }

func (x *xw) open(tag string)  { x.b.WriteString("<" + tag + ">") }
func (x *xw) close(tag string) { x.b.WriteString("</" + tag + ">") }
func (x *xw) elem(tag, v string) {
	x.b.WriteString("<" + tag + ">")
	_ = xml.EscapeText(&x.b, []byte(v))
	x.b.WriteString("</" + tag + ">")
}
func (x *xw) opt(tag, v string) {
	if v != "" {
		x.elem(tag, v)
	}
}
func (x *xw) boolean(tag string, v bool) { x.elem(tag, strconv.FormatBool(v)) }
func (x *xw) time(tag string, t time.Time) {
	if !t.IsZero() {
		x.elem(tag, t.UTC().Format("2006-01-02T15:04:05.000Z"))
	}
}
func (x *xw) strList(tag string, l []string) {
	x.open(tag)
	for _, v := range l {
		x.elem("member", v)
	}
	x.close(tag)
}

func (s *Service) write(w http.ResponseWriter, c *platform.Call, body func(x *xw)) error {
	var x xw
	x.b.WriteString(`<` + c.Action + `Response xmlns="` + xmlns + `">`)
	if body != nil {
		x.open(c.Action + "Result")
		body(&x)
		x.close(c.Action + "Result")
	}
	x.b.WriteString("<ResponseMetadata><RequestId>")
	_ = xml.EscapeText(&x.b, []byte(c.RequestID))
	x.b.WriteString("</RequestId></ResponseMetadata></" + c.Action + "Response>")
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("x-amzn-RequestId", c.RequestID)
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(x.b.Bytes())
	return err
}

// WriteError writes an APIError in the query protocol (for servers and
// test harnesses that do not have their own writer).
func WriteError(w http.ResponseWriter, requestID string, e *platform.APIError) {
	typ := "Sender"
	if !e.Sender {
		typ = "Receiver"
	}
	var x xw
	x.b.WriteString(`<ErrorResponse xmlns="` + xmlns + `"><Error>`)
	x.elem("Type", typ)
	x.elem("Code", e.Code)
	x.elem("Message", e.Message)
	x.b.WriteString("</Error>")
	x.elem("RequestId", requestID)
	x.b.WriteString("</ErrorResponse>")
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("x-amzn-RequestId", requestID)
	st := e.Status
	if st == 0 {
		st = 400
	}
	w.WriteHeader(st)
	_, _ = w.Write(x.b.Bytes())
}

// Serve handles one CloudFormation call.
func (s *Service) Serve(w http.ResponseWriter, c *platform.Call) error {
	if c.Form == nil {
		c.Form = url.Values{}
	}
	if c.Action == "" {
		c.Action = c.Form.Get("Action")
	}
	acct := c.Principal.Account
	r := &req{s: s, c: c, f: c.Form, acct: acct, rg: s.region(acct, c.Region)}
	return handlers.Serve(r, c.Action, w, func(action string) error {
		return apiErr(400, "InvalidAction", "The action %s is not valid for this web service.", action)
	})
}

// handlers is the action table.
var handlers platform.Actions[*req]

func init() {
	handlers = platform.Actions[*req]{
		"CreateStack":                       (*req).createStack,
		"UpdateStack":                       (*req).updateStack,
		"DeleteStack":                       (*req).deleteStack,
		"DescribeStacks":                    (*req).describeStacks,
		"ListStacks":                        (*req).listStacks,
		"DescribeStackEvents":               (*req).describeStackEvents,
		"DescribeStackResource":             (*req).describeStackResource,
		"DescribeStackResources":            (*req).describeStackResources,
		"ListStackResources":                (*req).listStackResources,
		"GetTemplate":                       (*req).getTemplate,
		"GetTemplateSummary":                (*req).getTemplateSummary,
		"ValidateTemplate":                  (*req).validateTemplate,
		"CreateChangeSet":                   (*req).createChangeSet,
		"DescribeChangeSet":                 (*req).describeChangeSet,
		"ExecuteChangeSet":                  (*req).executeChangeSet,
		"DeleteChangeSet":                   (*req).deleteChangeSet,
		"ListChangeSets":                    (*req).listChangeSets,
		"SetStackPolicy":                    (*req).setStackPolicy,
		"GetStackPolicy":                    (*req).getStackPolicy,
		"UpdateTerminationProtection":       (*req).updateTerminationProtection,
		"ListExports":                       (*req).listExports,
		"ListImports":                       (*req).listImports,
		"ContinueUpdateRollback":            (*req).continueUpdateRollback,
		"CancelUpdateStack":                 (*req).cancelUpdateStack,
		"DetectStackDrift":                  (*req).detectStackDrift,
		"DetectStackResourceDrift":          (*req).detectStackResourceDrift,
		"DescribeStackDriftDetectionStatus": (*req).describeStackDriftDetectionStatus,
		"DescribeStackResourceDrifts":       (*req).describeStackResourceDrifts,
		"SignalResource":                    (*req).signalResource,
	}
}

// ---- persistence ----

type snapshot struct {
	Regions []*region `json:"regions"`
}

// Snapshot returns the service's state as JSON.
func (s *Service) Snapshot() ([]byte, error) {
	s.mu.Lock()
	keys := make([]string, 0, len(s.regions))
	for k := range s.regions {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	rgs := make([]*region, 0, len(keys))
	for _, k := range keys {
		rgs = append(rgs, s.regions[k])
	}
	s.mu.Unlock()
	var out bytes.Buffer
	out.WriteString(`{"regions":[`)
	for i, rg := range rgs {
		rg.mu.Lock()
		b, err := json.Marshal(rg)
		rg.mu.Unlock()
		if err != nil {
			return nil, fmt.Errorf("snapshot of cloudformation %s/%s: %w", rg.Account, rg.Region, err)
		}
		if i > 0 {
			out.WriteByte(',')
		}
		out.Write(b)
	}
	out.WriteString("]}")
	return out.Bytes(), nil
}

// Restore replaces the state with a snapshot. Operations that were in
// progress when the snapshot was taken are marked failed.
func (s *Service) Restore(data []byte) error {
	var snap snapshot
	if err := json.Unmarshal(data, &snap); err != nil {
		return fmt.Errorf("restoring cloudformation state: %w", err)
	}
	regions := map[string]*region{}
	for _, rg := range snap.Regions {
		if rg == nil {
			continue
		}
		if rg.Stacks == nil {
			rg.Stacks = map[string]*stack{}
		}
		if rg.ChangeSets == nil {
			rg.ChangeSets = map[string]*changeSet{}
		}
		if rg.Exports == nil {
			rg.Exports = map[string]*export{}
		}
		rg.byName = map[string]*stack{}
		for _, st := range rg.Stacks {
			if st.Body != "" {
				if t, err := cfntemplate.Parse(st.Body); err == nil {
					st.Tmpl = t
				}
			}
			if st.Resources == nil {
				st.Resources = map[string]*resource{}
			}
			if strings.HasSuffix(st.Status, "_IN_PROGRESS") && st.Status != "REVIEW_IN_PROGRESS" {
				switch {
				case strings.HasPrefix(st.Status, "DELETE"):
					st.Status = "DELETE_FAILED"
				case strings.HasPrefix(st.Status, "CREATE"), strings.HasPrefix(st.Status, "ROLLBACK"):
					st.Status = "ROLLBACK_FAILED"
				default:
					st.Status = "UPDATE_ROLLBACK_FAILED"
				}
				st.Reason = "The sandbox was restarted while the operation was in progress"
			}
			if st.Status != "DELETE_COMPLETE" {
				rg.byName[st.Name] = st
			}
		}
		for _, cs := range rg.ChangeSets {
			if t, err := cfntemplate.Parse(cs.Body); err == nil {
				cs.Tmpl = t
			}
		}
		regions[rg.Account+"/"+rg.Region] = rg
	}
	s.mu.Lock()
	s.regions = regions
	s.mu.Unlock()
	return nil
}

// Reset clears all state.
func (s *Service) Reset() {
	s.mu.Lock()
	s.regions = map[string]*region{}
	s.mu.Unlock()
}

// Wait blocks until every running stack operation has finished (tests,
// benchmarks and orderly shutdown).
func (s *Service) Wait() { s.wg.Wait() }
