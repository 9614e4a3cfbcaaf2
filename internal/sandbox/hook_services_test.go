package sandbox_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"encoding/xml"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/stacker-go/stacker/internal/sandbox"
	"github.com/stacker-go/stacker/internal/sandbox/ec2"
	"github.com/stacker-go/stacker/internal/sandbox/sandboxtest"
)

// ec2Call sends a SigV4-signed EC2 Query request (the test does not link
// aws-sdk-go-v2/service/ec2) and returns the status and body.
func ec2Call(t *testing.T, env *sandboxtest.Env, key sandbox.AccessKeySpec, params map[string]string) (int, string) {
	t.Helper()
	form := url.Values{"Version": {"2016-11-15"}}
	for k, v := range params {
		form.Set(k, v)
	}
	body := form.Encode()
	req, err := http.NewRequest(http.MethodPost, env.URL+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: key.ID, SecretAccessKey: key.Secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "ec2", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var requestIDRE = regexp.MustCompile(`(<requestId>|<RequestID>)[^<]*(</requestId>|</RequestID>)`)

func sshLine(typ string, fields ...[]byte) string {
	var blob []byte
	for _, f := range append([][]byte{[]byte(typ)}, fields...) {
		n := len(f)
		blob = append(blob, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
		blob = append(blob, f...)
	}
	return typ + " " + base64.StdEncoding.EncodeToString(blob) + " test@sandbox"
}

func xmlField(t *testing.T, body, field string) string {
	t.Helper()
	m := regexp.MustCompile("<" + field + ">([^<]*)</" + field + ">").FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no <%s> in %s", field, body)
	}
	return m[1]
}

func TestEC2KeyPairsAndImages(t *testing.T) {
	env := sandboxtest.Start(t)
	prod, master := env.Keys["prod"], env.Keys["master"]
	var gl []string
	add := func(name string, status int, body string) {
		gl = append(gl, name+": "+itoa(status)+" "+requestIDRE.ReplaceAllString(body, "${1}REQUEST-ID${2}"))
	}

	// Import an RSA key: the fingerprint is the MD5 of the DER public key.
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	e := big.NewInt(int64(rk.E)).Bytes()
	n := rk.N.Bytes()
	if n[0]&0x80 != 0 {
		n = append([]byte{0}, n...)
	}
	line := sshLine("ssh-rsa", e, n)
	st, body := ec2Call(t, env, prod, map[string]string{"Action": "ImportKeyPair", "KeyName": "deploy", "PublicKeyMaterial": base64.StdEncoding.EncodeToString([]byte(line))})
	der, _ := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	sum := md5.Sum(der)
	if want := colon(sum[:]); st != 200 || xmlField(t, body, "keyFingerprint") != want {
		t.Fatalf("ImportKeyPair: %d %s, want fingerprint %s", st, body, want)
	}
	st, body = ec2Call(t, env, prod, map[string]string{"Action": "ImportKeyPair", "KeyName": "deploy", "PublicKeyMaterial": base64.StdEncoding.EncodeToString([]byte(line))})
	add("import duplicate", st, body)
	st, body = ec2Call(t, env, prod, map[string]string{"Action": "ImportKeyPair", "KeyName": "bad", "PublicKeyMaterial": base64.StdEncoding.EncodeToString([]byte("not a key"))})
	add("import malformed", st, body)
	pk, _, _ := ed25519.GenerateKey(rand.Reader)
	st, body = ec2Call(t, env, prod, map[string]string{"Action": "ImportKeyPair", "KeyName": "ed", "PublicKeyMaterial": base64.StdEncoding.EncodeToString([]byte(sshLine("ssh-ed25519", pk)))})
	if st != 200 {
		t.Fatalf("import ed25519: %d %s", st, body)
	}

	// Create: the private key comes back once, as PEM.
	st, body = ec2Call(t, env, prod, map[string]string{"Action": "CreateKeyPair", "KeyName": "made", "KeyType": "ed25519"})
	if st != 200 {
		t.Fatalf("CreateKeyPair: %d %s", st, body)
	}
	var created struct {
		KeyMaterial string `xml:"keyMaterial"`
		KeyPairID   string `xml:"keyPairId"`
	}
	if err := xml.Unmarshal([]byte(body), &created); err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode([]byte(created.KeyMaterial))
	if blk == nil {
		t.Fatalf("key material is not PEM: %q", created.KeyMaterial)
	}
	if _, err := x509.ParsePKCS8PrivateKey(blk.Bytes); err != nil {
		t.Errorf("key material: %v", err)
	}
	st, body = ec2Call(t, env, prod, map[string]string{"Action": "CreateKeyPair", "KeyName": "rsa-made"})
	if st != 200 || !strings.Contains(body, "BEGIN RSA PRIVATE KEY") {
		t.Errorf("CreateKeyPair rsa: %d %s", st, body)
	}

	// Describe: by name, all, missing; other accounts see none of them.
	st, body = ec2Call(t, env, prod, map[string]string{"Action": "DescribeKeyPairs", "KeyName.1": "deploy"})
	if st != 200 || strings.Count(body, "<item>") != 1 || !strings.Contains(body, "<keyType>rsa</keyType>") {
		t.Errorf("DescribeKeyPairs deploy: %d %s", st, body)
	}
	if _, body = ec2Call(t, env, prod, map[string]string{"Action": "DescribeKeyPairs"}); strings.Count(body, "<item>") != 4 {
		t.Errorf("DescribeKeyPairs: want 4 keys: %s", body)
	}
	st, body = ec2Call(t, env, prod, map[string]string{"Action": "DescribeKeyPairs", "KeyName.1": "missing"})
	add("describe missing", st, body)
	if _, body = ec2Call(t, env, master, map[string]string{"Action": "DescribeKeyPairs"}); strings.Contains(body, "<item>") {
		t.Errorf("master sees prod's keys: %s", body)
	}
	if st, body = ec2Call(t, env, prod, map[string]string{"Action": "DeleteKeyPair", "KeyName": "made"}); st != 200 || !strings.Contains(body, created.KeyPairID) {
		t.Errorf("DeleteKeyPair: %d %s", st, body)
	}
	if st, _ = ec2Call(t, env, prod, map[string]string{"Action": "DescribeKeyPairs", "KeyName.1": "made"}); st != 400 {
		t.Errorf("deleted key still described")
	}

	// Images: stacker's ami lookup asks for owners and filters and picks
	// the newest.
	st, body = ec2Call(t, env, prod, map[string]string{"Action": "DescribeImages", "Owner.1": "amazon",
		"Filter.1.Name": "name", "Filter.1.Value.1": "amzn2-ami-hvm-*-x86_64-gp2", "Filter.2.Name": "architecture", "Filter.2.Value.1": "x86_64"})
	if st != 200 || strings.Count(body, "<item>") != 2 || !strings.Contains(body, "amzn2-ami-hvm-2.0.20240109.0-x86_64-gp2") {
		t.Errorf("DescribeImages amzn2: %d %s", st, body)
	}
	_, body = ec2Call(t, env, prod, map[string]string{"Action": "DescribeImages", "Filter.1.Name": "tag:os", "Filter.1.Value.1": "al2023", "Filter.2.Name": "architecture", "Filter.2.Value.1": "arm64"})
	if strings.Count(body, "<imageId>") != 1 || !strings.Contains(body, "al2023-ami-2023.3.20240108.0-kernel-6.1-arm64") {
		t.Errorf("DescribeImages by tag: %s", body)
	}
	_, body = ec2Call(t, env, prod, map[string]string{"Action": "DescribeImages", "Owner.1": ec2.OwnerCanonical})
	if strings.Count(body, "<imageId>") != 2 {
		t.Errorf("DescribeImages by owner id: %s", body)
	}

	st, body = ec2Call(t, env, prod, map[string]string{"Action": "DescribeImages", "Filter.1.Name": "colour", "Filter.1.Value.1": "blue"})
	add("describe images with an unknown filter", st, body)

	// Authorization: a user with no EC2 permission.
	u := env.AddUser("prod", sandbox.UserSpec{Name: "noec2", Policies: map[string]sandbox.PolicyDoc{"p": sandbox.PolicyDoc(allow("s3:*"))}})
	st, body = ec2Call(t, env, u.AccessKeys[0], map[string]string{"Action": "DescribeKeyPairs"})
	add("describe without permission", st, body)
	golden(t, "ec2-errors.golden", strings.Join(gl, "\n")+"\n")
}

func itoa(n int) string { return big.NewInt(int64(n)).String() }

func colon(b []byte) string {
	h := hex.EncodeToString(b)
	var p []string
	for i := 0; i < len(h); i += 2 {
		p = append(p, h[i:i+2])
	}
	return strings.Join(p, ":")
}

func TestSSMParameters(t *testing.T) {
	env := sandboxtest.Start(t)
	ctx := context.Background()
	c := ssm.NewFromConfig(env.AWSConfig(ctx, "prod"), func(o *ssm.Options) { o.RetryMaxAttempts = 1 })
	var lines []string
	add := func(name string, err error) { lines = append(lines, name+": "+describeErr(err)) }
	if _, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/keys/deploy"), Value: aws.String("-----BEGIN PRIVATE KEY-----x"), Type: ssmtypes.ParameterTypeSecureString}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/keys/deploy"), WithDecryption: aws.Bool(true)})
	if err != nil || aws.ToString(got.Parameter.Value) != "-----BEGIN PRIVATE KEY-----x" || got.Parameter.Type != ssmtypes.ParameterTypeSecureString || got.Parameter.Version != 1 {
		t.Fatalf("GetParameter decrypted: %+v %v", got, err)
	}
	enc, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/keys/deploy")})
	if err != nil || strings.Contains(aws.ToString(enc.Parameter.Value), "PRIVATE") {
		t.Errorf("SecureString without decryption leaks the value: %+v %v", enc, err)
	}
	_, err = c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/keys/deploy"), Value: aws.String("y"), Type: ssmtypes.ParameterTypeSecureString})
	add("put existing without overwrite", err)
	out, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/keys/deploy"), Value: aws.String("y"), Overwrite: aws.Bool(true)})
	if err != nil || out.Version != 2 {
		t.Errorf("overwrite: %+v %v", out, err)
	}
	if _, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("plain"), Value: aws.String("v"), Type: ssmtypes.ParameterTypeString}); err != nil {
		t.Fatal(err)
	}
	many, err := c.GetParameters(ctx, &ssm.GetParametersInput{Names: []string{"plain", "nope"}})
	if err != nil || len(many.Parameters) != 1 || len(many.InvalidParameters) != 1 {
		t.Errorf("GetParameters: %+v %v", many, err)
	}
	_, err = c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/missing")})
	add("get missing", err)
	_, err = ssm.NewFromConfig(env.AWSConfig(ctx, "stage"), func(o *ssm.Options) { o.RetryMaxAttempts = 1 }).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("plain")})
	add("get another account's", err)
	u := env.AddUser("prod", sandbox.UserSpec{Name: "nossm", Policies: map[string]sandbox.PolicyDoc{"p": sandbox.PolicyDoc(allow("s3:*"))}})
	_, err = ssm.NewFromConfig(env.ConfigFor(u.AccessKeys[0].ID, u.AccessKeys[0].Secret, ""), func(o *ssm.Options) { o.RetryMaxAttempts = 1 }).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("plain")})
	add("get without permission", err)
	golden(t, "ssm-errors.golden", strings.Join(lines, "\n")+"\n")
}

func TestRoute53HostedZones(t *testing.T) {
	env := sandboxtest.Start(t)
	ctx := context.Background()
	c := route53.NewFromConfig(env.AWSConfig(ctx, "prod"), func(o *route53.Options) { o.RetryMaxAttempts = 1 })
	var lines []string
	add := func(name string, err error) { lines = append(lines, name+": "+describeErr(err)) }
	var ids []string
	for i, n := range []string{"example.com", "b.example.org.", "a.example.com"} {
		out, err := c.CreateHostedZone(ctx, &route53.CreateHostedZoneInput{Name: aws.String(n), CallerReference: aws.String("ref-" + itoa(i)),
			HostedZoneConfig: &r53types.HostedZoneConfig{Comment: aws.String("made by a hook")}})
		if err != nil {
			t.Fatalf("CreateHostedZone %s: %v", n, err)
		}
		if !strings.HasPrefix(aws.ToString(out.HostedZone.Id), "/hostedzone/Z") || len(out.DelegationSet.NameServers) != 4 || !strings.HasSuffix(aws.ToString(out.HostedZone.Name), ".") {
			t.Errorf("CreateHostedZone %s: %+v", n, out.HostedZone)
		}
		ids = append(ids, aws.ToString(out.HostedZone.Id))
	}
	_, err := c.CreateHostedZone(ctx, &route53.CreateHostedZoneInput{Name: aws.String("x.com"), CallerReference: aws.String("ref-0")})
	add("duplicate caller reference", err)
	// stacker's create_domain: ListHostedZonesByName(DNSName, MaxItems 1).
	byName, err := c.ListHostedZonesByName(ctx, &route53.ListHostedZonesByNameInput{DNSName: aws.String("a.example.com"), MaxItems: aws.Int32(1)})
	if err != nil || len(byName.HostedZones) != 1 || aws.ToString(byName.HostedZones[0].Name) != "a.example.com." || !byName.IsTruncated {
		t.Errorf("ListHostedZonesByName: %+v %v", byName, err)
	}
	all, err := c.ListHostedZonesByName(ctx, &route53.ListHostedZonesByNameInput{})
	var names []string
	for _, z := range all.HostedZones {
		names = append(names, aws.ToString(z.Name))
	}
	if err != nil || strings.Join(names, " ") != "example.com. a.example.com. b.example.org." {
		t.Errorf("ListHostedZonesByName order: %v %v", names, err)
	}
	got, err := c.GetHostedZone(ctx, &route53.GetHostedZoneInput{Id: aws.String(ids[0])})
	if err != nil || aws.ToString(got.HostedZone.Name) != "example.com." || aws.ToString(got.HostedZone.Config.Comment) != "made by a hook" {
		t.Errorf("GetHostedZone: %+v %v", got, err)
	}
	_, err = c.GetHostedZone(ctx, &route53.GetHostedZoneInput{Id: aws.String("ZNOSUCHZONE")})
	add("get missing zone", err)
	other, err := route53.NewFromConfig(env.AWSConfig(ctx, "stage")).ListHostedZonesByName(ctx, &route53.ListHostedZonesByNameInput{})
	if err != nil || len(other.HostedZones) != 0 {
		t.Errorf("stage sees prod's zones: %+v %v", other, err)
	}
	golden(t, "route53-errors.golden", strings.Join(lines, "\n")+"\n")
}

func TestECSClusters(t *testing.T) {
	env := sandboxtest.Start(t)
	ctx := context.Background()
	c := ecs.NewFromConfig(env.AWSConfig(ctx, "prod"), func(o *ecs.Options) { o.RetryMaxAttempts = 1 })
	for i := 0; i < 2; i++ { // creating an existing cluster returns it
		out, err := c.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("app")})
		if err != nil || aws.ToString(out.Cluster.ClusterArn) != "arn:aws:ecs:us-east-1:222222222222:cluster/app" || aws.ToString(out.Cluster.Status) != "ACTIVE" {
			t.Fatalf("CreateCluster: %+v %v", out, err)
		}
	}
	d, err := c.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{"app", "missing"}})
	if err != nil || len(d.Clusters) != 1 || len(d.Failures) != 1 || aws.ToString(d.Failures[0].Reason) != "MISSING" {
		t.Errorf("DescribeClusters: %+v %v", d, err)
	}
	u := env.AddUser("prod", sandbox.UserSpec{Name: "noecs", Policies: map[string]sandbox.PolicyDoc{"p": sandbox.PolicyDoc(allow("s3:*"))}})
	_, err = ecs.NewFromConfig(env.ConfigFor(u.AccessKeys[0].ID, u.AccessKeys[0].Secret, ""), func(o *ecs.Options) { o.RetryMaxAttempts = 1 }).CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("x")})
	if got := describeErr(err); !strings.HasPrefix(got, "HTTP 400 AccessDeniedException: User: arn:aws:iam::222222222222:user/noecs is not authorized to perform: ecs:CreateCluster on resource: arn:aws:ecs:us-east-1:222222222222:cluster/x") {
		t.Errorf("CreateCluster without permission: %s", got)
	}
}

func selfSigned(t *testing.T) (certPEM, keyPEM string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "www.example.com"},
		NotBefore: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2034, 1, 1, 0, 0, 0, 0, time.UTC)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalPKCS8PrivateKey(k)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}))
}

func TestIAMServerCertificates(t *testing.T) {
	env := sandboxtest.Start(t)
	ctx := context.Background()
	c := iam.NewFromConfig(env.AWSConfig(ctx, "prod"), func(o *iam.Options) { o.RetryMaxAttempts = 1 })
	var lines []string
	add := func(name string, err error) { lines = append(lines, name+": "+describeErr(err)) }
	_, err := c.GetServerCertificate(ctx, &iam.GetServerCertificateInput{ServerCertificateName: aws.String("www")})
	add("get missing", err)
	cert, key := selfSigned(t)
	up, err := c.UploadServerCertificate(ctx, &iam.UploadServerCertificateInput{ServerCertificateName: aws.String("www"), CertificateBody: aws.String(cert), PrivateKey: aws.String(key)})
	if err != nil || aws.ToString(up.ServerCertificateMetadata.Arn) != "arn:aws:iam::222222222222:server-certificate/www" || up.ServerCertificateMetadata.Expiration.Year() != 2034 {
		t.Fatalf("UploadServerCertificate: %+v %v", up, err)
	}
	got, err := c.GetServerCertificate(ctx, &iam.GetServerCertificateInput{ServerCertificateName: aws.String("www")})
	if err != nil || strings.TrimSpace(aws.ToString(got.ServerCertificate.CertificateBody)) != strings.TrimSpace(cert) {
		t.Errorf("GetServerCertificate: %+v %v", got, err)
	}
	_, err = c.UploadServerCertificate(ctx, &iam.UploadServerCertificateInput{ServerCertificateName: aws.String("www"), CertificateBody: aws.String(cert), PrivateKey: aws.String(key)})
	add("upload duplicate", err)
	_, err = c.UploadServerCertificate(ctx, &iam.UploadServerCertificateInput{ServerCertificateName: aws.String("bad"), CertificateBody: aws.String("nope"), PrivateKey: aws.String(key)})
	add("upload malformed", err)
	golden(t, "iam-certs-errors.golden", strings.Join(lines, "\n")+"\n")
}
