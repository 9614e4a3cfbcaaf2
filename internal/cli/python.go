package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stacker-go/stacker/blueprint"
	"github.com/stacker-go/stacker/internal/config"
	"github.com/stacker-go/stacker/internal/pkgsource"
	"github.com/stacker-go/stacker/internal/pybridge"
	"github.com/stacker-go/stacker/internal/target"
)

// configurePython hands the run's Python bridge its settings from the
// config: interpreter, sys_path, the context Python code sees, and the
// package_sources, fetched only when a Python process first starts (S3
// sources with the default target's credentials).
func (o *CommonOptions) configurePython(ctx context.Context, f *Factory, cfg *config.Config) {
	bridge := pybridge.FromContext(ctx)
	if bridge == nil {
		return
	}
	s := cfg.PythonSettings()
	if cfg.PackageSources != nil {
		ps := cfg.PackageSources
		s.Sources = func(ctx context.Context) ([]string, error) {
			var s3src pkgsource.S3
			if len(ps.S3) > 0 {
				s3src = &defaultTargetS3{targets: f.targets(o.targetOptions(f.console()))}
			}
			return pkgsource.Fetch(ctx, ps, pkgsource.Options{ConfigDir: cfg.Dir, CacheDir: cfg.CacheDir(), S3: s3src})
		}
	}
	bridge.Configure(s)
}

// checkClassPaths reports, before anything runs (a bad config, exit 2),
// every class_path that is neither a registered Go blueprint nor a Python
// class the bridge can import: a missing interpreter, a missing
// troposphere or a module that does not import, each at the stack's
// position. withPython false skips the Python import (commands that never
// render: graph, info, destroy).
func (o *CommonOptions) checkClassPaths(ctx context.Context, cfg *config.Config, withPython bool) error {
	var pyPaths []string
	seen := map[string]bool{}
	for _, st := range cfg.Stacks {
		if st.ClassPath == "" || seen[st.ClassPath] {
			continue
		}
		seen[st.ClassPath] = true
		if _, err := blueprint.Lookup(st.ClassPath); err != nil {
			pyPaths = append(pyPaths, st.ClassPath)
		}
	}
	bridge := pybridge.FromContext(ctx)
	if len(pyPaths) == 0 || !withPython || bridge == nil {
		return nil
	}
	problems, err := bridge.Check(ctx, pyPaths)
	var errs config.Errors
	for _, st := range cfg.Stacks {
		if st.ClassPath == "" {
			continue
		}
		perr := problems[st.ClassPath]
		if err != nil && seen[st.ClassPath] && contains(pyPaths, st.ClassPath) {
			perr = err // the interpreter itself failed: every Python stack is affected
		}
		if perr == nil {
			continue
		}
		errs = append(errs, &config.Error{Pos: st.Pos, Msg: fmt.Sprintf("stack %q: %s", st.Name, classPathMessage(st.ClassPath, perr))})
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// classPathMessage says why a class_path cannot be used. When Python does
// not find it at all (no interpreter, no such module or class), the near
// Go blueprint names come first: a misspelt Go class_path is likelier
// than a missing Python module.
func classPathMessage(classPath string, perr error) string {
	var pe *pybridge.Error
	if !errors.As(perr, &pe) {
		return perr.Error()
	}
	switch pe.Kind {
	case pybridge.KindNoPython, pybridge.KindModuleNotFound, pybridge.KindNotFound:
	default:
		return perr.Error()
	}
	goHint := ""
	var le *blueprint.LookupError
	if _, err := blueprint.Lookup(classPath); errors.As(err, &le) {
		if _, near, ok := strings.Cut(le.Error(), "; did you mean "); ok {
			goHint = " (did you mean " + near + ")"
		}
	}
	cp := *pe
	cp.What, cp.Path = "", ""
	return fmt.Sprintf("class_path %s is not a Go blueprint%s, and Python cannot load it: %s", classPath, goHint, cp.Error())
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// defaultTargetS3 reads package archives with the default target's
// credentials (stacker used the default profile).
type defaultTargetS3 struct {
	targets *target.Factory
	client  *s3.Client
}

func (d *defaultTargetS3) s3(ctx context.Context) (*s3.Client, error) {
	if d.client != nil {
		return d.client, nil
	}
	cfg, err := d.targets.Config(ctx, target.Key{})
	if err != nil {
		return nil, err
	}
	d.client = s3.NewFromConfig(cfg)
	return d.client, nil
}

func requestPayer(requesterPays bool) s3types.RequestPayer {
	if requesterPays {
		return s3types.RequestPayerRequester
	}
	return ""
}

func (d *defaultTargetS3) LastModified(ctx context.Context, bucket, key string, requesterPays bool) (time.Time, error) {
	c, err := d.s3(ctx)
	if err != nil {
		return time.Time{}, err
	}
	out, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: &key, RequestPayer: requestPayer(requesterPays)})
	if err != nil {
		return time.Time{}, err
	}
	return aws.ToTime(out.LastModified), nil
}

func (d *defaultTargetS3) Get(ctx context.Context, bucket, key string, requesterPays bool) (io.ReadCloser, error) {
	c, err := d.s3(ctx)
	if err != nil {
		return nil, err
	}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key, RequestPayer: requestPayer(requesterPays)})
	if err != nil {
		return nil, err
	}
	return out.Body, nil
}
