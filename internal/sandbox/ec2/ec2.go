// Package ec2 is the sandbox's EC2 service: key pairs (DescribeKeyPairs,
// ImportKeyPair, CreateKeyPair, DeleteKeyPair) per account and region, and
// DescribeImages over a small seeded image catalogue (for stacker's `ami`
// lookup). It speaks EC2's query dialect (Version 2016-11-15) and has the
// shape of every sandbox service: a platform.Service with an action table.
package ec2

import (
	"bytes"
	"crypto/ed25519"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"encoding/xml"
	"fmt"
	"maps"
	"math/big"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stacker-go/stacker/internal/sandbox/platform"
)

const xmlns = "http://ec2.amazonaws.com/doc/2016-11-15/"

// Service implements platform.Service and platform.Stateful.
type Service struct {
	p  *platform.Platform
	mu sync.Mutex
	// keys by "account/region" then key name.
	keys map[string]map[string]*KeyPair
	seq  int
}

var (
	_ platform.Service  = (*Service)(nil)
	_ platform.Stateful = (*Service)(nil)
)

// KeyPair is a stored key pair (the public half only, as AWS keeps).
type KeyPair struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Fingerprint string    `json:"fingerprint"`
	Type        string    `json:"type"` // rsa or ed25519
	PublicKey   string    `json:"public_key"`
	Created     time.Time `json:"created"`
}

// New returns the service.
func New(p *platform.Platform) *Service {
	return &Service{p: p, keys: map[string]map[string]*KeyPair{}}
}

// Name is "ec2".
func (s *Service) Name() string { return "ec2" }

// Protocol is EC2's query dialect.
func (s *Service) Protocol() platform.Protocol { return platform.ProtocolEC2 }

type req struct {
	s    *Service
	c    *platform.Call
	f    url.Values
	acct string
}

var actions platform.Actions[*req]

func init() {
	actions = platform.Actions[*req]{
		"DescribeKeyPairs": (*req).describeKeyPairs,
		"ImportKeyPair":    (*req).importKeyPair,
		"CreateKeyPair":    (*req).createKeyPair,
		"DeleteKeyPair":    (*req).deleteKeyPair,
		"DescribeImages":   (*req).describeImages,
	}
}

// Serve dispatches through the action table.
func (s *Service) Serve(w http.ResponseWriter, c *platform.Call) error {
	r := &req{s: s, c: c, f: c.Form, acct: c.Principal.Account}
	return actions.Serve(r, c.Action, w, func(action string) error {
		return apiErr(400, "InvalidAction", "The action %s is not valid for this web service.", action)
	})
}

// apiErr is an API error of this service.
var apiErr = platform.Errorf

// authorize checks ec2:ACTION on resource.
func (r *req) authorize(resource string) error {
	return r.s.p.Authorize(r.c, "ec2:"+r.c.Action, resource, func(reason string) error {
		return apiErr(403, "UnauthorizedOperation", "You are not authorized to perform this operation. %s", reason)
	})
}

func (r *req) keyARN(name string) string {
	return platform.ARN(r.c, "ec2", r.acct, "key-pair/"+name)
}

// list reads Prefix.N values in N order.
func (r *req) list(prefix string) []string {
	var out []string
	for i := 1; ; i++ {
		v, ok := r.f[prefix+"."+strconv.Itoa(i)]
		if !ok {
			return out
		}
		out = append(out, v[0])
	}
}

// filters reads Filter.N.Name and Filter.N.Value.M.
func (r *req) filters() map[string][]string {
	out := map[string][]string{}
	for i := 1; ; i++ {
		name := r.f.Get("Filter." + strconv.Itoa(i) + ".Name")
		if name == "" {
			return out
		}
		out[name] = append(out[name], r.list("Filter."+strconv.Itoa(i)+".Value")...)
	}
}

// el is <name>value</name> with value escaped.
func el(name, value string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(value))
	return "<" + name + ">" + b.String() + "</" + name + ">"
}

// write writes <ActionResponse> with the request id and the body's
// elements (XML fragments).
func (r *req) write(w http.ResponseWriter, body ...string) error {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString(`<` + r.c.Action + `Response xmlns="` + xmlns + `">`)
	b.WriteString(el("requestId", r.c.RequestID))
	for _, x := range body {
		b.WriteString(x)
	}
	b.WriteString(`</` + r.c.Action + `Response>`)
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	_, err := w.Write(b.Bytes())
	return err
}

func (s *Service) region(acct, region string) map[string]*KeyPair {
	k := acct + "/" + region
	m := s.keys[k]
	if m == nil {
		m = map[string]*KeyPair{}
		s.keys[k] = m
	}
	return m
}

func (r *req) describeKeyPairs(w http.ResponseWriter) error {
	if err := r.authorize("*"); err != nil {
		return err
	}
	names, ids := r.list("KeyName"), r.list("KeyPairId")
	for k, v := range r.filters() {
		switch k {
		case "key-name":
			names = append(names, v...)
		case "key-pair-id":
			ids = append(ids, v...)
		}
	}
	withPublic := r.f.Get("IncludePublicKey") == "true"
	r.s.mu.Lock()
	m := r.s.region(r.acct, r.c.Region)
	var found []KeyPair
	for _, n := range slices.Sorted(maps.Keys(m)) {
		kp := m[n]
		if (len(names) > 0 && !matchAny(names, kp.Name)) || (len(ids) > 0 && !matchAny(ids, kp.ID)) {
			continue
		}
		found = append(found, *kp)
	}
	r.s.mu.Unlock()
	// Naming a key that does not exist is an error, as on AWS.
	for _, want := range append(r.list("KeyName"), r.list("KeyPairId")...) {
		ok := false
		for _, kp := range found {
			ok = ok || kp.Name == want || kp.ID == want
		}
		if !ok {
			return apiErr(400, "InvalidKeyPair.NotFound", "The key pair '%s' does not exist", want)
		}
	}
	var b strings.Builder
	b.WriteString("<keySet>")
	for _, kp := range found {
		b.WriteString("<item>" + el("keyPairId", kp.ID) + el("keyType", kp.Type) + "<tagSet/>" + el("keyName", kp.Name) +
			el("keyFingerprint", kp.Fingerprint) + el("createTime", kp.Created.UTC().Format("2006-01-02T15:04:05.000Z")))
		if withPublic {
			b.WriteString(el("publicKey", kp.PublicKey))
		}
		b.WriteString("</item>")
	}
	b.WriteString("</keySet>")
	return r.write(w, b.String())
}

func matchAny(patterns []string, s string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, s); ok || p == s {
			return true
		}
	}
	return false
}

func (r *req) checkName(name string) error {
	if name == "" {
		return apiErr(400, "MissingParameter", "The request must contain the parameter KeyName")
	}
	if len(name) > 255 {
		return apiErr(400, "InvalidParameterValue", "Value (%s) for parameter keyName is invalid. Length exceeds maximum of 255.", name)
	}
	return nil
}

// add stores a key pair unless the name is taken.
func (r *req) add(kp *KeyPair) error {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	m := r.s.region(r.acct, r.c.Region)
	if m[kp.Name] != nil {
		return apiErr(400, "InvalidKeyPair.Duplicate", "The keypair '%s' already exists.", kp.Name)
	}
	r.s.seq++
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s/%s/%s/%d", r.acct, r.c.Region, kp.Name, r.s.seq)))
	kp.ID = "key-" + hex.EncodeToString(sum[:])[:17]
	kp.Created = r.now()
	m[kp.Name] = kp
	return nil
}

func (r *req) now() time.Time { return r.s.p.Now() }

func (r *req) importKeyPair(w http.ResponseWriter) error {
	name := r.f.Get("KeyName")
	if err := r.checkName(name); err != nil {
		return err
	}
	if err := r.authorize(r.keyARN(name)); err != nil {
		return err
	}
	material, err := base64.StdEncoding.DecodeString(r.f.Get("PublicKeyMaterial"))
	if err != nil {
		return apiErr(400, "InvalidKey.Format", "Key is not in valid OpenSSH public key format")
	}
	typ, fp, err := publicKeyFingerprint(strings.TrimSpace(string(material)))
	if err != nil {
		return apiErr(400, "InvalidKey.Format", "Key is not in valid OpenSSH public key format")
	}
	kp := &KeyPair{Name: name, Fingerprint: fp, Type: typ, PublicKey: strings.TrimSpace(string(material))}
	if err := r.add(kp); err != nil {
		return err
	}
	return r.write(w, el("keyFingerprint", kp.Fingerprint), el("keyName", kp.Name), el("keyPairId", kp.ID))
}

func (r *req) createKeyPair(w http.ResponseWriter) error {
	name := r.f.Get("KeyName")
	if err := r.checkName(name); err != nil {
		return err
	}
	if err := r.authorize(r.keyARN(name)); err != nil {
		return err
	}
	typ := r.f.Get("KeyType")
	if typ == "" {
		typ = "rsa"
	}
	r.s.mu.Lock()
	taken := r.s.region(r.acct, r.c.Region)[name] != nil
	r.s.mu.Unlock()
	if taken {
		return apiErr(400, "InvalidKeyPair.Duplicate", "The keypair '%s' already exists.", name)
	}
	var priv any
	var pub string
	switch typ {
	case "rsa":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return fmt.Errorf("generate key pair %s: %w", name, err)
		}
		priv, pub = k, sshRSA(&k.PublicKey)
	case "ed25519":
		pk, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return fmt.Errorf("generate key pair %s: %w", name, err)
		}
		priv, pub = k, sshEd25519(pk)
	default:
		return apiErr(400, "InvalidParameterValue", "Value (%s) for parameter keyType is invalid. Valid values are rsa and ed25519.", typ)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return fmt.Errorf("encode key pair %s: %w", name, err)
	}
	var material, fp string
	if typ == "rsa" {
		material = string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(priv.(*rsa.PrivateKey))}))
		sum := sha1.Sum(der) // AWS: SHA-1 of the PKCS#8 private key for keys it creates
		fp = colonHex(sum[:])
	} else {
		material = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
		_, fp, _ = publicKeyFingerprint(pub)
	}
	kp := &KeyPair{Name: name, Fingerprint: fp, Type: typ, PublicKey: pub}
	if err := r.add(kp); err != nil {
		return err
	}
	return r.write(w, el("keyName", name), el("keyFingerprint", fp), el("keyMaterial", strings.TrimSpace(material)), el("keyPairId", kp.ID))
}

func (r *req) deleteKeyPair(w http.ResponseWriter) error {
	name, id := r.f.Get("KeyName"), r.f.Get("KeyPairId")
	if name == "" && id == "" {
		return apiErr(400, "MissingParameter", "The request must contain the parameter KeyName or KeyPairId")
	}
	if err := r.authorize(r.keyARN(name)); err != nil {
		return err
	}
	r.s.mu.Lock()
	m := r.s.region(r.acct, r.c.Region)
	for n, kp := range m {
		if n == name || kp.ID == id {
			id = kp.ID
			delete(m, n)
		}
	}
	r.s.mu.Unlock()
	// Deleting a key that does not exist succeeds, as on AWS.
	return r.write(w, el("return", "true"), el("keyPairId", id))
}

func colonHex(b []byte) string {
	h := hex.EncodeToString(b)
	var parts []string
	for i := 0; i < len(h); i += 2 {
		parts = append(parts, h[i:i+2])
	}
	return strings.Join(parts, ":")
}

// sshString appends an SSH wire-format string.
func sshString(b []byte, s []byte) []byte {
	n := len(s)
	b = append(b, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	return append(b, s...)
}

// sshMPInt is an SSH mpint's bytes (a leading zero when the high bit is set).
func sshMPInt(x []byte) []byte {
	if len(x) > 0 && x[0]&0x80 != 0 {
		return append([]byte{0}, x...)
	}
	return x
}

func sshRSA(k *rsa.PublicKey) string {
	var blob []byte
	blob = sshString(blob, []byte("ssh-rsa"))
	blob = sshString(blob, sshMPInt(bigBytes(int64(k.E))))
	blob = sshString(blob, sshMPInt(k.N.Bytes()))
	return "ssh-rsa " + base64.StdEncoding.EncodeToString(blob)
}

func sshEd25519(k ed25519.PublicKey) string {
	var blob []byte
	blob = sshString(blob, []byte("ssh-ed25519"))
	blob = sshString(blob, k)
	return "ssh-ed25519 " + base64.StdEncoding.EncodeToString(blob)
}

func bigBytes(v int64) []byte {
	var out []byte
	for v > 0 {
		out = append([]byte{byte(v)}, out...)
		v >>= 8
	}
	return out
}

// publicKeyFingerprint parses an OpenSSH public key line ("ssh-rsa AAAA...
// comment") and returns its type and AWS's fingerprint of it: for RSA the
// MD5 of the DER SubjectPublicKeyInfo, colon-separated; for ed25519 the
// base64 SHA-256 of the key blob.
func publicKeyFingerprint(line string) (typ, fp string, err error) {
	fields := strings.Fields(line)
	if len(fields) < 2 {
		return "", "", fmt.Errorf("not an OpenSSH public key")
	}
	blob, err := base64.StdEncoding.DecodeString(fields[1])
	if err != nil {
		return "", "", fmt.Errorf("not an OpenSSH public key: %w", err)
	}
	parts, err := sshFields(blob)
	if err != nil || len(parts) == 0 || string(parts[0]) != fields[0] {
		return "", "", fmt.Errorf("not an OpenSSH public key")
	}
	switch fields[0] {
	case "ssh-rsa":
		if len(parts) != 3 {
			return "", "", fmt.Errorf("malformed ssh-rsa key")
		}
		k := &rsa.PublicKey{N: newInt(parts[2]), E: int(newInt(parts[1]).Int64())}
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			return "", "", err
		}
		sum := md5.Sum(der)
		return "rsa", colonHex(sum[:]), nil
	case "ssh-ed25519":
		if len(parts) != 2 || len(parts[1]) != ed25519.PublicKeySize {
			return "", "", fmt.Errorf("malformed ssh-ed25519 key")
		}
		sum := sha256.Sum256(blob)
		return "ed25519", strings.TrimRight(base64.StdEncoding.EncodeToString(sum[:]), "="), nil
	}
	return "", "", fmt.Errorf("unsupported key type %s", fields[0])
}

// sshFields splits an SSH wire-format blob into its length-prefixed fields.
func sshFields(b []byte) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, fmt.Errorf("truncated")
		}
		n := int(b[0])<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3])
		if n < 0 || len(b) < 4+n {
			return nil, fmt.Errorf("truncated")
		}
		out = append(out, b[4:4+n])
		b = b[4+n:]
	}
	return out, nil
}

// ---- persistence ----

// Snapshot returns the key pairs as JSON.
func (s *Service) Snapshot() ([]byte, error) { return platform.SnapshotState(&s.mu, s.keys) }

// Restore replaces the key pairs.
func (s *Service) Restore(data []byte) error {
	return platform.RestoreState(&s.mu, &s.keys, data, "ec2 key pairs")
}

// Reset clears all key pairs.
func (s *Service) Reset() { platform.ResetState(&s.mu, &s.keys, map[string]map[string]*KeyPair{}) }

func newInt(b []byte) *big.Int { return new(big.Int).SetBytes(b) }
