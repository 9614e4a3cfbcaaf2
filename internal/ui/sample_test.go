package ui

import (
	"errors"
	"time"

	"github.com/stacker-go/stacker/internal/event"
)

// t0 is the start of the sample runs.
var t0 = time.Date(2026, 11, 24, 1, 0, 0, 0, time.UTC)

func at(sec float64) time.Time { return t0.Add(time.Duration(sec * float64(time.Second))) }

var (
	prodTarget  = event.Target{Profile: "prod", Account: "222222222222", Region: "eu-west-1"}
	stageTarget = event.Target{Profile: "stage", Account: "333333333333", Region: "us-east-1"}
	prodVPC     = event.Stack{Name: "prod-vpc", FQN: "vpc", Target: prodTarget}
	stageVPC    = event.Stack{Name: "stage-vpc", FQN: "vpc", Target: stageTarget}
	prodDB      = event.Stack{Name: "db", FQN: "ns-db", Target: prodTarget}
	prodApp     = event.Stack{Name: "app", FQN: "ns-app", Target: prodTarget}
	stageDNS    = event.Stack{Name: "dns", FQN: "ns-dns", Target: stageTarget}
)

func status(sec float64, s event.Stack, state event.State, reason string, o event.Outcome) event.StackStatus {
	return event.StackStatus{Time: at(sec), Stack: s, State: state, Reason: reason, Outcome: o}
}

func resource(sec float64, s event.Stack, logical, typ, st, reason string) event.ResourceEvent {
	return event.ResourceEvent{Time: at(sec), Stack: s, EventTime: at(sec - 0.5), EventID: s.Name + logical + st,
		LogicalID: logical, ResourceType: typ, Status: st, Reason: reason}
}

// sampleBuild is a build over two accounts: two stacks named vpc in
// CloudFormation, one created, one updated, one unchanged, one failed with
// a rolled-back resource, one whose dependency failed.
func sampleBuild() []event.Event {
	failed := &failedStacks{"db", "app"}
	return []event.Event{
		event.RunStarted{Time: at(0), Action: event.Build, Stacks: []event.PlannedStack{
			{Stack: prodVPC}, {Stack: stageVPC}, {Stack: prodDB, Deps: []string{"prod-vpc"}},
			{Stack: stageDNS, Deps: []string{"stage-vpc"}}, {Stack: prodApp, Deps: []string{"db"}},
		}, MaxParallel: 0},
		event.StackStarted{Time: at(0), Stack: prodVPC},
		event.StackStarted{Time: at(0), Stack: stageVPC},
		status(1.2, prodVPC, event.Submitted, "creating new stack", ""),
		resource(2, prodVPC, "VPC", "AWS::EC2::VPC", "CREATE_IN_PROGRESS", ""),
		status(2.5, stageVPC, event.Skipped, "nochange", event.OutcomeUnchanged),
		event.StackStarted{Time: at(2.5), Stack: stageDNS},
		status(3, stageDNS, event.Submitted, "updating existing stack", ""),
		resource(4, stageDNS, "Zone", "AWS::Route53::HostedZone", "UPDATE_IN_PROGRESS", ""),
		resource(9, prodVPC, "VPC", "AWS::EC2::VPC", "CREATE_COMPLETE", ""),
		resource(9.5, prodVPC, "Subnet", "AWS::EC2::Subnet", "CREATE_IN_PROGRESS", ""),
		resource(12, stageDNS, "Zone", "AWS::Route53::HostedZone", "UPDATE_COMPLETE", ""),
		status(13, stageDNS, event.Complete, "updating existing stack", event.OutcomeUpdated),
		resource(20, prodVPC, "Subnet", "AWS::EC2::Subnet", "CREATE_COMPLETE", ""),
		status(21, prodVPC, event.Complete, "creating new stack", event.OutcomeCreated),
		event.StackStarted{Time: at(21), Stack: prodDB},
		status(22, prodDB, event.Submitted, "creating new stack", ""),
		resource(23, prodDB, "Queue", "AWS::SQS::Queue", "CREATE_IN_PROGRESS", ""),
		resource(30, prodDB, "Queue", "AWS::SQS::Queue", "CREATE_FAILED", "bad name"),
		resource(31, prodDB, "Topic", "AWS::SNS::Topic", "CREATE_FAILED", "Resource creation cancelled"),
		status(32, prodDB, event.Submitted, "rolling back new stack", ""),
		event.FailureReason{Time: at(40), Stack: prodDB, Kind: event.Rollback, Reason: "Queue: bad name",
			Resource: event.FailedResource{EventTime: at(29.5), LogicalID: "Queue", ResourceType: "AWS::SQS::Queue", Status: "CREATE_FAILED", Reason: "bad name"}},
		status(40, prodDB, event.Failed, "rolled back new stack", event.OutcomeFailed),
		status(40, prodApp, event.Failed, "dependency has failed", event.OutcomeFailed),
		event.RunFinished{Time: at(40.5), Action: event.Build, Err: failed, Final: map[string]event.StackStatus{
			"prod-vpc":  status(21, prodVPC, event.Complete, "creating new stack", event.OutcomeCreated),
			"stage-vpc": status(2.5, stageVPC, event.Skipped, "nochange", event.OutcomeUnchanged),
			"dns":       status(13, stageDNS, event.Complete, "updating existing stack", event.OutcomeUpdated),
			"db":        status(40, prodDB, event.Failed, "rolled back new stack", event.OutcomeFailed),
			"app":       status(40, prodApp, event.Failed, "dependency has failed", event.OutcomeFailed),
		}},
	}
}

// sampleInterrupted is a destroy interrupted while one stack was deleting
// and another had not started.
func sampleInterrupted() []event.Event {
	return []event.Event{
		event.RunStarted{Time: at(0), Action: event.Destroy, Stacks: []event.PlannedStack{
			{Stack: prodApp}, {Stack: prodDB, Deps: []string{"app"}},
		}, MaxParallel: 1},
		event.StackStarted{Time: at(0.1), Stack: prodApp},
		status(1, prodApp, event.Submitted, "submitted for destruction", ""),
		status(5, prodApp, event.Failed, "interrupted", event.OutcomeCancelled),
		event.Interrupted{Time: at(5), Changing: []event.Changing{{Stack: prodApp, CFNStatus: "DELETE_IN_PROGRESS"}},
			NextRun: "a second run picks up from the state it reaches"},
		event.RunFinished{Time: at(5.2), Action: event.Destroy, Err: errors.New("stopped waiting"), Final: map[string]event.StackStatus{
			"app": status(5, prodApp, event.Failed, "interrupted", event.OutcomeCancelled),
			"db":  {Time: at(5), Stack: prodDB, State: event.Pending, Reason: "interrupted", Outcome: event.OutcomeCancelled},
		}},
	}
}

type failedStacks []string

func (f *failedStacks) Error() string { return "The following steps failed: db, app" }
