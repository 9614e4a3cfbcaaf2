// Package testblueprints holds Go versions of stacker's functional-test
// blueprints (stacker/tests/fixtures/mock_blueprints.py): tiny templates of
// WaitConditionHandles that cost nothing to create. Each is registered as
// "blueprints.<Name>" and under stacker's class path
// "stacker.tests.fixtures.mock_blueprints.<Name>".
//
// Only tests import this package. The shipped binary must not: a user's own
// module (sys_path: ./ with class_path: blueprints.Dummy) would silently get
// a mock instead of their code. internal/cli's tests check that.
package testblueprints

import (
	"context"
	"fmt"
	"strconv"

	"github.com/awslabs/goformation/v7/cloudformation"
	cfn "github.com/awslabs/goformation/v7/cloudformation/cloudformation"

	"github.com/stacker-go/stacker/blueprint"
)

// StackerPrefix is the class path prefix of stacker's mock blueprints.
const StackerPrefix = "stacker.tests.fixtures.mock_blueprints."

func init() {
	for name, f := range map[string]func() blueprint.Blueprint{
		"Dummy":            Dummy,
		"Dummy2":           Dummy2,
		"LongRunningDummy": LongRunningDummy,
		"Broken":           Broken,
		"DiffTester":       DiffTester,
		"Bastion":          Bastion,
	} {
		blueprint.Register("blueprints."+name, f)
		blueprint.Register(StackerPrefix+name, f)
	}
	// The mock VPC keeps stacker's fixture name only: "blueprints.VPC" is
	// the real one (package vpc).
	blueprint.Register(StackerPrefix+"VPC", MockVPC)
}

// brokenTimeout is 2**32 seconds: more than CloudFormation allows, so a
// WaitCondition with it makes the stack fail and roll back.
const brokenTimeout = "4294967296"

var stringVariable = []blueprint.Variable{{Name: "StringVariable", Type: blueprint.String, Default: ""}}

func output(v string) cloudformation.Output { return cloudformation.Output{Value: v} }

// Dummy is one WaitConditionHandle "Dummy", with outputs DummyId
// ("dummy-1234") and Region.
func Dummy() blueprint.Blueprint {
	return &blueprint.Simple{Vars: stringVariable, Build: func(_ context.Context, _ *blueprint.Input, t *cloudformation.Template) error {
		t.Resources["Dummy"] = &cfn.WaitConditionHandle{}
		t.Outputs["DummyId"] = output("dummy-1234")
		t.Outputs["Region"] = output(cloudformation.Ref("AWS::Region"))
		return nil
	}}
}

// Dummy2 is Dummy plus a second handle "Dummy2", without the Region output:
// swapping Dummy for Dummy2 on a stack is an add-only update.
func Dummy2() blueprint.Blueprint {
	return &blueprint.Simple{Vars: stringVariable, Build: func(_ context.Context, _ *blueprint.Input, t *cloudformation.Template) error {
		t.Resources["Dummy"] = &cfn.WaitConditionHandle{}
		t.Resources["Dummy2"] = &cfn.WaitConditionHandle{}
		t.Outputs["DummyId"] = output("dummy-1234")
		return nil
	}}
}

// LongRunningDummy is a chain of Count handles (Dummy0..), each depending on
// the previous one; with BreakLast a WaitCondition with an invalid timeout
// makes the stack fail after the chain.
func LongRunningDummy() blueprint.Blueprint {
	return &blueprint.Simple{
		Vars: []blueprint.Variable{
			{Name: "Count", Type: blueprint.Int, Default: 1, Description: "The number of WaitConditionHandles to create.", MinValue: blueprint.FloatPtr(1)},
			{Name: "BreakLast", Type: blueprint.Bool, Default: true, Description: "Whether to break the last handle, so the stack fails."},
			{Name: "OutputValue", Type: blueprint.String, Default: "DefaultOutput", Description: "The value of the OutputValue output."},
		},
		Build: func(_ context.Context, in *blueprint.Input, t *cloudformation.Template) error {
			count := in.Variables["Count"].(int)
			last := ""
			for i := range count {
				name := fmt.Sprintf("Dummy%d", i)
				h := &cfn.WaitConditionHandle{}
				if last != "" {
					h.AWSCloudFormationDependsOn = []string{last}
				}
				t.Resources[name] = h
				last = name
			}
			if in.Variables["BreakLast"].(bool) {
				t.Resources["BrokenWaitCondition"] = &cfn.WaitCondition{
					Handle:  cloudformation.String(cloudformation.Ref(last)),
					Timeout: cloudformation.String(brokenTimeout),
					Count:   cloudformation.Int(0),
				}
			}
			t.Outputs["OutputValue"] = output(in.Variables["OutputValue"].(string))
			t.Outputs["WCHCount"] = output(strconv.Itoa(count))
			return nil
		},
	}
}

// Broken is a handle and a WaitCondition CloudFormation rejects, for tests
// of failed stacks and --recreate-failed.
func Broken() blueprint.Blueprint {
	return &blueprint.Simple{Vars: stringVariable, Build: func(_ context.Context, _ *blueprint.Input, t *cloudformation.Template) error {
		t.Resources["BrokenDummy"] = &cfn.WaitConditionHandle{}
		t.Resources["BrokenWaitCondition"] = &cfn.WaitCondition{
			Handle:  cloudformation.String(cloudformation.Ref("BrokenDummy")),
			Timeout: cloudformation.String(brokenTimeout),
			Count:   cloudformation.Int(0),
		}
		t.Outputs["DummyId"] = output("dummy-1234")
		return nil
	}}
}

// DiffTester is WaitConditionCount handles VPC0.. and an InstanceType
// parameter, for diff tests.
func DiffTester() blueprint.Blueprint {
	return &blueprint.Simple{
		Vars: []blueprint.Variable{
			{Name: "InstanceType", Type: blueprint.CFNString, Default: "m3.medium", Description: "NAT EC2 instance type."},
			{Name: "WaitConditionCount", Type: blueprint.Int, Description: "Number of WaitConditionHandle resources to add to the template", MinValue: blueprint.FloatPtr(0)},
		},
		Build: func(_ context.Context, in *blueprint.Input, t *cloudformation.Template) error {
			for i := range in.Variables["WaitConditionCount"].(int) {
				t.Resources[fmt.Sprintf("VPC%d", i)] = &cfn.WaitConditionHandle{}
			}
			return nil
		},
	}
}

// MockVPC is stacker's mock VPC: one handle "VPC" and the real VPC
// blueprint's variables, the CFN ones as parameters.
func MockVPC() blueprint.Blueprint {
	return &blueprint.Simple{
		Vars: []blueprint.Variable{
			{Name: "AZCount", Type: blueprint.Int, Default: 2},
			{Name: "PrivateSubnets", Type: blueprint.CFNCommaDelimitedList, Description: "Comma separated list of subnets to use for non-public hosts. NOTE: Must have as many subnets as AZCount"},
			{Name: "PublicSubnets", Type: blueprint.CFNCommaDelimitedList, Description: "Comma separated list of subnets to use for public hosts. NOTE: Must have as many subnets as AZCount"},
			{Name: "InstanceType", Type: blueprint.CFNString, Default: "m3.medium", Description: "NAT EC2 instance type."},
			{Name: "BaseDomain", Type: blueprint.CFNString, Default: "", Description: "Base domain for the stack."},
			{Name: "InternalDomain", Type: blueprint.CFNString, Default: "", Description: "Internal domain name, if you have one."},
			{Name: "CidrBlock", Type: blueprint.CFNString, Default: "10.128.0.0/16", Description: "Base CIDR block for subnets."},
			{Name: "ImageName", Type: blueprint.CFNString, Default: "NAT", Description: "The image name to use from the AMIMap (usually found in the config file.)"},
			{Name: "UseNatGateway", Type: blueprint.CFNString, Default: "false", AllowedValues: []string{"true", "false"}, Description: "If set to true, will configure a NAT Gateway instead of NAT instances."},
		},
		Build: func(_ context.Context, _ *blueprint.Input, t *cloudformation.Template) error {
			t.Resources["VPC"] = &cfn.WaitConditionHandle{}
			return nil
		},
	}
}

// Bastion declares the parameters of a bastion stack and creates nothing
// (CloudFormation rejects it; stacker uses it for variable tests).
func Bastion() blueprint.Blueprint {
	return &blueprint.Simple{Vars: []blueprint.Variable{
		{Name: "VpcId", Type: blueprint.EC2VPCID, Description: "Vpc Id"},
		{Name: "DefaultSG", Type: blueprint.EC2SecurityGroupID, Description: "Top level security group."},
		{Name: "PublicSubnets", Type: blueprint.EC2SubnetIDList, Description: "Subnets to deploy public instances in."},
		{Name: "PrivateSubnets", Type: blueprint.EC2SubnetIDList, Description: "Subnets to deploy private instances in."},
		{Name: "AvailabilityZones", Type: blueprint.CFNCommaDelimitedList, Description: "Availability Zones to deploy instances in."},
		{Name: "InstanceType", Type: blueprint.CFNString, Default: "m3.medium", Description: "EC2 Instance Type"},
		{Name: "MinSize", Type: blueprint.CFNNumber, Default: "1", Description: "Minimum # of instances."},
		{Name: "MaxSize", Type: blueprint.CFNNumber, Default: "5", Description: "Maximum # of instances."},
		{Name: "SshKeyName", Type: blueprint.EC2KeyPairKeyName},
		{Name: "OfficeNetwork", Type: blueprint.CFNString, Description: "CIDR block allowed to connect to bastion hosts."},
		{Name: "ImageName", Type: blueprint.CFNString, Default: "bastion", Description: "The image name to use from the AMIMap (usually found in the config file.)"},
	}}
}
