package e2e

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/aws/smithy-go"

	"github.com/stacker-go/stacker/internal/target/ec2query"
)

// moto (the referee for EC2's wire format) accepts the small EC2 client's
// requests and the client reads moto's answers: the keypair hook's calls
// and the ami lookup's DescribeImages over moto's default AMIs.
func TestEC2QueryClientAgainstMoto(t *testing.T) {
	h := Start(t)
	ctx := context.Background()
	c := ec2query.NewFromConfig(awsCfg(h, "eu-west-2"))

	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var blob []byte
	for _, f := range [][]byte{[]byte("ssh-ed25519"), pub} {
		blob = binary.BigEndian.AppendUint32(blob, uint32(len(f)))
		blob = append(blob, f...)
	}
	line := "ssh-ed25519 " + base64.StdEncoding.EncodeToString(blob) + " e2e@stacker"
	name := "e2e-" + strings.ToLower(base64.RawURLEncoding.EncodeToString(pub[:6]))

	imp, err := c.ImportKeyPair(ctx, &ec2query.ImportKeyPairInput{KeyName: name, PublicKeyMaterial: []byte(line)})
	if err != nil || imp.KeyName != name || imp.Fingerprint == "" {
		t.Fatalf("import: %+v, %v", imp, err)
	}
	desc, err := c.DescribeKeyPairs(ctx, &ec2query.DescribeKeyPairsInput{KeyNames: []string{name}})
	if err != nil || len(desc.KeyPairs) != 1 || desc.KeyPairs[0].Fingerprint != imp.Fingerprint {
		t.Fatalf("describe: %+v, %v", desc, err)
	}
	made, err := c.CreateKeyPair(ctx, &ec2query.CreateKeyPairInput{KeyName: name + "-made"})
	if err != nil || !strings.Contains(made.KeyMaterial, "PRIVATE KEY") {
		t.Fatalf("create: %v, %v", made, err)
	}
	for _, n := range []string{name, name + "-made"} {
		if _, err := c.DeleteKeyPair(ctx, &ec2query.DeleteKeyPairInput{KeyName: n}); err != nil {
			t.Fatalf("delete %s: %v", n, err)
		}
	}
	_, err = c.DescribeKeyPairs(ctx, &ec2query.DescribeKeyPairsInput{KeyNames: []string{name}})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != ec2query.CodeKeyPairNotFound {
		t.Fatalf("describe after delete: %v, want %s", err, ec2query.CodeKeyPairNotFound)
	}

	images, err := c.AllImages(ctx, &ec2query.DescribeImagesInput{
		Owners:  []string{"amazon"},
		Filters: []ec2query.Filter{{Name: "architecture", Values: []string{"x86_64"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(images) == 0 {
		t.Fatal("moto lists no amazon x86_64 images")
	}
	for _, im := range images {
		if im.Architecture != "x86_64" || !strings.HasPrefix(im.ImageID, "ami-") || im.Name == "" {
			t.Fatalf("image %+v", im)
		}
	}
}
