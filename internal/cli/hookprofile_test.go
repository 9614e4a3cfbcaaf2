package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUnknownHookProfile: a hook whose args name a profile that is in
// neither shared file stops build (pre_build/post_build hooks) and destroy
// --force (pre_destroy/post_destroy hooks) with exit 2 at the profile
// arg, with "did you mean", before any hook runs or any AWS call is made
// (the endpoint is a closed port: a call would fail differently).
func TestUnknownHookProfile(t *testing.T) {
	clearStackerEnv(t)
	dir := t.TempDir()
	marker := filepath.Join(dir, "hook-ran")
	awsConfig := filepath.Join(dir, "aws-config")
	files := map[string]string{
		"aws-config":      "[profile sandbox-prod]\nregion = us-east-1\n[profile sandbox-stage]\nregion = us-east-1\n",
		"aws-credentials": "",
		"t.yaml":          "Resources:\n  H: {Type: \"AWS::CloudFormation::WaitConditionHandle\"}\n",
		"stacker.yaml": `namespace: hp
stacker_bucket: ""
stacks:
  - name: a
    template_path: t.yaml
    profile: sandbox-prod
pre_build:
  - path: stacker.hooks.command.run_command
    args: {command: [touch, ` + marker + `]}
post_build:
  - path: stacker.hooks.keypair.ensure_keypair_exists
    args:
      keypair: deploy
      profile: sandbox-stag
pre_destroy:
  - path: stacker.hooks.command.run_command
    args: {command: [touch, ` + marker + `]}
post_destroy:
  - path: stacker.hooks.command.run_command
    args:
      command: "true"
      profile: sandbox-prd
`,
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range map[string]string{
		"HOME": dir, "AWS_CONFIG_FILE": awsConfig, "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "aws-credentials"),
		"AWS_PROFILE": "", "AWS_DEFAULT_PROFILE": "", "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "",
		"AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_EC2_METADATA_DISABLED": "true",
	} {
		t.Setenv(k, v)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"build", "-r", "us-east-1", filepath.Join(dir, "stacker.yaml")},
			`stacker.yaml:14:7: hook stacker.hooks.keypair.ensure_keypair_exists: profile "sandbox-stag" is not in ` + awsConfig},
		{[]string{"destroy", "--force", "-r", "us-east-1", filepath.Join(dir, "stacker.yaml")},
			`stacker.yaml:22:7: hook stacker.hooks.command.run_command: profile "sandbox-prd" is not in ` + awsConfig},
	} {
		t.Run(tt.args[0], func(t *testing.T) {
			code, _, stderr := runCLI(t, "", tt.args...)
			if code != 2 {
				t.Errorf("exit %d, want 2:\n%s", code, stderr)
			}
			if !strings.Contains(stderr, tt.want) || !strings.Contains(stderr, `(did you mean "sandbox-`) {
				t.Errorf("stderr lacks %q and did you mean:\n%s", tt.want, stderr)
			}
			assertOneCleanError(t, stderr)
			if _, err := os.Stat(marker); err == nil {
				t.Errorf("a hook ran before the profile check:\n%s", stderr)
			}
		})
	}
}
