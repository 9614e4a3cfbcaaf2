package sandbox

import (
	"crypto/x509"
	"encoding/pem"
	"maps"
	"net/http"
	"slices"
	"strings"
)

// IAM server certificates (UploadServerCertificate, GetServerCertificate,
// ListServerCertificates, DeleteServerCertificate): part of the IAM
// service's action table, stored with the account.

func init() {
	iamActions["UploadServerCertificate"] = (*iamReq).uploadServerCertificate
	iamActions["GetServerCertificate"] = (*iamReq).getServerCertificate
	iamActions["ListServerCertificates"] = (*iamReq).listServerCertificates
	iamActions["DeleteServerCertificate"] = (*iamReq).deleteServerCertificate
}

type xmlCertMeta struct {
	Path                  string `xml:"Path"`
	ServerCertificateName string `xml:"ServerCertificateName"`
	ServerCertificateID   string `xml:"ServerCertificateId"`
	Arn                   string `xml:"Arn"`
	UploadDate            string `xml:"UploadDate"`
	Expiration            string `xml:"Expiration"`
}

func certMeta(c *serverCert) xmlCertMeta {
	return xmlCertMeta{Path: c.Path, ServerCertificateName: c.Name, ServerCertificateID: c.ID, Arn: c.ARN,
		UploadDate: c.Uploaded.UTC().Format(iamTime), Expiration: c.Expires.UTC().Format(iamTime)}
}

const msgMalformedCert = "Unable to parse certificate. Please ensure the certificate is in PEM format."

func (r *iamReq) uploadServerCertificate(w http.ResponseWriter) error {
	f := r.f
	name := f.Get("ServerCertificateName")
	if !iamNameRe.MatchString(name) {
		return constraint(name, "serverCertificateName", `Member must satisfy regular expression pattern: [\w+=,.@-]+`)
	}
	body := strings.TrimSpace(f.Get("CertificateBody"))
	blk, _ := pem.Decode([]byte(body))
	if blk == nil || blk.Type != "CERTIFICATE" {
		return apiErr(400, "MalformedCertificate", msgMalformedCert)
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return apiErr(400, "MalformedCertificate", msgMalformedCert)
	}
	key := strings.TrimSpace(f.Get("PrivateKey"))
	if kb, _ := pem.Decode([]byte(key)); kb == nil || !strings.Contains(kb.Type, "PRIVATE KEY") {
		return apiErr(400, "MalformedCertificate", "Unable to parse private key.")
	}
	path := cleanPath(f.Get("Path"))
	var out *serverCert
	err = r.s.withAccount(r.acct, func(a *acctState) error {
		if a.ServerCerts[name] != nil {
			return entityExists("The Server Certificate with name " + name + " already exists.")
		}
		out = &serverCert{Name: name, Path: path, ID: randomID("ASCA", 17), ARN: "arn:aws:iam::" + r.acct + ":server-certificate" + path + name,
			Body: body, Chain: strings.TrimSpace(f.Get("CertificateChain")), Key: key, Uploaded: r.s.clock.Now(), Expires: cert.NotAfter}
		a.ServerCerts[name] = out
		return nil
	})
	if err != nil {
		return err
	}
	return r.ok(w, struct {
		ServerCertificateMetadata xmlCertMeta `xml:"ServerCertificateMetadata"`
	}{certMeta(out)})
}

func (r *iamReq) serverCert(name string) (serverCert, error) {
	var c serverCert
	err := r.s.withAccount(r.acct, func(a *acctState) error {
		p := a.ServerCerts[name]
		if p == nil {
			return noSuchEntity("The Server Certificate with name " + name + " cannot be found.")
		}
		c = *p
		return nil
	})
	return c, err
}

func (r *iamReq) getServerCertificate(w http.ResponseWriter) error {
	c, err := r.serverCert(r.f.Get("ServerCertificateName"))
	if err != nil {
		return err
	}
	type cert struct {
		ServerCertificateMetadata xmlCertMeta `xml:"ServerCertificateMetadata"`
		CertificateBody           string      `xml:"CertificateBody"`
		CertificateChain          string      `xml:"CertificateChain,omitempty"`
	}
	return r.ok(w, struct {
		ServerCertificate cert `xml:"ServerCertificate"`
	}{cert{certMeta(&c), c.Body, c.Chain}})
}

func (r *iamReq) listServerCertificates(w http.ResponseWriter) error {
	prefix := r.f.Get("PathPrefix")
	var list []xmlCertMeta
	_ = r.s.withAccount(r.acct, func(a *acctState) error {
		for _, n := range slices.Sorted(maps.Keys(a.ServerCerts)) {
			if c := a.ServerCerts[n]; strings.HasPrefix(c.Path, prefix) {
				list = append(list, certMeta(c))
			}
		}
		return nil
	})
	return r.ok(w, struct {
		List        []xmlCertMeta `xml:"ServerCertificateMetadataList>member"`
		IsTruncated bool          `xml:"IsTruncated"`
	}{List: list})
}

func (r *iamReq) deleteServerCertificate(w http.ResponseWriter) error {
	name := r.f.Get("ServerCertificateName")
	return r.done(w, r.s.withAccount(r.acct, func(a *acctState) error {
		if a.ServerCerts[name] == nil {
			return noSuchEntity("The Server Certificate with name " + name + " cannot be found.")
		}
		delete(a.ServerCerts, name)
		return nil
	}))
}
