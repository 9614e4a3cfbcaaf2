package cfn

import (
	"testing"

	"github.com/stacker-go/stacker/blueprint"
)

func TestMaskedParametersHideNoEcho(t *testing.T) {
	declared := []blueprint.Parameter{{Name: "Vpc"}, {Name: "Password", NoEcho: true}, {Name: "Unset"}}
	got := MaskedParameters(declared, map[string]string{"Vpc": "vpc-1", "Password": "hunter2"})
	if got != "Vpc=vpc-1, Password=****" {
		t.Errorf("got %q", got)
	}
	if got := MaskedParameters(nil, nil); got != "(none)" {
		t.Errorf("no parameters: %q", got)
	}
}
