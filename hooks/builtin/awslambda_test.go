package builtin

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/stacker-go/stacker/internal/cfn"
)

// fakeS3 is an in-memory S3 with the calls the Lambda hook makes.
type fakeS3 struct {
	mu      sync.Mutex
	buckets map[string]string // name → region
	objects map[string][]byte // bucket/key → body
	puts    []*s3.PutObjectInput
}

func newFakeS3() *fakeS3 {
	return &fakeS3{buckets: map[string]string{}, objects: map[string][]byte{}}
}

var errNotFound = &smithy.GenericAPIError{Code: "NotFound", Message: "Not Found"}

func (f *fakeS3) HeadBucket(_ context.Context, in *s3.HeadBucketInput, _ ...func(*s3.Options)) (*s3.HeadBucketOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.buckets[*in.Bucket]; !ok {
		return nil, errNotFound
	}
	return &s3.HeadBucketOutput{}, nil
}
func (f *fakeS3) CreateBucket(_ context.Context, in *s3.CreateBucketInput, _ ...func(*s3.Options)) (*s3.CreateBucketOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	region := "us-east-1"
	if in.CreateBucketConfiguration != nil {
		region = string(in.CreateBucketConfiguration.LocationConstraint)
	}
	f.buckets[*in.Bucket] = region
	return &s3.CreateBucketOutput{}, nil
}
func (f *fakeS3) PutBucketEncryption(context.Context, *s3.PutBucketEncryptionInput, ...func(*s3.Options)) (*s3.PutBucketEncryptionOutput, error) {
	return &s3.PutBucketEncryptionOutput{}, nil
}
func (f *fakeS3) PutPublicAccessBlock(context.Context, *s3.PutPublicAccessBlockInput, ...func(*s3.Options)) (*s3.PutPublicAccessBlockOutput, error) {
	return &s3.PutPublicAccessBlockOutput{}, nil
}
func (f *fakeS3) HeadObject(_ context.Context, in *s3.HeadObjectInput, _ ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.objects[*in.Bucket+"/"+*in.Key]; !ok {
		return nil, errNotFound
	}
	return &s3.HeadObjectOutput{}, nil
}
func (f *fakeS3) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	b, err := io.ReadAll(in.Body)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.objects[*in.Bucket+"/"+*in.Key] = b
	f.puts = append(f.puts, in)
	return &s3.PutObjectOutput{}, nil
}

var _ cfn.S3API = (*fakeS3)(nil)

// withFakeS3 points the hook at f for one test and records the region the
// client was built for.
func withFakeS3(t *testing.T, f *fakeS3) *string {
	t.Helper()
	old := newLambdaS3
	region := new(string)
	newLambdaS3 = func(cfg aws.Config) (cfn.S3API, string) { *region = cfg.Region; return f, "" }
	t.Cleanup(func() { newLambdaS3 = old })
	return region
}

// fixedTree writes the fixed directory of the golden tests: code, an
// executable, a nested package, VCS and editor noise formic excludes by
// default, and tests the hook's exclude drops.
func fixedTree(t *testing.T, mtime time.Time) string {
	t.Helper()
	dir := t.TempDir()
	files := []struct {
		name string
		body string
		mode os.FileMode
	}{
		{"index.py", "def handler(event, context):\n    return 'ok'\n", 0o600},
		{"run.sh", "#!/bin/sh\necho run\n", 0o700},
		{"lib/helper.py", "X = 1\n", 0o664},
		{"lib/data/table.json", "{\"a\": 1}\n", 0o444},
		{"tests/test_index.py", "assert True\n", 0o644},
		{"index.py~", "backup\n", 0o644},
		{".git/config", "[core]\n", 0o644},
		{".gitignore", "*.pyc\n", 0o644},
		{"lib/__pycache__/helper.cpython-311.pyc", "\x00\x01", 0o644},
	}
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f.body), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, f.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// describeZip lists an archive's entries: mode, name, size and MD5.
func describeZip(t *testing.T, b []byte) string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(rc)
		rc.Close()
		sum := md5.Sum(body)
		fmt.Fprintf(&sb, "%v %s %d %s %s\n", f.Mode(), f.Name, len(body), hex.EncodeToString(sum[:]), f.Modified.UTC().Format(time.RFC3339))
	}
	return sb.String()
}

func TestLambdaZipContentsAndHashOfAFixedDirectory(t *testing.T) {
	f := newFakeS3()
	region := withFakeS3(t, f)
	dir := fixedTree(t, time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC))
	ui := &fakeUI{}
	in := input(map[string]any{
		"prefix": "code/",
		"functions": map[string]any{
			"Fn": map[string]any{"path": dir, "exclude": []any{"tests/"}},
		},
	}, ui)
	got, err := UploadLambdaFunctions(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	code := got.(map[string]any)["Fn"].(map[string]any)
	key := code["S3Key"].(string)
	if code["S3Bucket"] != "stacker-ns" || *region != "us-east-1" {
		t.Fatalf("code %v region %s", code, *region)
	}
	if len(f.puts) != 1 || aws.ToString(f.puts[0].ContentType) != "application/zip" || f.puts[0].ACL != "" {
		t.Fatalf("puts %+v", f.puts)
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "key: %s\n", key)
	sb.WriteString(describeZip(t, f.objects["stacker-ns/"+key]))
	for _, l := range ui.lines {
		sb.WriteString(strings.ReplaceAll(l, dir, "<dir>") + "\n")
	}
	golden(t, "lambda-fixed-dir", []byte(sb.String()))

	// The same files with other times and another checkout give the same
	// key and bytes: nothing is uploaded again.
	dir2 := fixedTree(t, time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
	ui2 := &fakeUI{}
	in2 := input(map[string]any{"prefix": "code/", "functions": map[string]any{"Fn": map[string]any{"path": dir2, "exclude": "tests/"}}}, ui2)
	got2, err := UploadLambdaFunctions(context.Background(), in2)
	if err != nil {
		t.Fatal(err)
	}
	if k2 := got2.(map[string]any)["Fn"].(map[string]any)["S3Key"]; k2 != key || len(f.puts) != 1 {
		t.Fatalf("second run key %v (first %s), %d puts", k2, key, len(f.puts))
	}
	if last := ui2.lines[len(ui2.lines)-1]; last != "lambda: object "+key+" already exists, not uploading" {
		t.Fatalf("last line %q", last)
	}
	z1, h1, _ := zipFiles(dir, []string{"index.py", "run.sh"})
	z2, h2, _ := zipFiles(dir2, []string{"index.py", "run.sh"})
	if !bytes.Equal(z1, z2) || h1 != h2 {
		t.Fatal("the same files give different archives")
	}
}

func TestLambdaPrebuiltZipAndCustomBucket(t *testing.T) {
	f := newFakeS3()
	region := withFakeS3(t, f)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "fn.zip"), []byte("PK-prebuilt"), 0o644); err != nil {
		t.Fatal(err)
	}
	ui := &fakeUI{}
	in := input(map[string]any{
		"bucket": "mine", "bucket_region": "eu-west-1", "payload_acl": "bucket-owner-full-control",
		"functions": map[string]any{
			"A": map[string]any{"path": "fn.zip"},
			"B": map[string]any{"path": "fn.zip", "version": "v7"},
		},
	}, ui)
	in.Context.ConfigDir = dir
	got, err := UploadLambdaFunctions(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum([]byte("PK-prebuilt"))
	want := map[string]any{
		"A": map[string]any{"S3Bucket": "mine", "S3Key": "lambda-A-" + hex.EncodeToString(sum[:]) + ".zip"},
		"B": map[string]any{"S3Bucket": "mine", "S3Key": "lambda-B-v7.zip"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("result %v, want %v", got, want)
	}
	if *region != "eu-west-1" || f.buckets["mine"] != "eu-west-1" || f.puts[0].ACL != "bucket-owner-full-control" {
		t.Fatalf("region %s buckets %v acl %q", *region, f.buckets, f.puts[0].ACL)
	}
	if string(f.objects["mine/lambda-B-v7.zip"]) != "PK-prebuilt" {
		t.Fatal("the zip was not uploaded as is")
	}
	if ui.lines[0] != "lambda: using custom bucket: mine" {
		t.Fatalf("lines %q", ui.lines)
	}
}

func TestLambdaArgumentErrors(t *testing.T) {
	empty := t.TempDir()
	tests := []struct {
		name string
		args map[string]any
		want string
	}{
		{"bucket_region needs bucket", map[string]any{"bucket_region": "eu-west-1", "functions": map[string]any{}}, "Cannot specify `bucket_region` without specifying `bucket`."},
		{"follow_symlinks must be a bool", map[string]any{"follow_symlinks": "yes", "functions": map[string]any{}}, "follow_symlinks option must be a boolean"},
		{"path is required", map[string]any{"functions": map[string]any{"Fn": map[string]any{}}}, "missing required property 'path' in function 'Fn'"},
		{"path must exist", map[string]any{"functions": map[string]any{"Fn": map[string]any{"path": "nope"}}}, "Path must be an existing ZIP file or directory"},
		{"an empty selection is an error", map[string]any{"functions": map[string]any{"Fn": map[string]any{"path": empty}}}, "Empty list of files for Lambda payload. Check your include/exclude options for errors."},
		{"patterns must be strings", map[string]any{"functions": map[string]any{"Fn": map[string]any{"path": empty, "include": []any{1}}}}, "Invalid file patterns in key 'include': must be a string or list of strings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			withFakeS3(t, newFakeS3())
			_, err := UploadLambdaFunctions(context.Background(), input(tt.args, &fakeUI{}))
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestAntGlob(t *testing.T) {
	tests := []struct {
		glob string
		yes  []string
		no   []string
	}{
		{"*.py", []string{"a.py", "x/y/a.py"}, []string{"a.pyc", "a.py/b"}},
		{"/*.py", []string{"a.py"}, []string{"x/a.py"}},
		{"/myapp/**", []string{"myapp/a", "myapp/x/y"}, []string{"other/myapp/a"}},
		{"dir1/__init__.py", []string{"dir1/__init__.py", "a/dir1/__init__.py"}, []string{"dir1/x/__init__.py"}},
		{"/myapp/**/dir1/*.py", []string{"myapp/dir1/a.py", "myapp/x/dir1/a.py"}, []string{"dir1/a.py"}},
		{"tests/", []string{"tests/a", "x/tests/b/c"}, []string{"test/a", "testsx/a"}},
		{"**", []string{"a", "a/b/c"}, nil},
		{"file?.[!c]*", []string{"file1.txt"}, []string{"file1.c", "file12.txt"}},
	}
	for _, tt := range tests {
		g := compileAntGlob(tt.glob)
		for _, p := range tt.yes {
			if !g.match(p) {
				t.Errorf("%q should match %q", tt.glob, p)
			}
		}
		for _, p := range tt.no {
			if g.match(p) {
				t.Errorf("%q should not match %q", tt.glob, p)
			}
		}
	}
}

func FuzzAntGlob(f *testing.F) {
	for _, s := range []string{"*.py", "/a/**/b", "tests/", "[!x]?", "**/**/x", "", "/", "[", `a\b`} {
		f.Add(s, "a/b/c.py")
	}
	f.Fuzz(func(t *testing.T, glob, rel string) {
		g := compileAntGlob(glob)
		g.match(rel) // must not panic
		if len(g.elems) == 0 {
			t.Fatalf("%q compiled to nothing", glob)
		}
	})
}
