package sandbox

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/stacker-go/stacker/internal/sandbox/platform"
)

// s3Service is S3's REST API. Buckets live in the server's shared state
// (CloudFormation and TemplateURL reads reach them through platform.S3);
// s3.go holds addressing, authorization and the platform view, this file
// the wire API and its action table.
type s3Service struct{ s *Server }

func (s3Service) Name() string                { return "s3" }
func (s3Service) Protocol() platform.Protocol { return platform.ProtocolS3 }

// Operation names the S3 operation of a request.
func (s3Service) Operation(r *http.Request) string {
	b, k := bucketAndKey(r)
	op, _ := s3Action(r, b, k)
	return op
}

// s3Req is one S3 call. b is the bucket, set (with s.mu held for writing)
// for bucket operations (bucketOp).
type s3Req struct {
	s      *Server
	c      *platform.Call
	p      *platform.Principal // nil for anonymous requests
	q      url.Values
	bucket string
	key    string
	action string // IAM action
	b      *bucket
}

// s3Actions is S3's action table, by operation.
var s3Actions platform.Actions[*s3Req]

func init() {
	s3Actions = platform.Actions[*s3Req]{
		"CreateBucket":            s3Unlocked((*s3Req).createBucket),
		"ListBuckets":             s3Unlocked((*s3Req).listBuckets),
		"DeleteObjects":           s3Unlocked((*s3Req).deleteObjects),
		"HeadBucket":              bucketOp((*s3Req).headBucket),
		"DeleteBucket":            bucketOp((*s3Req).deleteBucket),
		"GetBucketLocation":       bucketOp((*s3Req).getBucketLocation),
		"GetBucketPolicy":         bucketOp((*s3Req).getBucketPolicy),
		"PutBucketPolicy":         bucketOp((*s3Req).putBucketPolicy),
		"DeleteBucketPolicy":      bucketOp((*s3Req).deleteBucketPolicy),
		"GetBucketEncryption":     bucketOp((*s3Req).getBucketEncryption),
		"PutBucketEncryption":     bucketOp((*s3Req).putBucketEncryption),
		"DeleteBucketEncryption":  bucketOp((*s3Req).deleteBucketEncryption),
		"GetPublicAccessBlock":    bucketOp((*s3Req).getPublicAccessBlock),
		"PutPublicAccessBlock":    bucketOp((*s3Req).putPublicAccessBlock),
		"DeletePublicAccessBlock": bucketOp((*s3Req).deletePublicAccessBlock),
		"GetBucketTagging":        bucketOp((*s3Req).getBucketTagging),
		"PutBucketTagging":        bucketOp((*s3Req).putBucketTagging),
		"DeleteBucketTagging":     bucketOp((*s3Req).deleteBucketTagging),
		"GetBucketVersioning":     bucketOp((*s3Req).getBucketVersioning),
		"ListObjectsV2":           bucketOp((*s3Req).listObjects),
		"ListObjects":             bucketOp((*s3Req).listObjects),
		"PutObject":               bucketOp((*s3Req).putObject),
		"CopyObject":              bucketOp((*s3Req).putObject),
		"GetObject":               bucketOp((*s3Req).getObject),
		"HeadObject":              bucketOp((*s3Req).getObject),
		"DeleteObject":            bucketOp((*s3Req).deleteObject)}
}

// Serve dispatches through s3Actions.
func (svc s3Service) Serve(w http.ResponseWriter, c *platform.Call) error {
	x := &s3Req{s: svc.s, c: c, q: c.HTTP.URL.Query()}
	if !c.Anonymous {
		x.p = &c.Principal
	}
	x.bucket, x.key = bucketAndKey(c.HTTP)
	_, x.action = s3Action(c.HTTP, x.bucket, x.key)
	return s3Actions.Serve(x, c.Action, w, func(string) error {
		return s3Err(405, "MethodNotAllowed", "The specified method is not allowed against this resource.")
	})
}

// s3Unlocked adapts a handler that takes the locks it needs.
func s3Unlocked(fn func(x *s3Req, w http.ResponseWriter) *platform.APIError) func(*s3Req, http.ResponseWriter) error {
	return func(x *s3Req, w http.ResponseWriter) error {
		if err := fn(x, w); err != nil {
			return err
		}
		return nil
	}
}

// bucketOp adapts a bucket or object operation: it runs with s.mu held,
// on an existing bucket, after authorizing the caller with its identity
// policies and the bucket policy.
func bucketOp(fn func(x *s3Req, w http.ResponseWriter) *platform.APIError) func(*s3Req, http.ResponseWriter) error {
	return func(x *s3Req, w http.ResponseWriter) error {
		s := x.s
		s.mu.Lock()
		defer s.mu.Unlock()
		x.b = s.st.Buckets[x.bucket]
		if x.b == nil {
			return noSuchBucket(x.bucket)
		}
		resource := "arn:aws:s3:::" + x.bucket
		if x.key != "" {
			resource += "/" + x.key
		}
		if !s.authorizeS3Locked(x.p, x.action, resource, x.b) {
			return s3Err(403, "AccessDenied", msgAccessDenied)
		}
		if err := fn(x, w); err != nil {
			return err
		}
		return nil
	}
}

func (x *s3Req) createBucket(http.ResponseWriter) *platform.APIError {
	return x.s.s3CreateBucket(x.p, x.bucket, x.c.Body)
}

func (x *s3Req) listBuckets(w http.ResponseWriter) *platform.APIError {
	return x.s.s3ListBuckets(w, x.p, x.action)
}

func (x *s3Req) deleteObjects(w http.ResponseWriter) *platform.APIError {
	x.s.mu.RLock()
	b := x.s.st.Buckets[x.bucket]
	x.s.mu.RUnlock()
	if b == nil {
		return noSuchBucket(x.bucket)
	}
	return x.s.s3DeleteObjects(w, x.p, b, x.c.Body)
}

func (x *s3Req) headBucket(w http.ResponseWriter) *platform.APIError {
	w.Header().Set("X-Amz-Bucket-Region", x.b.Region)
	w.WriteHeader(200)
	return nil
}

func (x *s3Req) deleteBucket(w http.ResponseWriter) *platform.APIError {
	if len(x.b.Objects) > 0 {
		return s3Err(409, "BucketNotEmpty", msgBucketNotEmpty, "BucketName="+x.b.Name)
	}
	delete(x.s.st.Buckets, x.b.Name)
	w.WriteHeader(204)
	return nil
}

func (x *s3Req) getBucketLocation(w http.ResponseWriter) *platform.APIError {
	loc := x.b.Region
	if loc == "us-east-1" {
		loc = ""
	}
	writeXML(w, 200, struct {
		XMLName xml.Name `xml:"LocationConstraint"`
		Xmlns   string   `xml:"xmlns,attr"`
		Value   string   `xml:",chardata"`
	}{Xmlns: s3NS, Value: loc})
	return nil
}

func (x *s3Req) getBucketPolicy(w http.ResponseWriter) *platform.APIError {
	return writeStored(w, x.b, x.b.Policy, "application/json", "NoSuchBucketPolicy", msgNoBucketPolicy)
}

func (x *s3Req) putBucketPolicy(w http.ResponseWriter) *platform.APIError {
	doc := strings.TrimSpace(string(x.c.Body))
	if !strings.HasPrefix(doc, "{") || !json.Valid([]byte(doc)) {
		return s3Err(400, "MalformedPolicy", msgMalformedPolicy)
	}
	if err := checkPolicy(doc); err != nil {
		return s3Err(400, "MalformedPolicy", "Invalid policy: "+err.Error())
	}
	x.b.Policy = doc
	w.WriteHeader(204)
	return nil
}

func (x *s3Req) deleteBucketPolicy(w http.ResponseWriter) *platform.APIError {
	x.b.Policy = ""
	w.WriteHeader(204)
	return nil
}

func (x *s3Req) getBucketEncryption(w http.ResponseWriter) *platform.APIError {
	return writeStored(w, x.b, x.b.SSE, "application/xml", "ServerSideEncryptionConfigurationNotFoundError", msgNoSSE)
}

func (x *s3Req) putBucketEncryption(w http.ResponseWriter) *platform.APIError {
	var cfg struct {
		Rules []struct {
			Default struct {
				SSEAlgorithm   string `xml:"SSEAlgorithm"`
				KMSMasterKeyID string `xml:"KMSMasterKeyID"`
			} `xml:"ApplyServerSideEncryptionByDefault"`
		} `xml:"Rule"`
	}
	if err := xml.Unmarshal(x.c.Body, &cfg); err != nil || len(cfg.Rules) == 0 {
		return s3Err(400, "MalformedXML", msgMalformedXML)
	}
	alg := cfg.Rules[0].Default.SSEAlgorithm
	if alg != "AES256" && alg != "aws:kms" && alg != "aws:kms:dsse" {
		return s3Err(400, "MalformedXML", msgMalformedXML)
	}
	x.b.SSE = sseXML(alg)
	w.WriteHeader(200)
	return nil
}

func (x *s3Req) deleteBucketEncryption(w http.ResponseWriter) *platform.APIError {
	x.b.SSE = ""
	w.WriteHeader(204)
	return nil
}

func (x *s3Req) getPublicAccessBlock(w http.ResponseWriter) *platform.APIError {
	return writeStored(w, x.b, x.b.PAB, "application/xml", "NoSuchPublicAccessBlockConfiguration", msgNoPAB)
}

func (x *s3Req) putPublicAccessBlock(w http.ResponseWriter) *platform.APIError {
	var cfg struct {
		BlockPublicAcls       bool `xml:"BlockPublicAcls"`
		IgnorePublicAcls      bool `xml:"IgnorePublicAcls"`
		BlockPublicPolicy     bool `xml:"BlockPublicPolicy"`
		RestrictPublicBuckets bool `xml:"RestrictPublicBuckets"`
	}
	if err := xml.Unmarshal(x.c.Body, &cfg); err != nil {
		return s3Err(400, "MalformedXML", msgMalformedXML)
	}
	x.b.PAB = fmt.Sprintf(`<PublicAccessBlockConfiguration xmlns="%s"><BlockPublicAcls>%t</BlockPublicAcls><IgnorePublicAcls>%t</IgnorePublicAcls><BlockPublicPolicy>%t</BlockPublicPolicy><RestrictPublicBuckets>%t</RestrictPublicBuckets></PublicAccessBlockConfiguration>`,
		s3NS, cfg.BlockPublicAcls, cfg.IgnorePublicAcls, cfg.BlockPublicPolicy, cfg.RestrictPublicBuckets)
	w.WriteHeader(200)
	return nil
}

func (x *s3Req) deletePublicAccessBlock(w http.ResponseWriter) *platform.APIError {
	x.b.PAB = ""
	w.WriteHeader(204)
	return nil
}

func (x *s3Req) getBucketTagging(w http.ResponseWriter) *platform.APIError {
	if len(x.b.Tags) == 0 {
		return s3Err(404, "NoSuchTagSet", "The TagSet does not exist", "BucketName="+x.b.Name)
	}
	type tag struct {
		Key   string `xml:"Key"`
		Value string `xml:"Value"`
	}
	res := struct {
		XMLName xml.Name `xml:"Tagging"`
		Xmlns   string   `xml:"xmlns,attr"`
		Tags    []tag    `xml:"TagSet>Tag"`
	}{Xmlns: s3NS}
	for _, k := range slices.Sorted(maps.Keys(x.b.Tags)) {
		res.Tags = append(res.Tags, tag{k, x.b.Tags[k]})
	}
	writeXML(w, 200, res)
	return nil
}

func (x *s3Req) putBucketTagging(w http.ResponseWriter) *platform.APIError {
	var cfg struct {
		Tags []struct {
			Key   string `xml:"Key"`
			Value string `xml:"Value"`
		} `xml:"TagSet>Tag"`
	}
	if err := xml.Unmarshal(x.c.Body, &cfg); err != nil {
		return s3Err(400, "MalformedXML", msgMalformedXML)
	}
	x.b.Tags = map[string]string{}
	for _, t := range cfg.Tags {
		x.b.Tags[t.Key] = t.Value
	}
	w.WriteHeader(204)
	return nil
}

func (x *s3Req) deleteBucketTagging(w http.ResponseWriter) *platform.APIError {
	x.b.Tags = nil
	w.WriteHeader(204)
	return nil
}

func (x *s3Req) getBucketVersioning(w http.ResponseWriter) *platform.APIError {
	writeXML(w, 200, struct {
		XMLName xml.Name `xml:"VersioningConfiguration"`
		Xmlns   string   `xml:"xmlns,attr"`
	}{Xmlns: s3NS})
	return nil
}

func (x *s3Req) listObjects(w http.ResponseWriter) *platform.APIError {
	x.s.s3List(w, x.q, x.b, x.c.Action == "ListObjectsV2")
	return nil
}

func (x *s3Req) putObject(w http.ResponseWriter) *platform.APIError {
	data := x.c.Body
	if x.c.Action == "CopyObject" {
		src, _ := url.PathUnescape(strings.TrimPrefix(x.c.HTTP.Header.Get("X-Amz-Copy-Source"), "/"))
		sb, sk, _ := strings.Cut(src, "/")
		sk, _, _ = strings.Cut(sk, "?")
		srcB := x.s.st.Buckets[sb]
		if srcB == nil {
			return noSuchBucket(sb)
		}
		// The copy reads the source as the caller: its policies and the
		// source bucket's policy must allow s3:GetObject, as on AWS.
		if !x.s.authorizeS3Locked(x.p, "s3:GetObject", "arn:aws:s3:::"+sb+"/"+sk, srcB) {
			return s3Err(403, "AccessDenied", msgAccessDenied)
		}
		o := srcB.Objects[sk]
		if o == nil {
			return s3Err(404, "NoSuchKey", msgNoSuchKey, "Key="+sk)
		}
		data = append([]byte{}, o.Data...)
	}
	sum := md5.Sum(data)
	o := &object{Key: x.key, Data: append([]byte{}, data...), ETag: `"` + hex.EncodeToString(sum[:]) + `"`,
		VersionID: randomID("", 32), ContentType: x.c.HTTP.Header.Get("Content-Type"), LastModified: x.s.clock.Now(), Meta: map[string]string{}}
	for k, v := range x.c.HTTP.Header {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-amz-meta-") {
			o.Meta[lk] = strings.Join(v, ",")
		}
	}
	x.b.Objects[x.key] = o
	w.Header().Set("ETag", o.ETag)
	if x.b.SSE != "" {
		w.Header().Set("X-Amz-Server-Side-Encryption", sseAlgOf(x.b.SSE))
	}
	if x.c.Action == "CopyObject" {
		writeXML(w, 200, struct {
			XMLName      xml.Name `xml:"CopyObjectResult"`
			ETag         string   `xml:"ETag"`
			LastModified string   `xml:"LastModified"`
		}{ETag: o.ETag, LastModified: o.LastModified.Format("2006-01-02T15:04:05.000Z")})
		return nil
	}
	w.WriteHeader(200)
	return nil
}

func (x *s3Req) getObject(w http.ResponseWriter) *platform.APIError {
	o := x.b.Objects[x.key]
	if o == nil {
		if x.c.Action == "HeadObject" {
			return s3Err(404, "NotFound", "Not Found")
		}
		return s3Err(404, "NoSuchKey", msgNoSuchKey, "Key="+x.key)
	}
	if v := x.q.Get("versionId"); v != "" && v != o.VersionID && v != "null" {
		return s3Err(404, "NoSuchVersion", "The specified version does not exist.", "Key="+x.key, "VersionId="+v)
	}
	h := w.Header()
	h.Set("ETag", o.ETag)
	h.Set("Last-Modified", o.LastModified.UTC().Format(http.TimeFormat))
	h.Set("Content-Length", strconv.Itoa(len(o.Data)))
	ct := o.ContentType
	if ct == "" {
		ct = "binary/octet-stream"
	}
	h.Set("Content-Type", ct)
	h.Set("Accept-Ranges", "bytes")
	for k, v := range o.Meta {
		h.Set(k, v)
	}
	if x.b.SSE != "" {
		h.Set("X-Amz-Server-Side-Encryption", sseAlgOf(x.b.SSE))
	}
	w.WriteHeader(200)
	if x.c.Action == "GetObject" {
		_, _ = w.Write(o.Data)
	}
	return nil
}

func (x *s3Req) deleteObject(w http.ResponseWriter) *platform.APIError {
	delete(x.b.Objects, x.key)
	w.WriteHeader(204)
	return nil
}
