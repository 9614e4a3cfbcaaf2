// Command custom-blueprint is a team's own stacker binary: stacker plus a Go
// blueprint of its own. Build it with `go build`, then use the class path
// in a config:
//
//	stacks:
//	  - name: artifacts
//	    class_path: mycompany.blueprints.Bucket
//	    variables:
//	      BucketName: mycompany-artifacts
//	      Versioned: true
package main

import (
	"context"
	"os"

	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/cloudformation/s3"

	"github.com/stacker-go/stacker/app"
	"github.com/stacker-go/stacker/blueprint"
	_ "github.com/stacker-go/stacker/blueprints/all" // keep the built-in blueprints
)

func init() {
	// Register panics on a duplicate class path: that is a bug in the
	// binary, found as soon as it starts.
	blueprint.Register("mycompany.blueprints.Bucket", newBucket)
}

// newBucket is an S3 bucket with its public access blocked and optional
// versioning.
func newBucket() blueprint.Blueprint {
	return &blueprint.Simple{
		Vars: []blueprint.Variable{
			{
				// A CloudFormation type: it becomes a template Parameter
				// (with these constraints) and its value a parameter value.
				// Constraints are also checked before anything is sent.
				Name:           "BucketName",
				Type:           blueprint.CFNString,
				Description:    "The bucket's globally unique name.",
				AllowedPattern: "[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]",
			},
			{
				// A Go type: used while rendering, not sent to CloudFormation.
				Name:        "Versioned",
				Type:        blueprint.Bool,
				Default:     true,
				Description: "Keep every version of every object.",
			},
		},
		Build: func(_ context.Context, in *blueprint.Input, t *cloudformation.Template) error {
			b := &s3.Bucket{
				BucketName: cloudformation.String(cloudformation.Ref("BucketName")),
				PublicAccessBlockConfiguration: &s3.Bucket_PublicAccessBlockConfiguration{
					BlockPublicAcls:       cloudformation.Bool(true),
					BlockPublicPolicy:     cloudformation.Bool(true),
					IgnorePublicAcls:      cloudformation.Bool(true),
					RestrictPublicBuckets: cloudformation.Bool(true),
				},
			}
			if in.Variables["Versioned"].(bool) {
				b.VersioningConfiguration = &s3.Bucket_VersioningConfiguration{Status: "Enabled"}
			}
			t.Resources["Bucket"] = b
			t.Outputs["BucketName"] = cloudformation.Output{Value: cloudformation.Ref("Bucket")}
			t.Outputs["BucketArn"] = cloudformation.Output{Value: cloudformation.GetAtt("Bucket", "Arn")}
			return nil
		},
	}
}

func main() { os.Exit(app.Main(os.Args[1:])) }
