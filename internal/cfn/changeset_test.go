package cfn

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
)

func queueChange(id string) types.Change {
	return types.Change{Type: types.ChangeTypeResource, ResourceChange: &types.ResourceChange{
		Action: types.ChangeActionAdd, LogicalResourceId: aws.String(id), ResourceType: aws.String("AWS::SQS::Queue")}}
}

func TestChangeSetLifecycle(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(f *fakeCFN)
		typ       types.ChangeSetType
		wantErr   bool
		noChange  bool
		changes   []string
		wantCalls []string // in order, after the last DescribeChangeSet
	}{
		{name: "update with pages", typ: types.ChangeSetTypeUpdate,
			setup: func(f *fakeCFN) {
				f.put("ns-app", "CREATE_COMPLETE")
				f.csPending = 2
				f.csPages = [][]types.Change{{queueChange("A"), queueChange("B")}, {queueChange("C")}}
			},
			changes: []string{"A", "B", "C"}},
		{name: "create", typ: types.ChangeSetTypeCreate, changes: []string{"Queue"}},
		{name: "nochange on create call", typ: types.ChangeSetTypeUpdate,
			setup:    func(f *fakeCFN) { f.put("ns-app", "CREATE_COMPLETE"); f.noChange = true },
			noChange: true},
		{name: "nochange status", typ: types.ChangeSetTypeUpdate,
			setup: func(f *fakeCFN) {
				f.put("ns-app", "CREATE_COMPLETE")
				f.csFailed = "The submitted information didn't contain changes. Submit different information to create a change set."
			},
			noChange: true, wantCalls: []string{"DeleteChangeSet"}},
		{name: "failed is deleted", typ: types.ChangeSetTypeUpdate,
			setup: func(f *fakeCFN) {
				f.put("ns-app", "CREATE_COMPLETE")
				f.csFailed = "Template error: unresolved resource dependencies [X]"
			},
			wantErr: true, wantCalls: []string{"DeleteChangeSet"}},
		{name: "failed create deletes the temporary stack", typ: types.ChangeSetTypeCreate,
			setup:   func(f *fakeCFN) { f.csFailed = "boom" },
			wantErr: true, wantCalls: []string{"DeleteChangeSet", "DeleteStack"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			if tt.setup != nil {
				tt.setup(f)
			}
			p := New(f, Options{Sleep: noSleep, Now: fixedNow})
			cs, err := p.CreateChangeSet(context.Background(), &ChangeSetSpec{FQN: "ns-app", Type: tt.typ, Prefix: "stacker-test", Request: &Request{TemplateBody: "{}"}})
			if tt.wantErr {
				var fe *ChangeSetFailedError
				if !errors.As(err, &fe) {
					t.Fatalf("err %v, want ChangeSetFailedError", err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if in := f.lastCS; in == nil || aws.ToString(in.ClientToken) == "" || aws.ToString(in.ClientToken) != aws.ToString(in.ChangeSetName) {
				t.Errorf("CreateChangeSet input %+v: want a ClientToken", in)
			}
			for _, d := range f.csDescribes {
				if !aws.ToBool(d.IncludePropertyValues) {
					t.Errorf("DescribeChangeSet without IncludePropertyValues")
				}
			}
			if cs != nil {
				if cs.NoChange != tt.noChange {
					t.Errorf("NoChange %v", cs.NoChange)
				}
				var got []string
				for _, c := range cs.Changes {
					got = append(got, aws.ToString(c.ResourceChange.LogicalResourceId))
				}
				if !slices.Equal(got, tt.changes) {
					t.Errorf("changes %v, want %v", got, tt.changes)
				}
			}
			if tt.wantCalls != nil {
				last := 0
				for i, c := range f.calls {
					if c == "DescribeChangeSet" || c == "CreateChangeSet" {
						last = i + 1
					}
				}
				if got := f.calls[last:]; !slices.Equal(got, tt.wantCalls) {
					t.Errorf("calls after the change set: %v, want %v", got, tt.wantCalls)
				}
			}
			// Delete after a failure or nochange, or twice, calls nothing more.
			n := len(f.calls)
			if cs != nil && !cs.NoChange {
				if err := cs.Delete(context.Background()); err != nil {
					t.Fatal(err)
				}
				n = len(f.calls)
				_ = cs.Delete(context.Background())
			}
			if len(f.calls) != n {
				t.Errorf("second Delete called %v", f.calls[n:])
			}
		})
	}
}

// Ctrl-C while the change set is being computed still deletes it (and the
// temporary stack of a create), on a context that is not cancelled.
func TestChangeSetInterruptedIsCleanedUp(t *testing.T) {
	f := newFake()
	f.csPending = 100
	ctx, cancel := context.WithCancel(context.Background())
	f.onDescribeCS = func(n int) {
		if n == 2 {
			cancel()
		}
	}
	p := New(f, Options{Now: fixedNow, Sleep: noSleep})
	_, err := p.CreateChangeSet(ctx, &ChangeSetSpec{FQN: "ns-new", Type: types.ChangeSetTypeCreate, Request: &Request{TemplateBody: "{}"}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	if !slices.Contains(f.calls, "DeleteChangeSet") || !slices.Contains(f.calls, "DeleteStack") {
		t.Errorf("calls %v: the change set or its temporary stack leaked", f.calls)
	}
}

func TestChangeSetExecuteThenDeleteIsNoop(t *testing.T) {
	f := newFake()
	f.put("ns-app", "CREATE_COMPLETE")
	p := New(f, Options{Sleep: noSleep, Now: fixedNow})
	cs, err := p.CreateChangeSet(context.Background(), &ChangeSetSpec{FQN: "ns-app", Type: types.ChangeSetTypeUpdate})
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.Execute(context.Background(), "tok"); err != nil {
		t.Fatal(err)
	}
	if err := cs.Delete(context.Background()); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(f.calls, "DeleteChangeSet") || !slices.Contains(f.calls, "ExecuteChangeSet") {
		t.Errorf("calls %v", f.calls)
	}
	if err := cs.Execute(context.Background(), "tok"); err == nil {
		t.Error("a second Execute succeeded")
	}
}
