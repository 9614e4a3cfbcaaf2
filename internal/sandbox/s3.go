package sandbox

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/xml"
	"maps"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/stacker-go/stacker/internal/sandbox/platform"
)

const s3NS = "http://s3.amazonaws.com/doc/2006-03-01/"

// S3 error texts (AWS's words).
const (
	msgNoSuchBucket    = "The specified bucket does not exist"
	msgNoSuchKey       = "The specified key does not exist."
	msgBucketExists    = "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again."
	msgBucketOwned     = "Your previous request to create the named bucket succeeded and you already own it."
	msgBucketNotEmpty  = "The bucket you tried to delete is not empty"
	msgAccessDenied    = "Access Denied"
	msgNoBucketPolicy  = "The bucket policy does not exist"
	msgNoSSE           = "The server side encryption configuration was not found"
	msgNoPAB           = "The public access block configuration was not found"
	msgMalformedPolicy = "Policies must be valid JSON and the first byte must be '{'"
)

var bucketNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

func validBucketName(n string) bool {
	return bucketNameRe.MatchString(n) && !strings.Contains(n, "..") && net.ParseIP(n) == nil
}

func s3Err(status int, code, msg string, extras ...string) *platform.APIError {
	if len(extras) > 0 {
		msg += "\x00" + strings.Join(extras, "\x00")
	}
	return apiErr(status, code, msg)
}

func noSuchBucket(b string) *platform.APIError {
	return s3Err(404, "NoSuchBucket", msgNoSuchBucket, "BucketName="+b)
}

// bucketAndKey splits a request into bucket and key, for path-style
// (http://127.0.0.1:PORT/bucket/key) and virtual-hosted
// (bucket.s3.amazonaws.com, bucket.localhost:PORT) addressing.
func bucketAndKey(r *http.Request) (string, string) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	p := r.URL.Path
	if ip := net.ParseIP(host); ip == nil && host != "localhost" && !strings.HasPrefix(host, "s3.") && !strings.HasPrefix(host, "s3-") {
		if i := strings.Index(host, ".s3."); i > 0 {
			return host[:i], strings.TrimPrefix(p, "/")
		}
		if i := strings.Index(host, ".s3-"); i > 0 {
			return host[:i], strings.TrimPrefix(p, "/")
		}
		if strings.HasSuffix(host, ".localhost") {
			return strings.TrimSuffix(host, ".localhost"), strings.TrimPrefix(p, "/")
		}
	}
	p = strings.TrimPrefix(p, "/")
	b, k, _ := strings.Cut(p, "/")
	return b, k
}

// s3OpAction is an S3 operation and the IAM action it is authorized as.
type s3OpAction struct{ op, action string }

// s3BucketSubresources lists, in the order they are matched, the bucket
// subresources (query keys) with their GET, PUT and DELETE operations.
var s3BucketSubresources = []struct {
	query         string
	get, put, del s3OpAction
}{
	{"policy", s3OpAction{"GetBucketPolicy", "s3:GetBucketPolicy"}, s3OpAction{"PutBucketPolicy", "s3:PutBucketPolicy"}, s3OpAction{"DeleteBucketPolicy", "s3:DeleteBucketPolicy"}},
	{"encryption", s3OpAction{"GetBucketEncryption", "s3:GetEncryptionConfiguration"}, s3OpAction{"PutBucketEncryption", "s3:PutEncryptionConfiguration"}, s3OpAction{"DeleteBucketEncryption", "s3:PutEncryptionConfiguration"}},
	{"publicAccessBlock", s3OpAction{"GetPublicAccessBlock", "s3:GetBucketPublicAccessBlock"}, s3OpAction{"PutPublicAccessBlock", "s3:PutBucketPublicAccessBlock"}, s3OpAction{"DeletePublicAccessBlock", "s3:PutBucketPublicAccessBlock"}},
	{"tagging", s3OpAction{"GetBucketTagging", "s3:GetBucketTagging"}, s3OpAction{"PutBucketTagging", "s3:PutBucketTagging"}, s3OpAction{"DeleteBucketTagging", "s3:PutBucketTagging"}},
}

// s3Action names the operation and its IAM action.
func s3Action(r *http.Request, bucket, key string) (op, action string) {
	q := r.URL.Query()
	has := func(k string) bool { _, ok := q[k]; return ok }
	m := r.Method
	switch {
	case bucket == "":
		return "ListBuckets", "s3:ListAllMyBuckets"
	case key == "" && has("location"):
		return "GetBucketLocation", "s3:GetBucketLocation"
	}
	if key == "" {
		for _, sub := range s3BucketSubresources {
			if !has(sub.query) {
				continue
			}
			oa := sub.get
			switch m {
			case http.MethodPut:
				oa = sub.put
			case http.MethodDelete:
				oa = sub.del
			}
			return oa.op, oa.action
		}
	}
	switch {
	case key == "" && has("versioning"):
		return "GetBucketVersioning", "s3:GetBucketVersioning"
	case key == "" && has("delete") && m == http.MethodPost:
		return "DeleteObjects", "s3:DeleteObject"
	case key == "":
		switch m {
		case http.MethodPut:
			return "CreateBucket", "s3:CreateBucket"
		case http.MethodDelete:
			return "DeleteBucket", "s3:DeleteBucket"
		case http.MethodHead:
			return "HeadBucket", "s3:ListBucket"
		}
		if q.Get("list-type") == "2" {
			return "ListObjectsV2", "s3:ListBucket"
		}
		return "ListObjects", "s3:ListBucket"
	}
	switch m {
	case http.MethodPut:
		if r.Header.Get("X-Amz-Copy-Source") != "" {
			return "CopyObject", "s3:PutObject"
		}
		return "PutObject", "s3:PutObject"
	case http.MethodDelete:
		return "DeleteObject", "s3:DeleteObject"
	case http.MethodHead:
		return "HeadObject", "s3:GetObject"
	}
	return "GetObject", "s3:GetObject"
}

// authorizeS3 evaluates identity policies with the bucket policy. p is nil
// for anonymous requests. Caller holds s.mu (read).
func (s *Server) authorizeS3Locked(p *platform.Principal, action, resource string, b *bucket) bool {
	if p == nil {
		if b == nil || b.Policy == "" {
			return false
		}
		anon := platform.Principal{Account: "anonymous", ARN: "*"}
		r := s.evaluateLocked(anon, action, resource, nil, b.Policy, b.Account)
		return r.resource.String() == "Allowed"
	}
	policyDoc, owner := "", ""
	if b != nil {
		policyDoc, owner = b.Policy, b.Account
	}
	return s.evaluateLocked(*p, action, resource, nil, policyDoc, owner).allowed
}

func writeXML(w http.ResponseWriter, status int, v any) {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	_ = xml.NewEncoder(&b).Encode(v)
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

type createBucketConfig struct {
	LocationConstraint string `xml:"LocationConstraint"`
}

func (s *Server) s3CreateBucket(p *platform.Principal, name string, body []byte) *platform.APIError {
	if p == nil {
		return s3Err(403, "AccessDenied", msgAccessDenied)
	}
	if !validBucketName(name) {
		return s3Err(400, "InvalidBucketName", "The specified bucket is not valid.", "BucketName="+name)
	}
	region := "us-east-1"
	if len(bytes.TrimSpace(body)) > 0 {
		var cfg createBucketConfig
		if err := xml.Unmarshal(body, &cfg); err != nil {
			return s3Err(400, "MalformedXML", msgMalformedXML)
		}
		if cfg.LocationConstraint != "" {
			region = cfg.LocationConstraint
		}
		if cfg.LocationConstraint == "us-east-1" {
			return s3Err(400, "InvalidLocationConstraint", "The specified location-constraint is not valid", "LocationConstraint=us-east-1")
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.authorizeS3Locked(p, "s3:CreateBucket", "arn:aws:s3:::"+name, nil) {
		return s3Err(403, "AccessDenied", msgAccessDenied)
	}
	if aerr := s.createBucketLocked(p.Account, platform.BucketSpec{Name: name, Region: region}); aerr != nil {
		if aerr.Code == "BucketAlreadyExists" || aerr.Code == "BucketAlreadyOwnedByYou" {
			aerr = s3Err(aerr.Status, aerr.Code, aerr.Message, "BucketName="+name)
		}
		return aerr
	}
	return nil
}

func (s *Server) createBucketLocked(acct string, bs platform.BucketSpec) *platform.APIError {
	if b := s.st.Buckets[bs.Name]; b != nil {
		if b.Account == acct {
			return apiErr(409, "BucketAlreadyOwnedByYou", msgBucketOwned)
		}
		return apiErr(409, "BucketAlreadyExists", msgBucketExists)
	}
	region := bs.Region
	if region == "" {
		region = "us-east-1"
	}
	b := &bucket{Name: bs.Name, Account: acct, Region: region, Created: s.clock.Now(), Objects: map[string]*object{}, Tags: bs.Tags}
	if bs.SSEAlgorithm != "" {
		b.SSE = sseXML(bs.SSEAlgorithm)
	}
	if bs.BlockPublicAccess {
		b.PAB = `<PublicAccessBlockConfiguration xmlns="` + s3NS + `"><BlockPublicAcls>true</BlockPublicAcls><IgnorePublicAcls>true</IgnorePublicAcls><BlockPublicPolicy>true</BlockPublicPolicy><RestrictPublicBuckets>true</RestrictPublicBuckets></PublicAccessBlockConfiguration>`
	}
	s.st.Buckets[bs.Name] = b
	return nil
}

func sseXML(alg string) string {
	return `<ServerSideEncryptionConfiguration xmlns="` + s3NS + `"><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>` + alg + `</SSEAlgorithm></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>false</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>`
}

func (s *Server) s3ListBuckets(w http.ResponseWriter, p *platform.Principal, action string) *platform.APIError {
	if p == nil {
		return s3Err(403, "AccessDenied", msgAccessDenied)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.authorizeS3Locked(p, action, "*", nil) {
		return s3Err(403, "AccessDenied", msgAccessDenied)
	}
	type xb struct {
		Name         string `xml:"Name"`
		CreationDate string `xml:"CreationDate"`
		BucketRegion string `xml:"BucketRegion"`
	}
	type owner struct {
		ID          string `xml:"ID"`
		DisplayName string `xml:"DisplayName"`
	}
	type result struct {
		XMLName xml.Name `xml:"ListAllMyBucketsResult"`
		Xmlns   string   `xml:"xmlns,attr"`
		Owner   owner    `xml:"Owner"`
		Buckets []xb     `xml:"Buckets>Bucket"`
	}
	res := result{Xmlns: s3NS, Owner: owner{ID: canonicalID(p.Account), DisplayName: p.Account}}
	for _, n := range slices.Sorted(maps.Keys(s.st.Buckets)) {
		if b := s.st.Buckets[n]; b.Account == p.Account {
			res.Buckets = append(res.Buckets, xb{b.Name, b.Created.Format("2006-01-02T15:04:05.000Z"), b.Region})
		}
	}
	writeXML(w, 200, res)
	return nil
}

func canonicalID(acct string) string {
	sum := md5.Sum([]byte("sandbox-owner-" + acct))
	return hex.EncodeToString(sum[:]) + hex.EncodeToString(sum[:])
}

func sseAlgOf(sse string) string {
	_, rest, _ := strings.Cut(sse, "<SSEAlgorithm>")
	alg, _, _ := strings.Cut(rest, "</SSEAlgorithm>")
	return alg
}

func (s *Server) s3List(w http.ResponseWriter, q url.Values, b *bucket, v2 bool) {
	prefix, delim := q.Get("prefix"), q.Get("delimiter")
	maxKeys := 1000
	if m, err := strconv.Atoi(q.Get("max-keys")); err == nil && m >= 0 && m < 1000 {
		maxKeys = m
	}
	after := q.Get("start-after")
	if v2 && q.Get("continuation-token") != "" {
		after = q.Get("continuation-token")
	} else if !v2 && q.Get("marker") != "" {
		after = q.Get("marker")
	}
	type content struct {
		Key          string `xml:"Key"`
		LastModified string `xml:"LastModified"`
		ETag         string `xml:"ETag"`
		Size         int    `xml:"Size"`
		StorageClass string `xml:"StorageClass"`
	}
	type cp struct {
		Prefix string `xml:"Prefix"`
	}
	type result struct {
		XMLName               xml.Name  `xml:"ListBucketResult"`
		Xmlns                 string    `xml:"xmlns,attr"`
		Name                  string    `xml:"Name"`
		Prefix                string    `xml:"Prefix"`
		Marker                *string   `xml:"Marker,omitempty"`
		NextMarker            string    `xml:"NextMarker,omitempty"`
		StartAfter            string    `xml:"StartAfter,omitempty"`
		ContinuationToken     string    `xml:"ContinuationToken,omitempty"`
		NextContinuationToken string    `xml:"NextContinuationToken,omitempty"`
		KeyCount              *int      `xml:"KeyCount,omitempty"`
		MaxKeys               int       `xml:"MaxKeys"`
		Delimiter             string    `xml:"Delimiter,omitempty"`
		IsTruncated           bool      `xml:"IsTruncated"`
		Contents              []content `xml:"Contents"`
		CommonPrefixes        []cp      `xml:"CommonPrefixes"`
	}
	res := result{Xmlns: s3NS, Name: b.Name, Prefix: prefix, MaxKeys: maxKeys, Delimiter: delim}
	if v2 {
		res.StartAfter = q.Get("start-after")
		res.ContinuationToken = q.Get("continuation-token")
	} else {
		m := q.Get("marker")
		res.Marker = &m
	}
	keys := make([]string, 0, len(b.Objects))
	for k := range b.Objects {
		if strings.HasPrefix(k, prefix) && k > after {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	seen := map[string]bool{}
	n, last := 0, ""
	for _, k := range keys {
		if delim != "" {
			if i := strings.Index(k[len(prefix):], delim); i >= 0 {
				p := k[:len(prefix)+i+len(delim)]
				if seen[p] {
					continue
				}
				if n >= maxKeys {
					res.IsTruncated = true
					break
				}
				seen[p] = true
				res.CommonPrefixes = append(res.CommonPrefixes, cp{p})
				n++
				last = k
				continue
			}
		}
		if n >= maxKeys {
			res.IsTruncated = true
			break
		}
		o := b.Objects[k]
		res.Contents = append(res.Contents, content{k, o.LastModified.Format("2006-01-02T15:04:05.000Z"), o.ETag, len(o.Data), "STANDARD"})
		n++
		last = k
	}
	if res.IsTruncated {
		if v2 {
			res.NextContinuationToken = last
		} else {
			res.NextMarker = last
		}
	}
	if v2 {
		res.KeyCount = &n
	}
	writeXML(w, 200, res)
}

func (s *Server) s3DeleteObjects(w http.ResponseWriter, p *platform.Principal, b *bucket, body []byte) *platform.APIError {
	var req struct {
		Quiet   bool `xml:"Quiet"`
		Objects []struct {
			Key string `xml:"Key"`
		} `xml:"Object"`
	}
	if err := xml.Unmarshal(body, &req); err != nil {
		return s3Err(400, "MalformedXML", msgMalformedXML)
	}
	type deleted struct {
		Key string `xml:"Key"`
	}
	type derr struct {
		Key     string `xml:"Key"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	res := struct {
		XMLName xml.Name  `xml:"DeleteResult"`
		Xmlns   string    `xml:"xmlns,attr"`
		Deleted []deleted `xml:"Deleted"`
		Errors  []derr    `xml:"Error"`
	}{Xmlns: s3NS}
	s.mu.Lock()
	for _, o := range req.Objects {
		if !s.authorizeS3Locked(p, "s3:DeleteObject", "arn:aws:s3:::"+b.Name+"/"+o.Key, b) {
			res.Errors = append(res.Errors, derr{o.Key, "AccessDenied", msgAccessDenied})
			continue
		}
		delete(b.Objects, o.Key)
		if !req.Quiet {
			res.Deleted = append(res.Deleted, deleted{o.Key})
		}
	}
	s.mu.Unlock()
	writeXML(w, 200, res)
	return nil
}

// --- platform.S3 -------------------------------------------------------------

type s3API Server

func (a *s3API) s() *Server { return (*Server)(a) }

func (a *s3API) CreateBucket(account string, bs platform.BucketSpec) error {
	if !validBucketName(bs.Name) {
		return apiErr(400, "InvalidBucketName", "The specified bucket is not valid.")
	}
	s := a.s()
	s.mu.Lock()
	defer s.mu.Unlock()
	if aerr := s.createBucketLocked(account, bs); aerr != nil {
		return aerr
	}
	return nil
}

func (a *s3API) DeleteBucket(account, name string) error {
	s := a.s()
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.st.Buckets[name]
	if b == nil || b.Account != account {
		return apiErr(404, "NoSuchBucket", msgNoSuchBucket)
	}
	if len(b.Objects) > 0 {
		return apiErr(409, "BucketNotEmpty", msgBucketNotEmpty)
	}
	delete(s.st.Buckets, name)
	return nil
}

func (a *s3API) PutBucketPolicy(account, name, doc string) error {
	if err := checkPolicy(doc); err != nil {
		return apiErr(400, "MalformedPolicy", "Invalid policy: "+err.Error())
	}
	s := a.s()
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.st.Buckets[name]
	if b == nil || b.Account != account {
		return apiErr(404, "NoSuchBucket", msgNoSuchBucket)
	}
	b.Policy = doc
	return nil
}

func (a *s3API) DeleteBucketPolicy(account, name string) error {
	s := a.s()
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.st.Buckets[name]
	if b == nil || b.Account != account {
		return apiErr(404, "NoSuchBucket", msgNoSuchBucket)
	}
	b.Policy = ""
	return nil
}

func (a *s3API) GetObjectAs(p platform.Principal, bucketName, key, versionID string) ([]byte, error) {
	s := a.s()
	s.mu.RLock()
	defer s.mu.RUnlock()
	b := s.st.Buckets[bucketName]
	if b == nil {
		return nil, apiErr(404, "NoSuchBucket", msgNoSuchBucket)
	}
	if !s.authorizeS3Locked(&p, "s3:GetObject", "arn:aws:s3:::"+bucketName+"/"+key, b) {
		return nil, apiErr(403, "AccessDenied", msgAccessDenied)
	}
	o := b.Objects[key]
	if o == nil {
		return nil, apiErr(404, "NoSuchKey", msgNoSuchKey)
	}
	if versionID != "" && versionID != o.VersionID && versionID != "null" {
		return nil, apiErr(404, "NoSuchVersion", "The specified version does not exist.")
	}
	return append([]byte{}, o.Data...), nil
}

func (a *s3API) BucketRegion(name string) (string, bool) {
	s := a.s()
	s.mu.RLock()
	defer s.mu.RUnlock()
	if b := s.st.Buckets[name]; b != nil {
		return b.Region, true
	}
	return "", false
}

// msgMalformedXML is S3's MalformedXML message.
const msgMalformedXML = "The XML you provided was not well-formed or did not validate against our published schema"

// writeStored writes a bucket sub-resource kept as its document (policy
// JSON, encryption or public access block XML), or S3's 404 for a bucket
// without one.
func writeStored(w http.ResponseWriter, b *bucket, doc, contentType, code, msg string) *platform.APIError {
	if doc == "" {
		return s3Err(404, code, msg, "BucketName="+b.Name)
	}
	w.Header().Set("Content-Type", contentType)
	if contentType == "application/xml" {
		doc = xml.Header + doc
	}
	_, _ = w.Write([]byte(doc))
	return nil
}
