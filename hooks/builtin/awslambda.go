package builtin

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/stacker-go/stacker/hooks"
	"github.com/stacker-go/stacker/internal/cfn"
)

// PathUploadLambdaFunctions is stacker's Lambda packaging hook.
const PathUploadLambdaFunctions = "stacker.hooks.aws_lambda.upload_lambda_functions"

func init() { hooks.Register(PathUploadLambdaFunctions, UploadLambdaFunctions) }

var lambdaArgs = []string{"bucket", "bucket_region", "prefix", "follow_symlinks", "payload_acl", "functions", "profile", "region"}

// newLambdaS3 builds the S3 client of the Lambda hook (tests replace it).
var newLambdaS3 = func(cfg aws.Config) (cfn.S3API, string) {
	c := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if o.BaseEndpoint != nil {
			o.UsePathStyle = true
		}
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	return c, aws.ToString(c.Options().BaseEndpoint)
}

// zipTime is the modification time of every zip entry, so the same files
// always give the same archive (stacker kept each file's mtime).
var zipTime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// UploadLambdaFunctions is stacker.hooks.aws_lambda.upload_lambda_functions:
// for each entry of functions ({Name: {path, include, exclude, version}})
// it zips the directory (or takes a .zip file as is), and uploads it to
// <prefix>lambda-<Name>-<hash or version>.zip in the bucket (the stacker
// bucket unless bucket is given) unless that key exists. It returns
// {Name: {S3Bucket, S3Key}}, the shape of a Lambda function's Code
// property.
func UploadLambdaFunctions(ctx context.Context, in *hooks.Input) (any, error) {
	a := args(in.Args)
	if err := a.unknownArgs(PathUploadLambdaFunctions, lambdaArgs...); err != nil {
		return nil, err
	}
	custom, err := a.str("bucket")
	if err != nil {
		return nil, err
	}
	bucket := custom
	if custom == "" {
		bucket = in.Context.BucketName
		in.UI.Infof("lambda: using default bucket from stacker: %s", bucket)
		if bucket == "" {
			return nil, errors.New("lambda: no bucket: the config has stacker_bucket: \"\" (inline templates), so give the hook a bucket argument")
		}
	} else {
		in.UI.Infof("lambda: using custom bucket: %s", bucket)
	}
	hookRegion, err := a.str("bucket_region")
	if err != nil {
		return nil, err
	}
	if custom == "" && hookRegion != "" {
		//lint:ignore ST1005 stacker 1.7's exact message
		return nil, errors.New("Cannot specify `bucket_region` without specifying `bucket`.")
	}
	follow := false
	if v, ok := a["follow_symlinks"]; ok && v != nil {
		b, isBool := v.(bool)
		if !isBool {
			return nil, errors.New("follow_symlinks option must be a boolean")
		}
		follow = b
	}
	acl, err := a.str("payload_acl")
	if err != nil {
		return nil, err
	}
	prefix, err := a.str("prefix")
	if err != nil {
		return nil, err
	}
	functions, ok := a["functions"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("argument functions must be a mapping of function names to {path, include, exclude, version}, got %v", a["functions"])
	}

	cfg, err := in.AWS(ctx)
	if err != nil {
		return nil, err
	}
	region := in.Context.BucketRegion
	if custom != "" {
		region = hookRegion
	}
	if region != "" {
		cfg.Region = region
	}
	api, endpoint := newLambdaS3(cfg)
	if err := cfn.NewBucket(bucket, cfg.Region, api, endpoint).Ensure(ctx); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(functions))
	for name := range functions {
		names = append(names, name)
	}
	sort.Strings(names)
	results := map[string]any{}
	for _, name := range names {
		opts, ok := functions[name].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("function %q: expected a mapping with path, include, exclude, version; got %v", name, functions[name])
		}
		payload, err := lambdaPayload(in, name, opts, follow)
		if err != nil {
			return nil, err
		}
		code, err := uploadPayload(ctx, in, api, bucket, prefix, name, payload, acl)
		if err != nil {
			return nil, err
		}
		results[name] = code
	}
	return results, nil
}

// payload is one function's archive and the hash (or version) in its key.
type payload struct {
	zip  []byte
	hash string
}

func lambdaPayload(in *hooks.Input, name string, opts map[string]any, follow bool) (payload, error) {
	p, ok := opts["path"].(string)
	if !ok || p == "" {
		return payload{}, fmt.Errorf("missing required property 'path' in function '%s'", name)
	}
	root := expandHome(p)
	if !filepath.IsAbs(root) {
		root = filepath.Join(in.Context.ConfigDir, root)
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return payload{}, err
	}
	includes, err := patternList(opts["include"], "include", []string{"**"})
	if err != nil {
		return payload{}, err
	}
	excludes, err := patternList(opts["exclude"], "exclude", nil)
	if err != nil {
		return payload{}, err
	}
	slog.Debug("lambda: processing function " + name)
	fi, statErr := os.Stat(root)
	switch {
	case statErr == nil && !fi.IsDir() && strings.HasSuffix(root, ".zip"):
		b, err := os.ReadFile(root)
		if err != nil {
			return payload{}, fmt.Errorf("read %s: %w", root, err)
		}
		hash := ""
		if v, ok := opts["version"]; ok && v != nil && fmt.Sprint(v) != "" {
			hash = fmt.Sprint(v)
		} else {
			sum := md5.Sum(b)
			hash = hex.EncodeToString(sum[:])
		}
		return payload{zip: b, hash: hash}, nil
	case statErr == nil && fi.IsDir():
		in.UI.Infof("lambda: base directory: %s", root)
		files, err := findFiles(root, newFileSet(includes, excludes), follow)
		if err != nil {
			return payload{}, err
		}
		if len(files) == 0 {
			//lint:ignore ST1005 stacker 1.7's exact message
			return payload{}, errors.New("Empty list of files for Lambda payload. Check your include/exclude options for errors.")
		}
		in.UI.Infof("lambda: adding %d files:", len(files))
		for _, f := range files {
			slog.Debug("lambda: + " + f)
		}
		z, hash, err := zipFiles(root, files)
		return payload{zip: z, hash: hash}, err
	}
	//lint:ignore ST1005 stacker 1.7's exact message
	return payload{}, errors.New("Path must be an existing ZIP file or directory")
}

func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[1:])
		}
	}
	return p
}

// patternList is stacker's _check_pattern_list: a string or a list of
// strings; empty gives def.
func patternList(v any, key string, def []string) ([]string, error) {
	if v == nil {
		return def, nil
	}
	if s, ok := v.(string); ok && s == "" {
		return def, nil
	}
	if l, ok := v.([]any); ok && len(l) == 0 {
		return def, nil
	}
	list, ok := strList(v)
	if !ok {
		//lint:ignore ST1005 stacker 1.7's exact message
		return nil, fmt.Errorf("Invalid file patterns in key '%s': must be a string or list of strings", key)
	}
	return list, nil
}

// findFiles lists the files under root the set selects, as sorted
// slash-separated relative paths. Symbolic links to directories are
// followed only with follow (and never into a directory already visited).
func findFiles(root string, set fileSet, follow bool) ([]string, error) {
	var out []string
	visited := map[string]bool{}
	var walk func(dir, rel string) error
	walk = func(dir, rel string) error {
		real, err := filepath.EvalSymlinks(dir)
		if err != nil {
			return err
		}
		if visited[real] {
			return nil
		}
		visited[real] = true
		entries, err := os.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("lambda: read %s: %w", dir, err)
		}
		for _, e := range entries {
			full := filepath.Join(dir, e.Name())
			r := e.Name()
			if rel != "" {
				r = rel + "/" + e.Name()
			}
			mode := e.Type()
			if mode&fs.ModeSymlink != 0 {
				fi, err := os.Stat(full)
				if err != nil {
					continue // a dangling link
				}
				if fi.IsDir() {
					if follow {
						if err := walk(full, r); err != nil {
							return err
						}
					}
					continue
				}
				mode = fi.Mode().Type()
			}
			switch {
			case mode.IsDir():
				if err := walk(full, r); err != nil {
					return err
				}
			case mode.IsRegular():
				if set.selects(r) {
					out = append(out, r)
				}
			}
		}
		return nil
	}
	if err := walk(root, ""); err != nil {
		return nil, err
	}
	sort.Strings(out)
	return out, nil
}

// zipFiles builds the archive (deflated, entries in name order, fixed
// times, modes forced to 0755 for files executable by their owner and 0644
// otherwise) and stacker's content hash: the MD5 of every file's name, a
// NUL, its content and a NUL, in name order. Equal files give an equal
// hash, whatever their times.
func zipFiles(root string, files []string) ([]byte, string, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := md5.New()
	for _, name := range files {
		full := filepath.Join(root, filepath.FromSlash(name))
		fi, err := os.Stat(full)
		if err != nil {
			return nil, "", err
		}
		mode := fs.FileMode(0o644)
		if fi.Mode().Perm()&0o100 != 0 {
			mode = 0o755
		}
		hdr := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: zipTime}
		hdr.SetMode(mode)
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			return nil, "", err
		}
		f, err := os.Open(full)
		if err != nil {
			return nil, "", err
		}
		io.WriteString(h, name+"\x00")
		_, err = io.Copy(io.MultiWriter(w, h), f)
		f.Close()
		if err != nil {
			return nil, "", fmt.Errorf("lambda: read %s: %w", full, err)
		}
		h.Write([]byte{0})
	}
	if err := zw.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), hex.EncodeToString(h.Sum(nil)), nil
}

// uploadPayload puts the archive under its key unless the key exists.
// payload_acl is sent only when it is not "private" (the default): buckets
// that enforce bucket-owner object ownership refuse any ACL header.
func uploadPayload(ctx context.Context, in *hooks.Input, api cfn.S3API, bucket, prefix, name string, p payload, acl string) (map[string]any, error) {
	slog.Debug("lambda: ZIP hash: " + p.hash)
	key := fmt.Sprintf("%slambda-%s-%s.zip", prefix, name, p.hash)
	_, err := api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	switch {
	case err == nil:
		in.UI.Infof("lambda: object %s already exists, not uploading", key)
	case isNotFound(err):
		in.UI.Infof("lambda: uploading object %s", key)
		put := &s3.PutObjectInput{
			Bucket:      aws.String(bucket),
			Key:         aws.String(key),
			Body:        bytes.NewReader(p.zip),
			ContentType: aws.String("application/zip"),
		}
		if acl != "" && acl != "private" {
			put.ACL = s3types.ObjectCannedACL(acl)
		}
		if _, err := api.PutObject(ctx, put); err != nil {
			return nil, fmt.Errorf("lambda: upload s3://%s/%s: %w", bucket, key, err)
		}
	default:
		return nil, fmt.Errorf("lambda: check s3://%s/%s: %w", bucket, key, err)
	}
	return map[string]any{"S3Bucket": bucket, "S3Key": key}, nil
}

func isNotFound(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NotFound", "NoSuchKey", "404":
			return true
		}
	}
	return false
}
