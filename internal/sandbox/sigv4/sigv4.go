// Package sigv4 verifies AWS Signature Version 4 on incoming requests:
// Authorization headers, presigned query strings, and S3's payload variants
// (UNSIGNED-PAYLOAD, aws-chunked STREAMING-* bodies with or without
// trailers). It knows nothing about accounts: the caller looks up the secret.
package sigv4

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Algorithm is the only algorithm supported.
const Algorithm = "AWS4-HMAC-SHA256"

// Payload hash markers S3 clients send in x-amz-content-sha256.
const (
	UnsignedPayload = "UNSIGNED-PAYLOAD"
	streamingPrefix = "STREAMING-"
)

// ErrMissing means the request carries no signature at all.
var ErrMissing = errors.New("request is not signed")

// Signed is the parsed signature of a request.
type Signed struct {
	AccessKeyID   string
	Date          string // yyyymmdd of the credential scope
	Region        string
	Service       string
	SignedHeaders []string
	Signature     string
	AmzDate       time.Time // X-Amz-Date
	SessionToken  string
	Presigned     bool
	Expires       time.Duration // presigned only
	PayloadHash   string        // as used in the canonical request
}

// Parse extracts the signature fields of r without verifying them.
func Parse(r *http.Request) (*Signed, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		return parseHeader(r, h)
	}
	q := r.URL.Query()
	if q.Get("X-Amz-Algorithm") != "" {
		return parseQuery(r, q)
	}
	return nil, ErrMissing
}

func parseHeader(r *http.Request, h string) (*Signed, error) {
	if !strings.HasPrefix(h, Algorithm+" ") {
		return nil, fmt.Errorf("unsupported authorization type")
	}
	s := &Signed{}
	for _, part := range strings.Split(strings.TrimPrefix(h, Algorithm+" "), ",") {
		part = strings.TrimSpace(part)
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("malformed authorization header")
		}
		switch k {
		case "Credential":
			if err := s.parseCredential(v); err != nil {
				return nil, err
			}
		case "SignedHeaders":
			s.SignedHeaders = strings.Split(v, ";")
		case "Signature":
			s.Signature = v
		}
	}
	if s.AccessKeyID == "" || s.Signature == "" || len(s.SignedHeaders) == 0 {
		return nil, fmt.Errorf("malformed authorization header")
	}
	amz := r.Header.Get("X-Amz-Date")
	if amz == "" {
		amz = r.Header.Get("Date")
	}
	t, err := time.Parse("20060102T150405Z", amz)
	if err != nil {
		return nil, fmt.Errorf("missing or malformed X-Amz-Date")
	}
	s.AmzDate = t
	s.SessionToken = r.Header.Get("X-Amz-Security-Token")
	s.PayloadHash = r.Header.Get("X-Amz-Content-Sha256")
	return s, nil
}

func parseQuery(r *http.Request, q url.Values) (*Signed, error) {
	if q.Get("X-Amz-Algorithm") != Algorithm {
		return nil, fmt.Errorf("unsupported X-Amz-Algorithm")
	}
	s := &Signed{Presigned: true}
	if err := s.parseCredential(q.Get("X-Amz-Credential")); err != nil {
		return nil, err
	}
	s.SignedHeaders = strings.Split(q.Get("X-Amz-SignedHeaders"), ";")
	s.Signature = q.Get("X-Amz-Signature")
	t, err := time.Parse("20060102T150405Z", q.Get("X-Amz-Date"))
	if err != nil {
		return nil, fmt.Errorf("malformed X-Amz-Date")
	}
	s.AmzDate = t
	if e := q.Get("X-Amz-Expires"); e != "" {
		n, err := strconv.Atoi(e)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("malformed X-Amz-Expires")
		}
		s.Expires = time.Duration(n) * time.Second
	}
	s.SessionToken = q.Get("X-Amz-Security-Token")
	s.PayloadHash = UnsignedPayload
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" {
		s.PayloadHash = h
	}
	if s.Signature == "" {
		return nil, fmt.Errorf("missing X-Amz-Signature")
	}
	return s, nil
}

func (s *Signed) parseCredential(v string) error {
	parts := strings.Split(v, "/")
	if len(parts) != 5 || parts[4] != "aws4_request" {
		return fmt.Errorf("malformed credential scope %q", v)
	}
	s.AccessKeyID, s.Date, s.Region, s.Service = parts[0], parts[1], parts[2], parts[3]
	return nil
}

// Streaming reports whether the payload is an aws-chunked STREAMING body.
func (s *Signed) Streaming() bool { return strings.HasPrefix(s.PayloadHash, streamingPrefix) }

// Verify checks the signature of r against secret. body is the request
// body already read (used when the payload hash is not declared). It
// returns the canonical request's string-to-sign on mismatch, for logs.
func (s *Signed) Verify(r *http.Request, body []byte, secret string) bool {
	payload := s.PayloadHash
	if payload == "" {
		sum := sha256.Sum256(body)
		payload = hex.EncodeToString(sum[:])
	}
	canon := s.canonicalRequest(r, payload)
	scope := s.Date + "/" + s.Region + "/" + s.Service + "/aws4_request"
	h := sha256.Sum256([]byte(canon))
	sts := Algorithm + "\n" + s.AmzDate.Format("20060102T150405Z") + "\n" + scope + "\n" + hex.EncodeToString(h[:])
	key := SigningKey(secret, s.Date, s.Region, s.Service)
	sig := hex.EncodeToString(hmacSHA256(key, []byte(sts)))
	return hmac.Equal([]byte(sig), []byte(s.Signature))
}

// SigningKey derives the SigV4 signing key.
func SigningKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), []byte(date))
	k = hmacSHA256(k, []byte(region))
	k = hmacSHA256(k, []byte(service))
	return hmacSHA256(k, []byte("aws4_request"))
}

func hmacSHA256(key, data []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(data)
	return m.Sum(nil)
}

func (s *Signed) canonicalRequest(r *http.Request, payload string) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(s.canonicalURI(r))
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(r, s.Presigned))
	b.WriteByte('\n')
	for _, h := range s.SignedHeaders {
		b.WriteString(h)
		b.WriteByte(':')
		b.WriteString(headerValue(r, h))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(s.SignedHeaders, ";"))
	b.WriteByte('\n')
	b.WriteString(payload)
	return b.String()
}

// rawPath is the path exactly as the client sent it.
func rawPath(r *http.Request) string {
	p := r.RequestURI
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	if strings.HasPrefix(p, "http://") || strings.HasPrefix(p, "https://") {
		if u, err := url.Parse(p); err == nil {
			p = u.EscapedPath()
		}
	}
	if p == "" {
		p = r.URL.EscapedPath()
	}
	if p == "" {
		p = "/"
	}
	return p
}

func (s *Signed) canonicalURI(r *http.Request) string {
	p := rawPath(r)
	if s.Service == "s3" {
		return p
	}
	// Other services sign the escaped path escaped once more.
	return escape(p, false)
}

func canonicalQuery(r *http.Request, presigned bool) string {
	raw := r.URL.RawQuery
	type kv struct{ k, v string }
	var pairs []kv
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		uk, err1 := url.QueryUnescape(strings.ReplaceAll(k, "+", "%20"))
		uv, err2 := url.QueryUnescape(strings.ReplaceAll(v, "+", "%20"))
		if err1 != nil {
			uk = k
		}
		if err2 != nil {
			uv = v
		}
		if presigned && uk == "X-Amz-Signature" {
			continue
		}
		pairs = append(pairs, kv{escape(uk, true), escape(uv, true)})
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String()
}

func headerValue(r *http.Request, name string) string {
	switch name {
	case "host":
		return r.Host
	case "content-length":
		if r.ContentLength >= 0 && r.Header.Get("Content-Length") == "" {
			return strconv.FormatInt(r.ContentLength, 10)
		}
	case "transfer-encoding":
		if len(r.TransferEncoding) > 0 {
			return strings.Join(r.TransferEncoding, ",")
		}
	}
	vals := r.Header.Values(name)
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(out, ",")
}

// escape percent-encodes s per SigV4 (RFC 3986 unreserved characters kept);
// slashes are kept unless encodeSlash.
func escape(s string, encodeSlash bool) string {
	const hexd = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ('A' <= c && c <= 'Z') || ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') ||
			c == '-' || c == '_' || c == '.' || c == '~' || (c == '/' && !encodeSlash) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexd[c>>4])
		b.WriteByte(hexd[c&15])
	}
	return b.String()
}

// DecodeChunked decodes an aws-chunked body (STREAMING-* payloads): chunks
// "hex-size[;chunk-signature=...]\r\n data \r\n", a final zero-size chunk,
// then optional trailer lines ("x-amz-checksum-crc32:...") and a blank line.
// Chunk signatures are not verified (the seed signature is). It returns the
// decoded data and the trailers.
func DecodeChunked(body []byte) ([]byte, map[string]string, error) {
	rd := bufio.NewReader(bytes.NewReader(body))
	var out bytes.Buffer
	trailers := map[string]string{}
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			return nil, nil, fmt.Errorf("aws-chunked: truncated chunk header")
		}
		line = strings.TrimRight(line, "\r\n")
		sizeHex, _, _ := strings.Cut(line, ";")
		n, err := strconv.ParseInt(strings.TrimSpace(sizeHex), 16, 64)
		if err != nil || n < 0 {
			return nil, nil, fmt.Errorf("aws-chunked: bad chunk size %q", sizeHex)
		}
		if n == 0 {
			break
		}
		if _, err := io.CopyN(&out, rd, n); err != nil {
			return nil, nil, fmt.Errorf("aws-chunked: truncated chunk")
		}
		crlf := make([]byte, 2)
		if _, err := io.ReadFull(rd, crlf); err != nil || string(crlf) != "\r\n" {
			return nil, nil, fmt.Errorf("aws-chunked: missing chunk terminator")
		}
	}
	for {
		line, err := rd.ReadString('\n')
		line = strings.TrimRight(line, "\r\n")
		if line != "" {
			k, v, ok := strings.Cut(line, ":")
			if ok {
				trailers[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
			}
		}
		if err != nil || line == "" {
			break
		}
	}
	return out.Bytes(), trailers, nil
}
