package ec2query_test

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

	sbec2 "github.com/stacker-go/stacker/internal/sandbox/ec2"
	"github.com/stacker-go/stacker/internal/sandbox/sandboxtest"
	"github.com/stacker-go/stacker/internal/target/ec2query"
)

// sshEd25519 is the OpenSSH public key line of pub.
func sshEd25519(pub ed25519.PublicKey) string {
	var b []byte
	for _, f := range [][]byte{[]byte("ssh-ed25519"), pub} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	return "ssh-ed25519 " + base64.StdEncoding.EncodeToString(b) + " deploy@ci"
}

// The client's requests are accepted, signed and answered by the sandbox's
// EC2 (which checks SigV4 and the account's policies): the key pair life
// cycle of the keypair hook and the ami lookup's DescribeImages.
func TestAgainstSandbox(t *testing.T) {
	env := sandboxtest.Start(t)
	ctx := context.Background()
	c := ec2query.NewFromConfig(env.AWSConfig(ctx, "prod"))

	_, err := c.DescribeKeyPairs(ctx, &ec2query.DescribeKeyPairsInput{KeyNames: []string{"deploy"}})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != ec2query.CodeKeyPairNotFound {
		t.Fatalf("describe a missing key pair: %v, want %s", err, ec2query.CodeKeyPairNotFound)
	}

	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	imp, err := c.ImportKeyPair(ctx, &ec2query.ImportKeyPairInput{KeyName: "deploy", PublicKeyMaterial: []byte(sshEd25519(pub) + "\n")})
	if err != nil || imp.KeyName != "deploy" || imp.Fingerprint == "" || imp.KeyPairID == "" {
		t.Fatalf("import: %+v, %v", imp, err)
	}
	_, err = c.ImportKeyPair(ctx, &ec2query.ImportKeyPairInput{KeyName: "deploy", PublicKeyMaterial: []byte(sshEd25519(pub))})
	if !errors.As(err, &ae) || ae.ErrorCode() != ec2query.CodeKeyPairDuplicate {
		t.Fatalf("import twice: %v, want %s", err, ec2query.CodeKeyPairDuplicate)
	}
	made, err := c.CreateKeyPair(ctx, &ec2query.CreateKeyPairInput{KeyName: "made"})
	if err != nil || !strings.Contains(made.KeyMaterial, "PRIVATE KEY") || made.KeyPairID == "" {
		t.Fatalf("create: %v, %v", made, err)
	}
	desc, err := c.DescribeKeyPairs(ctx, &ec2query.DescribeKeyPairsInput{KeyNames: []string{"deploy", "made"}})
	if err != nil || len(desc.KeyPairs) != 2 {
		t.Fatalf("describe: %+v, %v", desc, err)
	}
	for _, kp := range desc.KeyPairs {
		if kp.KeyName == "deploy" && (kp.Fingerprint != imp.Fingerprint || kp.KeyPairID != imp.KeyPairID) {
			t.Errorf("described %+v, imported %+v", kp, imp)
		}
	}
	for _, name := range []string{"deploy", "made"} {
		if _, err := c.DeleteKeyPair(ctx, &ec2query.DeleteKeyPairInput{KeyName: name}); err != nil {
			t.Fatalf("delete %s: %v", name, err)
		}
	}
	if desc, err := c.DescribeKeyPairs(ctx, nil); err != nil || len(desc.KeyPairs) != 0 {
		t.Fatalf("after delete: %+v, %v", desc, err)
	}

	images, err := c.AllImages(ctx, &ec2query.DescribeImagesInput{
		Owners:  []string{"amazon"},
		Filters: []ec2query.Filter{{Name: "architecture", Values: []string{"arm64"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var want int
	for _, im := range sbec2.Catalogue {
		if im.OwnerAlias == "amazon" && im.Architecture == "arm64" {
			want++
		}
	}
	if len(images) != want || want == 0 {
		t.Fatalf("%d arm64 amazon images, want %d: %+v", len(images), want, images)
	}
	for _, im := range images {
		if im.Architecture != "arm64" || !strings.HasPrefix(im.ImageID, "ami-") || im.CreationDate == "" {
			t.Errorf("image %+v", im)
		}
	}
}
