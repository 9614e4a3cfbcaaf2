// Package testkeys makes throwaway key material for tests: an SSH public
// key for the key-pair hook, a self-signed certificate and its key for the
// server-certificate hook. Nothing it makes is ever a real credential.
package testkeys

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"testing"
	"time"
)

// SSHPublicKey is a new RSA public key in authorized_keys form
// ("ssh-rsa AAAA... deploy@example\n").
func SSHPublicKey(t testing.TB) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	e, n := big.NewInt(int64(k.E)).Bytes(), k.N.Bytes()
	if n[0]&0x80 != 0 {
		n = append([]byte{0}, n...)
	}
	var blob []byte
	for _, f := range [][]byte{[]byte("ssh-rsa"), e, n} {
		l := len(f)
		blob = append(blob, byte(l>>24), byte(l>>16), byte(l>>8), byte(l))
		blob = append(blob, f...)
	}
	return "ssh-rsa " + base64.StdEncoding.EncodeToString(blob) + " deploy@example\n"
}

// SelfSigned is a new self-signed certificate for www.example.com, valid
// from an hour ago for a day, and its PKCS#8 private key, both PEM.
func SelfSigned(t testing.TB) (certPEM, keyPEM []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "www.example.com"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd})
}
