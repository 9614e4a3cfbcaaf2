package deploy

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/stacker-go/stacker/internal/cfn"
)

// TestApprovalCheckedBeforeAnyChange: without a terminal, a build whose
// existing stacks need approval (protected, or -i) stops before any
// mutating call and names them; new stacks, and stacks --approve names,
// are not in the way.
func TestApprovalCheckedBeforeAnyChange(t *testing.T) {
	const cfgText = `
namespace: ns
stacker_bucket: ""
stacks:
  - name: db
    template_path: t.json
    protected: true
  - name: app
    template_path: t.json
  - name: fresh
    template_path: t.json
    protected: true
`
	for _, tc := range []struct {
		name        string
		interactive bool
		approve     []string
		want        []string // stacks named; nil: the check passes
		why         string
	}{
		{name: "protected", want: []string{"db (ns-db)"}, why: "protected: true"},
		{name: "interactive", interactive: true, want: []string{"app (ns-app)", "db (ns-db)"}, why: "-i/--interactive, protected: true"},
		{name: "approved by config name", approve: []string{"db"}},
		{name: "approved by CloudFormation name", approve: []string{"ns-db"}},
		{name: "interactive, one approved", interactive: true, approve: []string{"db"}, want: []string{"app (ns-app)"}, why: "-i/--interactive"},
		{name: "all", interactive: true, approve: []string{"all"}},
		{name: "*", interactive: true, approve: []string{"*"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(seedAccounts)
			cfg, g := loadConfig(t, cfgText)
			// db and app exist; fresh does not.
			existing, err := g.Subset([]string{"db", "app"})
			if err != nil {
				t.Fatal(err)
			}
			if err := Build(context.Background(), options(w, cfg, existing, &recorder{})); err != nil {
				t.Fatal(err)
			}
			before := len(w.calls())
			o := options(w, cfg, g, &recorder{})
			o.Interactive, o.Approve = tc.interactive, tc.approve
			err = r0(Build(context.Background(), o))
			var ane *cfn.ApprovalNeededError
			if tc.want == nil {
				if errors.As(err, &ane) {
					t.Fatalf("approval needed: %v", err)
				}
				return
			}
			if !errors.As(err, &ane) || !slices.Equal(ane.Stacks, tc.want) || ane.Why != tc.why {
				t.Fatalf("err %v, want stacks %q (%s)", err, tc.want, tc.why)
			}
			if !strings.Contains(err.Error(), "--approve") {
				t.Errorf("message does not say how to approve: %v", err)
			}
			for _, c := range w.calls()[before:] {
				if !strings.HasPrefix(strings.Fields(c)[0], "Describe") {
					t.Errorf("mutating call before the check failed: %s", c)
				}
			}
		})
	}
}

// r0 keeps only an approval error: the approved cases go on to change
// sets, which the fake does not model (their outcome is tested in cfn).
func r0(err error) error {
	var ane *cfn.ApprovalNeededError
	if errors.As(err, &ane) {
		return err
	}
	return nil
}
