// Package ec2query is a small client for the few EC2 calls the tool makes:
// DescribeImages (the ami lookup) and the key pair calls of the keypair
// hook. It speaks EC2's Query protocol (form-encoded POST, XML answers)
// through the AWS SDK's own middleware: an aws.Config from internal/target
// gives it the same credentials, SigV4 signing, retryer, HTTP client,
// endpoint overrides (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_EC2, endpoint_url)
// and APIOptions (call counting, test fakes) as every SDK client the tool
// builds. It exists because the SDK's generated EC2 client is the largest
// package in the build (hundreds of operations) and the tool needs five.
package ec2query

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Service identity as the SDK names it: the service id (AWS_ENDPOINT_URL_EC2,
// call counters), the SigV4 signing name and the Query API version.
const (
	ServiceID   = "EC2"
	signingName = "ec2"
	apiVersion  = "2016-11-15"
)

// Client calls EC2 in one region with one set of credentials. It is safe
// for concurrent use.
type Client struct {
	cfg      aws.Config
	endpoint string // base URL, no trailing slash
	retryer  aws.Retryer
	http     aws.HTTPClient
	signer   *v4.Signer
}

// NewFromConfig returns a client for cfg.Region using cfg's credentials,
// retry settings, HTTP client, endpoint overrides and APIOptions.
func NewFromConfig(cfg aws.Config) *Client {
	c := &Client{cfg: cfg, retryer: resolveRetryer(cfg), http: cfg.HTTPClient, signer: v4.NewSigner()}
	if c.http == nil {
		c.http = awshttp.NewBuildableClient()
	}
	c.endpoint = resolveEndpoint(context.Background(), cfg)
	return c
}

// Endpoint is the base URL the client sends requests to.
func (c *Client) Endpoint() string { return c.endpoint }

// resolveRetryer mirrors the SDK clients: the config's Retryer when it has
// one, else a standard (or adaptive) retryer; RetryMaxAttempts caps either.
func resolveRetryer(cfg aws.Config) aws.Retryer {
	var r aws.Retryer
	if cfg.Retryer != nil {
		r = cfg.Retryer()
	}
	if r == nil {
		if cfg.RetryMode == aws.RetryModeAdaptive {
			r = retry.NewAdaptiveMode()
		} else {
			r = retry.NewStandard()
		}
	}
	if cfg.RetryMaxAttempts != 0 {
		r = retry.AddWithMaxAttempts(r, cfg.RetryMaxAttempts)
	}
	return r
}

// serviceEndpointSource is what the SDK's config sources (environment,
// shared config file) implement for service-specific endpoint_url and
// AWS_ENDPOINT_URL_<SERVICE> settings.
type serviceEndpointSource interface {
	GetServiceBaseEndpoint(ctx context.Context, sdkID string) (string, bool, error)
}

// resolveEndpoint picks the base URL as the SDK does: a service-specific
// setting (AWS_ENDPOINT_URL_EC2, services section endpoint_url) over the
// config's BaseEndpoint (AWS_ENDPOINT_URL, endpoint_url), over the
// regional default.
func resolveEndpoint(ctx context.Context, cfg aws.Config) string {
	for _, src := range cfg.ConfigSources {
		if s, ok := src.(serviceEndpointSource); ok {
			if v, found, err := s.GetServiceBaseEndpoint(ctx, ServiceID); err == nil && found && v != "" {
				return strings.TrimRight(v, "/")
			}
		}
	}
	if cfg.BaseEndpoint != nil && *cfg.BaseEndpoint != "" {
		return strings.TrimRight(*cfg.BaseEndpoint, "/")
	}
	return DefaultEndpoint(cfg.Region)
}

// DefaultEndpoint is EC2's public regional endpoint.
func DefaultEndpoint(region string) string {
	if region == "" {
		region = "us-east-1"
	}
	suffix := "amazonaws.com"
	switch {
	case strings.HasPrefix(region, "cn-"):
		suffix = "amazonaws.com.cn"
	case strings.HasPrefix(region, "us-iso-"):
		suffix = "c2s.ic.gov"
	case strings.HasPrefix(region, "us-isob-"):
		suffix = "sc2s.sgov.gov"
	}
	return "https://ec2." + region + "." + suffix
}

// request is an operation's input: the Query parameters it sends.
type request interface{ params(url.Values) }

// invoke runs one operation through a middleware stack shaped like the
// SDK's: APIOptions see the input at Initialize, the retryer re-signs every
// attempt, errors come back as *smithy.OperationError wrapping the EC2
// error code and message (smithy.APIError) and the HTTP status.
func (c *Client) invoke(ctx context.Context, op string, in request, decode func(*smithyhttp.Response) (any, error)) (any, error) {
	ctx = middleware.ClearStackValues(ctx)
	ctx = awsmiddleware.SetServiceID(ctx, ServiceID)
	ctx = awsmiddleware.SetOperationName(ctx, op)
	ctx = awsmiddleware.SetRegion(ctx, c.cfg.Region)
	if c.cfg.Logger != nil {
		ctx = middleware.SetLogger(ctx, c.cfg.Logger)
	}

	stack := middleware.NewStack(op, smithyhttp.NewStackRequest)
	if err := c.addMiddlewares(stack, op, decode); err != nil {
		return nil, &smithy.OperationError{ServiceID: ServiceID, OperationName: op, Err: err}
	}
	for _, fn := range c.cfg.APIOptions {
		if err := fn(stack); err != nil {
			return nil, &smithy.OperationError{ServiceID: ServiceID, OperationName: op, Err: err}
		}
	}
	h := middleware.DecorateHandler(smithyhttp.NewClientHandlerWithOptions(c.http), stack)
	out, _, err := h.Handle(ctx, in)
	if err != nil {
		return nil, &smithy.OperationError{ServiceID: ServiceID, OperationName: op, Err: err}
	}
	return out, nil
}

func (c *Client) addMiddlewares(stack *middleware.Stack, op string, decode func(*smithyhttp.Response) (any, error)) error {
	steps := []error{
		stack.Serialize.Add(&serializer{op: op, endpoint: c.endpoint}, middleware.After),
		stack.Build.Add(&awsmiddleware.ClientRequestID{}, middleware.After),
		awsmiddleware.AddRequestUserAgentMiddleware(stack),
		stack.Finalize.Add(&v4.ComputePayloadSHA256{}, middleware.After),
		stack.Finalize.Add(&signer{creds: c.cfg.Credentials, signer: c.signer, region: c.cfg.Region}, middleware.After),
		stack.Finalize.Insert(retry.NewAttemptMiddleware(c.retryer, smithyhttp.RequestCloner), (*signer)(nil).ID(), middleware.Before),
		stack.Deserialize.Add(&deserializer{decode: decode}, middleware.After),
		awsmiddleware.AddRequestIDRetrieverMiddleware(stack),
		awshttp.AddResponseErrorMiddleware(stack),
		stack.Deserialize.Add(&awsmiddleware.AddRawResponse{}, middleware.Before),
	}
	return errors.Join(steps...)
}

// serializer writes the Query form: Action, Version and the operation's
// parameters, POSTed to the endpoint.
type serializer struct {
	op       string
	endpoint string
}

func (*serializer) ID() string { return "OperationSerializer" }

func (s *serializer) HandleSerialize(ctx context.Context, in middleware.SerializeInput, next middleware.SerializeHandler) (middleware.SerializeOutput, middleware.Metadata, error) {
	req, ok := in.Request.(*smithyhttp.Request)
	if !ok {
		return middleware.SerializeOutput{}, middleware.Metadata{}, fmt.Errorf("unexpected transport type %T", in.Request)
	}
	params, ok := in.Parameters.(request)
	if !ok {
		return middleware.SerializeOutput{}, middleware.Metadata{}, fmt.Errorf("unexpected input type %T", in.Parameters)
	}
	u, err := url.Parse(s.endpoint)
	if err != nil {
		return middleware.SerializeOutput{}, middleware.Metadata{}, fmt.Errorf("EC2 endpoint %q: %w", s.endpoint, err)
	}
	if u.Path == "" {
		u.Path = "/"
	}
	req.URL = u
	req.Method = "POST"
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	form := url.Values{}
	form.Set("Action", s.op)
	form.Set("Version", apiVersion)
	params.params(form)
	if req, err = req.SetStream(strings.NewReader(form.Encode())); err != nil {
		return middleware.SerializeOutput{}, middleware.Metadata{}, fmt.Errorf("set request body: %w", err)
	}
	in.Request = req
	return next.HandleSerialize(ctx, in)
}

// signer signs each attempt with SigV4 (anonymous credentials: unsigned).
type signer struct {
	creds  aws.CredentialsProvider
	signer *v4.Signer
	region string
}

func (*signer) ID() string { return "Signing" }

func (s *signer) HandleFinalize(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
	if s.creds == nil {
		return next.HandleFinalize(ctx, in)
	}
	if _, anon := s.creds.(aws.AnonymousCredentials); anon {
		return next.HandleFinalize(ctx, in)
	}
	req, ok := in.Request.(*smithyhttp.Request)
	if !ok {
		return middleware.FinalizeOutput{}, middleware.Metadata{}, fmt.Errorf("unexpected transport type %T", in.Request)
	}
	creds, err := s.creds.Retrieve(ctx)
	if err != nil {
		return middleware.FinalizeOutput{}, middleware.Metadata{}, fmt.Errorf("retrieve credentials: %w", err)
	}
	err = s.signer.SignHTTP(ctx, creds, req.Request, v4.GetPayloadHash(ctx), signingName, s.region, time.Now().UTC())
	if err != nil {
		return middleware.FinalizeOutput{}, middleware.Metadata{}, fmt.Errorf("sign request: %w", err)
	}
	return next.HandleFinalize(ctx, in)
}

// deserializer turns a 2xx answer into the operation's output and any
// other status into a smithy.APIError with EC2's error code and message.
type deserializer struct {
	decode func(*smithyhttp.Response) (any, error)
}

func (*deserializer) ID() string { return "OperationDeserializer" }

func (d *deserializer) HandleDeserialize(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
	out, md, err := next.HandleDeserialize(ctx, in)
	if err != nil {
		return out, md, err
	}
	resp, ok := out.RawResponse.(*smithyhttp.Response)
	if !ok {
		return out, md, &smithy.DeserializationError{Err: fmt.Errorf("unexpected transport type %T", out.RawResponse)}
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		apiErr, reqID := decodeError(resp.Body, resp.StatusCode)
		if reqID != "" {
			awsmiddleware.SetRequestIDMetadata(&md, reqID)
		}
		return out, md, apiErr
	}
	out.Result, err = d.decode(resp)
	if err != nil {
		return out, md, &smithy.DeserializationError{Err: err}
	}
	return out, md, nil
}
