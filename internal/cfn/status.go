package cfn

import "strings"

// Stack statuses by role (stacker 1.7 Provider sets, §5.2 of the reference,
// plus the newer UPDATE_FAILED).
var (
	recreatable = set("CREATE_FAILED", "ROLLBACK_FAILED", "ROLLBACK_COMPLETE")
	updatable   = set("CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE",
		"UPDATE_ROLLBACK_COMPLETE", "IMPORT_ROLLBACK_COMPLETE")
)

func set(s ...string) map[string]bool {
	m := make(map[string]bool, len(s))
	for _, v := range s {
		m[v] = true
	}
	return m
}

// InProgress reports whether CloudFormation is still changing the stack
// (every *_IN_PROGRESS status except REVIEW_IN_PROGRESS, which is a stack
// waiting for a change set and never moves by itself).
func InProgress(status string) bool {
	return strings.HasSuffix(status, "_IN_PROGRESS") && status != "REVIEW_IN_PROGRESS"
}
