package cfn

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"golang.org/x/time/rate"
)

// writeBudget paces the mutating calls of a target through its write
// token bucket (target.Budget.Writes), so a burst of submissions does not
// trip CloudFormation's write throttling. Reads pass straight through (they
// are paced by doRead).
type writeBudget struct {
	API
	lim *rate.Limiter
}

func (w writeBudget) CreateStack(ctx context.Context, in *cloudformation.CreateStackInput, optFns ...func(*cloudformation.Options)) (*cloudformation.CreateStackOutput, error) {
	if err := w.lim.Wait(ctx); err != nil {
		return nil, err
	}
	return w.API.CreateStack(ctx, in, optFns...)
}

func (w writeBudget) UpdateStack(ctx context.Context, in *cloudformation.UpdateStackInput, optFns ...func(*cloudformation.Options)) (*cloudformation.UpdateStackOutput, error) {
	if err := w.lim.Wait(ctx); err != nil {
		return nil, err
	}
	return w.API.UpdateStack(ctx, in, optFns...)
}

func (w writeBudget) DeleteStack(ctx context.Context, in *cloudformation.DeleteStackInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DeleteStackOutput, error) {
	if err := w.lim.Wait(ctx); err != nil {
		return nil, err
	}
	return w.API.DeleteStack(ctx, in, optFns...)
}

func (w writeBudget) UpdateTerminationProtection(ctx context.Context, in *cloudformation.UpdateTerminationProtectionInput, optFns ...func(*cloudformation.Options)) (*cloudformation.UpdateTerminationProtectionOutput, error) {
	if err := w.lim.Wait(ctx); err != nil {
		return nil, err
	}
	return w.API.UpdateTerminationProtection(ctx, in, optFns...)
}

func (w writeBudget) CreateChangeSet(ctx context.Context, in *cloudformation.CreateChangeSetInput, optFns ...func(*cloudformation.Options)) (*cloudformation.CreateChangeSetOutput, error) {
	if err := w.lim.Wait(ctx); err != nil {
		return nil, err
	}
	return w.API.CreateChangeSet(ctx, in, optFns...)
}

func (w writeBudget) DeleteChangeSet(ctx context.Context, in *cloudformation.DeleteChangeSetInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DeleteChangeSetOutput, error) {
	if err := w.lim.Wait(ctx); err != nil {
		return nil, err
	}
	return w.API.DeleteChangeSet(ctx, in, optFns...)
}
