package testkeys

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"strings"
	"testing"
)

func TestSSHPublicKey(t *testing.T) {
	k := SSHPublicKey(t)
	f := strings.Fields(k)
	if len(f) != 3 || f[0] != "ssh-rsa" || !strings.HasSuffix(k, "\n") {
		t.Fatalf("not an authorized_keys line: %q", k)
	}
	blob, err := base64.StdEncoding.DecodeString(f[1])
	if err != nil || string(blob[4:11]) != "ssh-rsa" {
		t.Fatalf("blob does not start with its type: %v", err)
	}
}

func TestSelfSigned(t *testing.T) {
	c, k := SelfSigned(t)
	cb, _ := pem.Decode(c)
	kb, _ := pem.Decode(k)
	if cb == nil || kb == nil || cb.Type != "CERTIFICATE" || kb.Type != "PRIVATE KEY" {
		t.Fatal("not PEM of a certificate and a key")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil || cert.Subject.CommonName != "www.example.com" {
		t.Fatalf("certificate: %v", err)
	}
	if _, err := x509.ParsePKCS8PrivateKey(kb.Bytes); err != nil {
		t.Fatal(err)
	}
}
