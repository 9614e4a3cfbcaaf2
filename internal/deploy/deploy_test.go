package deploy

import (
	"testing"
)

func TestFailedErrorNamesSteps(t *testing.T) {
	err := &FailedError{Stacks: []string{"a", "b"}}
	if err.Error() != "The following steps failed: a, b" {
		t.Error(err)
	}
}
