// Package crossaccount embeds the cross-account example (the scenario of
// the stacker seed: a template bucket in master read by CloudFormation in
// prod and stage through Stacker roles) so that `stacker demo` and the
// end-to-end tests run exactly these files.
package crossaccount

import "embed"

// Files holds .aws/config, stacker.yaml, roles.yaml and the templates.
//
//go:embed .aws/config stacker.yaml roles.yaml templates/stacker-role.yaml templates/stacker-bucket.yaml
var Files embed.FS
