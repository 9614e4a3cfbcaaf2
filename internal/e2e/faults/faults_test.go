package faults

import (
	"context"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stacker-go/stacker/internal/e2e"
	"github.com/stacker-go/stacker/internal/sandbox"
	"github.com/stacker-go/stacker/internal/sandbox/platform"
)

func TestMain(m *testing.M) {
	flag.Parse()
	// The scenarios wait on the sandbox's latencies and on back-offs, not
	// on CPU: unless -parallel says otherwise, all of them run at once,
	// each with its own sandbox.
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", "16")
	}
	code := m.Run()
	e2e.Stop()
	os.Exit(code)
}

// runTimeout kills a run that hangs; no assertion depends on time.
const runTimeout = 4 * time.Minute

type suite struct {
	t   *testing.T
	sb  *Sandbox
	dir string
	env []string
	bin string
}

func newSuite(t *testing.T, stackTime time.Duration) *suite {
	t.Helper()
	dir := t.TempDir()
	if err := WriteProject(dir); err != nil {
		t.Fatal(err)
	}
	sb, err := StartSandbox(dir, stackTime)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	return &suite{t: t, sb: sb, dir: dir, env: sb.Env(dir), bin: e2e.Binary(t)}
}

// run runs the binary; stop (nil: never) says when to send SIGINT.
func (s *suite) run(stop func(string) bool, args ...string) Result {
	s.t.Helper()
	r, err := Run(context.Background(), s.bin, s.dir, s.env, runTimeout, stop, args...)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Logf("stacker %s: exit %d in %s", strings.Join(args, " "), r.Code, r.Took.Round(time.Millisecond))
	return r
}

func (s *suite) expectCode(r Result, code int, what string) {
	s.t.Helper()
	if r.Code != code {
		s.t.Fatalf("%s: exit %d, want %d\nstderr:\n%s", what, r.Code, code, r.Stderr)
	}
}

// expectState reads the stacks with faults off and compares.
func (s *suite) expectState(what string, faults sandbox.FaultSpec, want, outputs map[string]string) {
	s.t.Helper()
	st, err := s.sb.Inspect(context.Background(), faults)
	if err != nil {
		s.t.Fatal(err)
	}
	if err := st.Check(want, outputs); err != nil {
		s.t.Fatalf("%s:\n%v", what, err)
	}
}

// expectCreatedOnce requires every stack to have been created exactly once.
func (s *suite) expectCreatedOnce(faults sandbox.FaultSpec) {
	s.t.Helper()
	st, err := s.sb.Inspect(context.Background(), faults)
	if err != nil {
		s.t.Fatal(err)
	}
	if err := st.CreatedOnce(); err != nil {
		s.t.Fatalf("stacks created more than once:\n%v", err)
	}
}

// expectAll requires every stack's last status line to contain text.
func (s *suite) expectAll(r Result, text, what string) {
	s.t.Helper()
	got := r.Status()
	for _, n := range Names() {
		if !strings.Contains(got[n], text) {
			s.t.Fatalf("%s: %s: %q, want %q\nstderr:\n%s", what, n, got[n], text, r.Stderr)
		}
	}
}

// Under each transient fault kind a build, a rerun, an update and a
// destroy of the 30-stack config all exit 0 and leave every stack where
// it should be: nothing in progress, no change set, the reruns all nochange
// (from the deploy records, then submitted with --no-deploy-cache),
// and no stack created twice (cfn-lost-20 loses the answers of calls that
// took effect, so a blind retry would create or fail a second time).
func TestTransientFaultsNeverFailAGoodDeploy(t *testing.T) {
	for _, k := range Kinds() {
		t.Run(k.Name, func(t *testing.T) {
			t.Parallel()
			s := newSuite(t, 0)
			if err := s.sb.Server.SetFaults(k.Faults); err != nil {
				t.Fatal(err)
			}

			r := s.run(nil, Args("build", "-e", "rev=1")...)
			s.expectCode(r, 0, "build")
			s.expectState("after build", k.Faults, All("CREATE_COMPLETE"), Expected("1"))

			// The rerun skips every stack from its deploy record, without
			// a write; with --no-deploy-cache every stack is submitted and
			// CloudFormation answers No updates, under the same faults.
			updates := s.sb.Calls("cloudformation", "UpdateStack")
			r = s.run(nil, Args("build", "-e", "rev=1")...)
			s.expectCode(r, 0, "rerun")
			s.expectAll(r, "nochange", "rerun")
			if n := s.sb.Calls("cloudformation", "UpdateStack") - updates; n != 0 {
				t.Errorf("rerun: %d UpdateStack calls, want none (deploy records)", n)
			}
			r = s.run(nil, Args("build", "-e", "rev=1", "--no-deploy-cache")...)
			s.expectCode(r, 0, "rerun with --no-deploy-cache")
			s.expectAll(r, "nochange", "rerun with --no-deploy-cache")

			r = s.run(nil, Args("build", "-e", "rev=2")...)
			s.expectCode(r, 0, "update")
			s.expectState("after update", k.Faults, All("UPDATE_COMPLETE"), Expected("2"))

			r = s.run(nil, Args("destroy", "--force", "-e", "rev=1")...)
			s.expectCode(r, 0, "destroy")
			s.expectState("after destroy", k.Faults, All(""), nil)
			s.expectCreatedOnce(k.Faults)
			if n := s.sb.Injected(); n == 0 {
				t.Errorf("no fault was injected")
			} else {
				t.Logf("%d faults injected", n)
			}
		})
	}
}

// Ctrl-C at each phase, then a rerun that converges.
func TestInterruptAndRerun(t *testing.T) {
	none := sandbox.FaultSpec{}
	// Before submission: every CreateStack is throttled, so the run keeps
	// retrying its first submissions and nothing is created; SIGINT once
	// the sandbox has refused one. The rerun has no faults.
	refuseCreates := sandbox.FaultSpec{Seed: 1, Rules: []sandbox.FaultRule{{Kind: "throttle", Service: "cloudformation", Action: "CreateStack", Rate: 1}}}
	cases := []struct {
		name  string
		setup func(s *suite)
		cmd   []string
		stop  func(s *suite) func(string) bool
		rerun []string
		want  map[string]string
	}{
		{name: "before submission", setup: func(s *suite) {
			if err := s.sb.Server.SetFaults(refuseCreates); err != nil {
				s.t.Fatal(err)
			}
		}, cmd: Args("build", "-e", "rev=1"),
			stop: func(s *suite) func(string) bool {
				return func(string) bool { return s.sb.Calls("cloudformation", "CreateStack") > 0 }
			},
			rerun: Args("build", "-e", "rev=1"), want: All("CREATE_COMPLETE")},
		{name: "while in progress", cmd: Args("build", "-e", "rev=1"),
			stop:  func(*suite) func(string) bool { return OnLine("submitted (creating new stack)") },
			rerun: Args("build", "-e", "rev=1"), want: All("CREATE_COMPLETE")},
		{name: "during destroy", setup: func(s *suite) {
			s.expectCode(s.run(nil, Args("build", "-e", "rev=1")...), 0, "build before destroy")
		}, cmd: Args("destroy", "--force", "-e", "rev=1"),
			stop:  func(*suite) func(string) bool { return OnLine("submitted (submitted for destruction)") },
			rerun: Args("destroy", "--force", "-e", "rev=1"), want: All("")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Every stack operation takes 300 ms of backend time, so a
			// stack is still changing when the signal arrives whatever the
			// load (nothing asserts on time).
			s := newSuite(t, 300*time.Millisecond)
			if tc.setup != nil {
				tc.setup(s)
			}
			r := s.run(tc.stop(s), tc.cmd...)
			if !r.Signalled {
				t.Fatalf("never signalled:\n%s", r.Stderr)
			}
			s.expectCode(r, 130, "interrupted run")
			if err := s.sb.Server.SetFaults(none); err != nil {
				t.Fatal(err)
			}
			if tc.name == "before submission" {
				st, err := s.sb.Inspect(context.Background(), none)
				if err != nil {
					t.Fatal(err)
				}
				if len(st.Status) != 0 {
					t.Fatalf("stacks exist after an interrupt before submission: %v", st.Status)
				}
			}
			r = s.run(nil, tc.rerun...)
			s.expectCode(r, 0, "rerun")
			var outputs map[string]string
			if tc.want["solo01"] != "" {
				outputs = Expected("1")
			}
			s.expectState("after the rerun", none, tc.want, outputs)
			if tc.want["solo01"] != "" {
				r = s.run(nil, Args("build", "-e", "rev=1")...)
				s.expectCode(r, 0, "second rerun")
				s.expectAll(r, "nochange", "second rerun")
			}
		})
	}
}

// A resource failure in the middle of a chain fails that stack (rolled
// back) and its dependants (never submitted), exit 1; every other stack
// is complete; after the fault is gone --recreate-failed converges.
func TestResourceFailureMidGraph(t *testing.T) {
	t.Parallel()
	s := newSuite(t, 0)
	s.sb.Server.AddFailureRule(platform.FailureRule{Stack: FQN("c2s3"), Resource: "Handle", Operation: "create", Message: "injected failure", Times: 0})
	r := s.run(nil, Args("build", "-e", "rev=1")...)
	s.expectCode(r, 1, "build")
	want := All("CREATE_COMPLETE")
	want["c2s3"] = "ROLLBACK_COMPLETE"
	want["c2s4"], want["c2s5"] = "", ""
	st, err := s.sb.Inspect(context.Background(), sandbox.FaultSpec{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Check(want, nil); err != nil {
		t.Fatalf("after the failed build:\n%v", err)
	}
	if got := r.Status()["c2s3"]; got != "failed (rolled back new stack)" {
		t.Errorf("c2s3: %q", got)
	}
	if !strings.Contains(r.Stderr, "injected failure") {
		t.Errorf("no rollback reason:\n%s", r.Stderr)
	}

	s.sb.Server.ClearFailureRules("")
	r = s.run(nil, Args("build", "-e", "rev=1", "--recreate-failed")...)
	s.expectCode(r, 0, "rerun")
	s.expectState("after the rerun", sandbox.FaultSpec{}, All("CREATE_COMPLETE"), Expected("1"))
	r = s.run(nil, Args("build", "-e", "rev=1")...)
	s.expectCode(r, 0, "second rerun")
	s.expectAll(r, "nochange", "second rerun")
}
