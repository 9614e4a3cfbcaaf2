package lookup

import (
	"context"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary text through every entry point that parses
// lookups. None may panic; text without "${" must come back unchanged.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"${output vpc::Id}", "${split ,::${output vpc::Subnets}}", "${output ${default s::vpc}::Id}",
		"${AWS::Region}", "pre-${output a::X}-${envvar HOME}", "${file parameterized-b64:{{X}}}",
		"${vpc_private_subnets", "${outptu a::b}", "${ output a::b}", "$${x}", "${{}}}", "${file json:{\"a\":1}}",
		"${dynamodb us-east-1:t@k:v.a[M].b[N]}", "${ami owners:self name_regex:(}", "}}}${",
	} {
		f.Add(s)
	}
	r := NewRegistry()
	r.SetEnvironment(map[string]any{"s": "vpc"}, "")
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 4096 {
			return
		}
		_, _ = r.Parse(s)
		_ = r.Validate(s)
		_, _ = r.Dependencies([]any{s, map[string]any{"k": s}})
		env := &Env{Offline: true, Environment: map[string]any{"s": "vpc"}}
		v, err := r.Resolve(context.Background(), s, env)
		if !strings.Contains(s, "${") && (err != nil || v != s) {
			t.Fatalf("text without lookups changed: %q -> %v, %v", s, v, err)
		}
	})
}
