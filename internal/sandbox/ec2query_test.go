package sandbox_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/stacker-go/stacker/internal/sandbox/sandboxtest"
	"github.com/stacker-go/stacker/internal/target/ec2query"
)

// TestEC2QueryClientAgainstSandbox: the EC2 client of stacker's `ami`
// lookup and keypair hook reads the sandbox's EC2 answers.
func TestEC2QueryClientAgainstSandbox(t *testing.T) {
	env := sandboxtest.Start(t)
	ctx := context.Background()
	c := ec2query.NewFromConfig(env.AWSConfig(ctx, "prod"))
	imgs, err := c.AllImages(ctx, &ec2query.DescribeImagesInput{Owners: []string{"amazon"},
		Filters: []ec2query.Filter{{Name: "name", Values: []string{"amzn2-ami-hvm-*"}}, {Name: "architecture", Values: []string{"arm64"}}}})
	if err != nil || len(imgs) != 1 || imgs[0].Name != "amzn2-ami-hvm-2.0.20240109.0-arm64-gp2" || !strings.HasPrefix(imgs[0].ImageID, "ami-") || imgs[0].OwnerAlias != "amazon" {
		t.Fatalf("DescribeImages: %+v %v", imgs, err)
	}
	pk, _, _ := ed25519.GenerateKey(rand.Reader)
	imp, err := c.ImportKeyPair(ctx, &ec2query.ImportKeyPairInput{KeyName: "hook", PublicKeyMaterial: []byte(sshLine("ssh-ed25519", pk))})
	if err != nil || imp.Fingerprint == "" || imp.KeyPairID == "" {
		t.Fatalf("ImportKeyPair: %+v %v", imp, err)
	}
	keys, err := c.DescribeKeyPairs(ctx, &ec2query.DescribeKeyPairsInput{KeyNames: []string{"hook"}})
	if err != nil || len(keys.KeyPairs) != 1 {
		t.Fatalf("DescribeKeyPairs: %+v %v", keys, err)
	}
	created, err := c.CreateKeyPair(ctx, &ec2query.CreateKeyPairInput{KeyName: "made", KeyType: "ed25519"})
	if err != nil || !strings.Contains(created.KeyMaterial, "PRIVATE KEY") {
		t.Fatalf("CreateKeyPair: %v", err)
	}
	if _, err := c.DeleteKeyPair(ctx, &ec2query.DeleteKeyPairInput{KeyName: "made"}); err != nil {
		t.Fatalf("DeleteKeyPair: %v", err)
	}
	_, err = c.DescribeKeyPairs(ctx, &ec2query.DescribeKeyPairsInput{KeyNames: []string{"made"}})
	if err == nil || !strings.Contains(err.Error(), "InvalidKeyPair.NotFound") {
		t.Errorf("DescribeKeyPairs of a deleted key: %v", err)
	}
}
