// Package sandbox is a local multi-account AWS (CloudFormation, S3, STS,
// IAM, and for hooks EC2 key pairs and images, SSM parameters, Route53
// hosted zones and ECS clusters)
// that speaks AWS's wire protocols: SigV4 authentication, query-protocol XML
// for STS, IAM and CloudFormation, REST XML for S3, IAM policy evaluation
// shared by all services, a controllable clock, fault injection and a JSON
// admin API under /_sandbox/. The CloudFormation service lives in
// internal/sandbox/cloudformation and reaches the rest only through
// internal/sandbox/platform.
package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stacker-go/stacker/internal/sandbox/cloudformation"
	"github.com/stacker-go/stacker/internal/sandbox/ec2"
	"github.com/stacker-go/stacker/internal/sandbox/ecs"
	"github.com/stacker-go/stacker/internal/sandbox/platform"
	"github.com/stacker-go/stacker/internal/sandbox/route53"
	"github.com/stacker-go/stacker/internal/sandbox/sigv4"
	"github.com/stacker-go/stacker/internal/sandbox/ssm"
)

// Server is a sandbox: state, services and an HTTP listener.
type Server struct {
	spec  *Spec
	clock *Clock
	log   *slog.Logger

	mu sync.RWMutex // guards st
	st *state

	// services by SigV4 service name, in registration order.
	services map[string]platform.Service
	svcOrder []string
	cfn      *cloudformation.Service
	plat     *platform.Platform

	faults *faultState
	reqLog *requestLog
	reqSeq atomic.Uint64

	url      atomic.Value // string
	httpSrv  *http.Server
	listener net.Listener
	stateDir string
	closed   atomic.Bool
}

// Option configures New.
type Option func(*Server)

// WithLogger sets the diagnostics logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.log = l } }

// WithStateDir loads state from dir at New and snapshots it there on Close.
func WithStateDir(dir string) Option { return func(s *Server) { s.stateDir = dir } }

// New builds a server from spec (nil means DefaultSpec()).
func New(spec *Spec, opts ...Option) (*Server, error) {
	if spec == nil {
		spec = DefaultSpec()
	}
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("sandbox spec: %w", err)
	}
	s := &Server{
		spec:   spec,
		clock:  NewClock(),
		log:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		reqLog: newRequestLog(10000),
	}
	for _, o := range opts {
		o(s)
	}
	s.url.Store("")
	s.faults = newFaultState(spec)
	s.plat = &platform.Platform{
		Auth:     s,
		IAM:      (*iamAPI)(s),
		S3:       (*s3API)(s),
		Clock:    s.clock,
		Faults:   s.faults,
		Accounts: s.AccountIDs,
		Endpoint: s.URL,
	}
	s.cfn = cloudformation.New(s.plat)
	s.register(stsService{s}, iamService{s}, s3Service{s}, s.cfn,
		ec2.New(s.plat), ssm.New(s.plat), route53.New(s.plat), ecs.New(s.plat))
	st, err := buildState(spec, s.clock.Now())
	if err != nil {
		return nil, err
	}
	s.st = st
	if s.stateDir != "" {
		if err := s.load(s.stateDir); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// register adds services to the router, keyed by their SigV4 service
// name. A service is its package (or, for those on the shared account
// state, a file set here) with an action table; see platform.Service.
func (s *Server) register(svcs ...platform.Service) {
	if s.services == nil {
		s.services = map[string]platform.Service{}
	}
	for _, svc := range svcs {
		s.services[svc.Name()] = svc
		s.svcOrder = append(s.svcOrder, svc.Name())
	}
}

// stateful lists the services holding their own state, in registration order.
func (s *Server) stateful() map[string]platform.Stateful {
	out := map[string]platform.Stateful{}
	for _, n := range s.svcOrder {
		if st, ok := s.services[n].(platform.Stateful); ok {
			out[n] = st
		}
	}
	return out
}

// Platform returns the platform given to services (for tests).
func (s *Server) Platform() *platform.Platform { return s.plat }

// Clock returns the sandbox clock.
func (s *Server) Clock() *Clock { return s.clock }

// URL is the base URL once started.
func (s *Server) URL() string { return s.url.Load().(string) }

// AccountIDs lists account ids, sorted.
func (s *Server) AccountIDs() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Sorted(maps.Keys(s.st.Accounts))
}

// Start listens on addr ("127.0.0.1:0" picks a free port) and serves in the
// background. It returns the base URL.
func (s *Server) Start(addr string) (string, error) {
	if addr == "" {
		addr = "127.0.0.1:4566"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("sandbox: listen on %s: %w", addr, err)
	}
	s.listener = ln
	host := ln.Addr().(*net.TCPAddr)
	h := host.IP.String()
	if host.IP.IsUnspecified() {
		h = "127.0.0.1"
	}
	u := "http://" + net.JoinHostPort(h, fmt.Sprint(host.Port))
	s.url.Store(u)
	s.httpSrv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := s.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("sandbox: serve", "err", err)
		}
	}()
	return u, nil
}

// Close stops the server and, with a state dir, snapshots the state.
func (s *Server) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	var errs []error
	if s.httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := s.httpSrv.Shutdown(ctx); err != nil {
			errs = append(errs, s.httpSrv.Close())
		}
	}
	if s.stateDir != "" {
		if err := s.save(s.stateDir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Reset restores the spec's initial state in every service, clears the
// request log and the clock offset, and the admin-added fault rules.
func (s *Server) Reset() error {
	st, err := buildState(s.spec, s.clock.Now())
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.st = st
	s.mu.Unlock()
	s.clock.setOffset(0)
	s.faults.reset(s.spec)
	s.reqLog.clear()
	for _, st := range s.stateful() {
		st.Reset()
	}
	return nil
}

// reqCtx is one request in flight.
type reqCtx struct {
	id        string
	service   string
	action    string
	region    string
	principal *platform.Principal
	proto     platform.Protocol
	code      string
	// lost: the call is performed but its answer is lost (fault kind
	// "lost").
	lost bool
}

// apiErr builds an APIError.
func apiErr(status int, code, msg string) *platform.APIError {
	return &platform.APIError{Status: status, Code: code, Message: msg, Sender: status < 500}
}

// Authentication error texts (AWS's words).
const (
	msgInvalidToken  = "The security token included in the request is invalid."
	msgSigMismatch   = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	msgExpired       = "The security token included in the request is expired"
	msgS3NoKey       = "The AWS Access Key Id you provided does not exist in our records."
	msgS3SigMismatch = "The request signature we calculated does not match the signature you provided. Check your key and signing method."
	msgS3Expired     = "The provided token has expired."
	msgMissingAuth   = "Missing Authentication Token"
)

// ServeHTTP routes: /_sandbox/ to the admin API, everything else by the
// SigV4 credential scope's service to its registered platform.Service.
// The server authenticates, names the action by the service's protocol,
// applies faults and throttling, and writes returned errors in the
// service's protocol.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_sandbox/") || r.URL.Path == "/_sandbox" {
		s.serveAdmin(w, r)
		return
	}
	rc := &reqCtx{id: s.newRequestID(), proto: platform.ProtocolS3}
	start := s.clock.Now()
	rw := &statusWriter{ResponseWriter: w, status: 200}
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("sandbox: panic serving request", "panic", v, "service", rc.service, "action", rc.action)
			s.writeError(rw, r, rc, apiErr(500, "InternalFailure", "We encountered an internal error. Please try again."))
		}
		s.logRequest(rc, rw, start)
	}()
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil {
		s.writeError(rw, r, rc, apiErr(400, "IncompleteBody", "The request body could not be read."))
		return
	}
	sig, perr := sigv4.Parse(r)
	if perr == nil {
		rc.service, rc.region = sig.Service, sig.Region
	}
	svc := s.services[rc.service]
	switch {
	case svc != nil:
		rc.proto = svc.Protocol()
	case r.Header.Get("X-Amz-Target") != "":
		rc.proto = platform.ProtocolJSON
	case perr == nil || isQueryForm(r, body):
		rc.proto = platform.ProtocolQuery
	}
	if perr != nil && !errors.Is(perr, sigv4.ErrMissing) {
		if rc.proto == platform.ProtocolS3 {
			s.writeError(rw, r, rc, apiErr(400, "AuthorizationHeaderMalformed", perr.Error()))
		} else {
			s.writeError(rw, r, rc, apiErr(400, "IncompleteSignature", perr.Error()))
		}
		return
	}
	call := &platform.Call{Region: rc.region, Service: rc.service, RequestID: rc.id, HTTP: r}
	if perr != nil { // unsigned: only S3 serves anonymous requests
		if rc.proto != platform.ProtocolS3 {
			rc.action = actionOf(r, body)
			s.writeError(rw, r, rc, apiErr(403, "MissingAuthenticationToken", msgMissingAuth))
			return
		}
		rc.service, call.Service = "s3", "s3"
		svc = s.services["s3"]
		call.Anonymous, call.Body = true, body
	} else {
		p, payload, aerr := s.authenticate(r, sig, body, rc)
		if aerr != nil {
			s.writeError(rw, r, rc, aerr)
			return
		}
		rc.principal = &p
		call.Principal, call.Body = p, payload
	}
	if svc == nil {
		s.writeError(rw, r, rc, apiErr(400, "UnrecognizedClientException", "The sandbox does not emulate service "+rc.service+"."))
		return
	}
	switch rc.proto {
	case platform.ProtocolQuery, platform.ProtocolEC2:
		form, err := queryForm(r, call.Body)
		if err != nil {
			s.writeError(rw, r, rc, apiErr(400, "MalformedQueryString", err.Error()))
			return
		}
		call.Form = form
		rc.action = form.Get("Action")
		if rc.action == "" {
			s.writeError(rw, r, rc, apiErr(400, "MissingAction", "Missing Action"))
			return
		}
	case platform.ProtocolJSON:
		_, rc.action, _ = strings.Cut(r.Header.Get("X-Amz-Target"), ".")
		if rc.action == "" {
			s.writeError(rw, r, rc, apiErr(400, "UnknownOperationException", ""))
			return
		}
	default:
		if op, ok := svc.(platform.Operator); ok {
			rc.action = op.Operation(r)
		}
	}
	call.Action = rc.action
	if s.injectFault(rw, r, rc) {
		return
	}
	if rc.lost {
		s.serveLost(rw, r, rc, svc, call)
		return
	}
	if serr := svc.Serve(rw, call); serr != nil {
		var ae *platform.APIError
		if !errors.As(serr, &ae) {
			s.log.Error("sandbox: service error", "service", rc.service, "action", rc.action, "err", serr)
			ae = apiErr(500, "InternalFailure", "We encountered an internal error. Please try again.")
		}
		s.writeError(rw, r, rc, ae)
	}
}

// actionOf is the action a request names, for logging unsigned requests.
func actionOf(r *http.Request, body []byte) string {
	if _, a, ok := strings.Cut(r.Header.Get("X-Amz-Target"), "."); ok {
		return a
	}
	form, _ := url.ParseQuery(string(body))
	if a := form.Get("Action"); a != "" {
		return a
	}
	return r.URL.Query().Get("Action")
}

func isQueryForm(r *http.Request, body []byte) bool {
	if r.URL.Query().Get("Action") != "" {
		return true
	}
	return r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") && bytes.Contains(body, []byte("Action="))
}

func queryForm(r *http.Request, body []byte) (url.Values, error) {
	form := r.URL.Query()
	form.Del("X-Amz-Algorithm")
	form.Del("X-Amz-Credential")
	form.Del("X-Amz-Date")
	form.Del("X-Amz-Expires")
	form.Del("X-Amz-SignedHeaders")
	form.Del("X-Amz-Signature")
	form.Del("X-Amz-Security-Token")
	if len(body) > 0 {
		bf, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, fmt.Errorf("malformed form body: %w", err)
		}
		for k, v := range bf {
			form[k] = append(form[k], v...)
		}
	}
	return form, nil
}

// authenticate verifies the signature and maps the key to its principal.
// It returns the decoded payload (aws-chunked bodies are unwrapped).
func (s *Server) authenticate(r *http.Request, sig *sigv4.Signed, body []byte, rc *reqCtx) (platform.Principal, []byte, *platform.APIError) {
	s3 := rc.service == "s3"
	fail := func(kind string) *platform.APIError {
		switch kind {
		case "key":
			if s3 {
				return apiErr(403, "InvalidAccessKeyId", msgS3NoKey)
			}
			return apiErr(403, "InvalidClientTokenId", msgInvalidToken)
		case "sig":
			if s3 {
				return apiErr(403, "SignatureDoesNotMatch", msgS3SigMismatch)
			}
			return apiErr(403, "SignatureDoesNotMatch", msgSigMismatch)
		default:
			if s3 {
				return apiErr(400, "ExpiredToken", msgS3Expired)
			}
			return apiErr(403, "ExpiredToken", msgExpired)
		}
	}
	var p platform.Principal
	var secret string
	s.mu.RLock()
	if k := s.st.Keys[sig.AccessKeyID]; k != nil && k.Status != "Inactive" {
		u := s.st.Accounts[k.Account].Users[k.User]
		secret = k.Secret
		if u != nil {
			p = platform.Principal{Account: k.Account, ARN: u.ARN, UserID: u.ID, Kind: "user", UserName: u.Name, AccessKeyID: k.ID}
		}
	} else if ses := s.st.Sessions[sig.AccessKeyID]; ses != nil {
		secret = ses.Secret
		p = ses.Principal
		if sig.SessionToken != ses.Token {
			s.mu.RUnlock()
			return p, nil, fail("key")
		}
	}
	s.mu.RUnlock()
	if secret == "" || p.Account == "" {
		return p, nil, fail("key")
	}
	if !sig.Verify(r, body, secret) {
		s.log.Debug("sandbox: signature mismatch", "service", rc.service, "key", sig.AccessKeyID)
		return p, nil, fail("sig")
	}
	now := s.clock.Now()
	if !p.Expiration.IsZero() && !now.Before(p.Expiration) {
		return p, nil, fail("expired")
	}
	if sig.Presigned && sig.Expires > 0 && now.After(sig.AmzDate.Add(sig.Expires)) {
		if s3 {
			return p, nil, apiErr(403, "AccessDenied", "Request has expired")
		}
		return p, nil, apiErr(403, "ExpiredToken", msgExpired)
	}
	payload := body
	if sig.Streaming() || strings.Contains(r.Header.Get("Content-Encoding"), "aws-chunked") {
		data, _, err := sigv4.DecodeChunked(body)
		if err != nil {
			return p, nil, apiErr(400, "IncompleteBody", err.Error())
		}
		payload = data
	}
	return p, payload, nil
}

func (s *Server) newRequestID() string {
	n := s.reqSeq.Add(1)
	return fmt.Sprintf("%08x-%04x-4000-8000-%012x", uint32(time.Now().UnixNano()), uint16(n>>32), n)
}

// statusWriter records the status code and error code written.
type statusWriter struct {
	http.ResponseWriter
	status  int
	code    string
	written bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.written {
		w.status = code
		w.written = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.written = true
	return w.ResponseWriter.Write(b)
}

// Hijack lets fault injection drop connections.
func (w *statusWriter) Hijack() (net.Conn, interface{ Flush() error }, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, fmt.Errorf("not hijackable")
	}
	c, rw, err := hj.Hijack()
	return c, rw, err
}

var namespaces = map[string]string{
	"sts":            "https://sts.amazonaws.com/doc/2011-06-15/",
	"iam":            "https://iam.amazonaws.com/doc/2010-05-08/",
	"cloudformation": "http://cloudformation.amazonaws.com/doc/2010-05-15/",
	"ec2":            "http://ec2.amazonaws.com/doc/2016-11-15/",
	"route53":        "https://route53.amazonaws.com/doc/2013-04-01/",
}

// writeError writes e in the protocol of the request's service.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, rc *reqCtx, e *platform.APIError) {
	if sw, ok := w.(*statusWriter); ok {
		sw.code = e.Code
	}
	rc.code = e.Code
	status := e.Status
	if status == 0 {
		status = 400
	}
	w.Header().Set("X-Amzn-RequestId", rc.id)
	extras := s3ErrorExtras(e)
	var b bytes.Buffer
	text := func(s string) { xml.EscapeText(&b, []byte(s)) }
	switch rc.proto {
	case platform.ProtocolS3:
		w.Header().Set("X-Amz-Request-Id", rc.id)
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		if r.Method == http.MethodHead {
			return
		}
		b.WriteString(xml.Header)
		b.WriteString("<Error><Code>")
		text(e.Code)
		b.WriteString("</Code><Message>")
		text(e.Message)
		b.WriteString("</Message>")
		for _, kv := range extras {
			b.WriteString("<" + kv[0] + ">")
			text(kv[1])
			b.WriteString("</" + kv[0] + ">")
		}
		b.WriteString("<RequestId>" + rc.id + "</RequestId><HostId>sandbox</HostId></Error>")
	case platform.ProtocolJSON:
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("X-Amzn-ErrorType", e.Code)
		w.WriteHeader(status)
		out, _ := json.Marshal(map[string]string{"__type": e.Code, "message": e.Message})
		b.Write(out)
	case platform.ProtocolEC2:
		w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
		w.WriteHeader(status)
		b.WriteString(xml.Header + "<Response><Errors><Error><Code>")
		text(e.Code)
		b.WriteString("</Code><Message>")
		text(e.Message)
		b.WriteString("</Message></Error></Errors><RequestID>" + rc.id + "</RequestID></Response>")
	default: // query and REST XML share <ErrorResponse>
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(status)
		ns := namespaces[rc.service]
		if ns == "" {
			ns = namespaces["sts"]
		}
		typ := "Sender"
		if !e.Sender {
			typ = "Receiver"
		}
		b.WriteString(`<ErrorResponse xmlns="` + ns + `"><Error><Type>` + typ + `</Type><Code>`)
		text(e.Code)
		b.WriteString("</Code><Message>")
		text(e.Message)
		b.WriteString("</Message></Error><RequestId>" + rc.id + "</RequestId></ErrorResponse>\n")
	}
	_, _ = w.Write(b.Bytes())
}

// s3ErrorExtras carries S3's extra error elements (BucketName, Key) that
// the S3 service smuggles in the message as "\x00name=value" suffixes.
func s3ErrorExtras(e *platform.APIError) [][2]string {
	msg, extras, ok := strings.Cut(e.Message, "\x00")
	if !ok {
		return nil
	}
	e.Message = msg
	var out [][2]string
	for _, kv := range strings.Split(extras, "\x00") {
		k, v, _ := strings.Cut(kv, "=")
		out = append(out, [2]string{k, v})
	}
	return out
}

// writeQuery writes a query-protocol response <ActionResponse><ActionResult>
// with result marshalled inside (nil for empty results).
func writeQuery(w http.ResponseWriter, service, action, reqID string, result any) error {
	var b bytes.Buffer
	ns := namespaces[service]
	b.WriteString(`<` + action + `Response xmlns="` + ns + `">`)
	if result != nil {
		enc := xml.NewEncoder(&b)
		if err := enc.EncodeElement(result, xml.StartElement{Name: xml.Name{Local: action + "Result"}}); err != nil {
			return fmt.Errorf("encode %s response: %w", action, err)
		}
		if err := enc.Flush(); err != nil {
			return err
		}
	}
	b.WriteString(`<ResponseMetadata><RequestId>` + reqID + `</RequestId></ResponseMetadata></` + action + `Response>`)
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-RequestId", reqID)
	_, err := w.Write(b.Bytes())
	return err
}
