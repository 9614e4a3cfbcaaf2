// Command custom-hook is a team's own stacker binary: stacker plus a Go hook
// of its own. Build it with `go build`, then name the hook's path in a
// config:
//
//	pre_build:
//	  - path: mycompany.hooks.release
//	    data_key: release
//	    args:
//	      file: VERSION
//	stacks:
//	  - name: app
//	    template_path: templates/app.yaml
//	    variables:
//	      Version: ${hook_data release::version}
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/stacker-go/stacker/app"
	"github.com/stacker-go/stacker/hooks"
)

func init() {
	// Register panics on a duplicate path: that is a bug in the binary,
	// found as soon as it starts.
	hooks.Register("mycompany.hooks.release", release)
}

// release reads the release version from a file (args.file, relative to
// the config's directory) and returns it for ${hook_data release::version}.
// A missing file is an error: as a required hook (the default) it stops the
// build before any stack changes.
func release(_ context.Context, in *hooks.Input) (any, error) {
	name, _ := in.Args["file"].(string)
	if name == "" {
		return nil, errors.New("mycompany.hooks.release: argument file is required")
	}
	path := name
	if !filepath.IsAbs(path) {
		path = filepath.Join(in.Context.ConfigDir, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read release version: %w", err)
	}
	version := strings.TrimSpace(string(b))
	in.UI.Infof("release: %s (namespace %s)", version, in.Context.Namespace)
	return map[string]any{"version": version}, nil
}

func main() { os.Exit(app.Main(os.Args[1:])) }
