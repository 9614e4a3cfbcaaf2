package main

import (
	"context"
	"strings"
	"testing"

	"github.com/stacker-go/stacker/blueprint"
)

func TestBucketBlueprint(t *testing.T) {
	bp, err := blueprint.Lookup("mycompany.blueprints.Bucket")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := blueprint.ResolveVariables(bp, "artifacts", map[string]any{"BucketName": "Bad_Name"}); err == nil ||
		!strings.Contains(err.Error(), "does not match pattern") {
		t.Fatalf("invalid bucket name: error = %v", err)
	}
	vars, err := blueprint.ResolveVariables(bp, "artifacts", map[string]any{"BucketName": "mycompany-artifacts"})
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := bp.Render(context.Background(), &blueprint.Input{Name: "artifacts", Variables: vars})
	if err != nil {
		t.Fatal(err)
	}
	if tpl.ParameterValues["BucketName"] != "mycompany-artifacts" || !strings.Contains(string(tpl.Body), `"Status": "Enabled"`) {
		t.Errorf("unexpected template: %v\n%s", tpl.ParameterValues, tpl.Body)
	}
}
