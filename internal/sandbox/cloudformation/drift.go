package cloudformation

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/stacker-go/stacker/internal/sandbox/cloudformation/cfntemplate"
)

// Tamper changes a resource behind its stack's back (admin API): prop
// (a dot path into the properties) is set to value, or the resource is
// marked deleted when prop is "" and value is nil.
func (s *Service) Tamper(account, regionName, stackName, logicalID, prop string, value any) error {
	s.mu.Lock()
	rg := s.regions[account+"/"+regionName]
	s.mu.Unlock()
	if rg == nil {
		return fmt.Errorf("tampering with %s/%s: stack %s does not exist", account, regionName, stackName)
	}
	rg.mu.Lock()
	defer rg.mu.Unlock()
	st := rg.lookup(stackName)
	if st == nil || st.Status == "DELETE_COMPLETE" {
		return fmt.Errorf("tampering with %s/%s: stack %s does not exist", account, regionName, stackName)
	}
	res := st.Resources[logicalID]
	if res == nil {
		return fmt.Errorf("tampering with stack %s: resource %s does not exist", stackName, logicalID)
	}
	if prop == "" && value == nil {
		res.Gone = true
		return nil
	}
	if res.Actual == nil {
		res.Actual = deepCopy(res.Props).(map[string]any)
		if res.Actual == nil {
			res.Actual = map[string]any{}
		}
	}
	parts := strings.Split(prop, ".")
	m := res.Actual
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	last := parts[len(parts)-1]
	if value == nil {
		delete(m, last)
	} else {
		m[last] = deepCopy(value)
	}
	return nil
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, y := range x {
			out[k] = deepCopy(y)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, y := range x {
			out[i] = deepCopy(y)
		}
		return out
	case nil:
		return map[string]any(nil)
	}
	return v
}

type propDiff struct {
	Path, Expected, Actual, Type string
}

func diffProps(path string, exp, act any, out *[]propDiff) {
	em, eok := exp.(map[string]any)
	am, aok := act.(map[string]any)
	if eok && aok {
		keys := map[string]bool{}
		for k := range em {
			keys[k] = true
		}
		for k := range am {
			keys[k] = true
		}
		for _, k := range sortedStrings(keys) {
			ev, ein := em[k]
			av, ain := am[k]
			switch {
			case ein && !ain:
				*out = append(*out, propDiff{path + "/" + k, render(ev), "null", "REMOVE"})
			case !ein && ain:
				*out = append(*out, propDiff{path + "/" + k, "null", render(av), "ADD"})
			default:
				diffProps(path+"/"+k, ev, av, out)
			}
		}
		return
	}
	el, eok := exp.([]any)
	al, aok := act.([]any)
	if eok && aok && len(el) == len(al) {
		for i := range el {
			diffProps(fmt.Sprintf("%s/%d", path, i), el[i], al[i], out)
		}
		return
	}
	if !jsonEqual(exp, act) {
		*out = append(*out, propDiff{path, render(exp), render(act), "NOT_EQUAL"})
	}
}

func render(v any) string {
	if s, ok := cfntemplate.Scalar(v); ok {
		return s
	}
	return cfntemplate.JSON(v)
}

// driftOf computes a resource's drift status and differences (rg.mu held).
func driftOf(res *resource) (string, []propDiff) {
	if res.Gone {
		return "DELETED", nil
	}
	if res.Actual == nil {
		return "IN_SYNC", nil
	}
	var diffs []propDiff
	diffProps("", normalize(res.Props), normalize(res.Actual), &diffs)
	if len(diffs) == 0 {
		return "IN_SYNC", nil
	}
	return "MODIFIED", diffs
}

func (r *req) detectStackDrift(w http.ResponseWriter) error {
	st, err := r.findStack("DetectStackDrift")
	if err != nil {
		return err
	}
	only := map[string]bool{}
	for _, l := range r.list("LogicalResourceIds") {
		only[l] = true
	}
	rg := r.rg
	rg.mu.Lock()
	defer rg.mu.Unlock()
	if strings.HasSuffix(st.Status, "_IN_PROGRESS") {
		return validation("Drift detection cannot be performed on stack %s while it is in %s state", st.ID, st.Status)
	}
	now := r.s.now()
	drifted := 0
	for _, res := range st.Resources {
		if len(only) > 0 && !only[res.Logical] {
			continue
		}
		status, _ := driftOf(res)
		res.DriftStatus, res.DriftTime = status, now
		if status != "IN_SYNC" {
			drifted++
		}
	}
	st.DriftID = rg.id("drift", st.ID)
	st.DriftTime = now
	st.DriftCount = drifted
	st.DriftStatus = "IN_SYNC"
	if drifted > 0 {
		st.DriftStatus = "DRIFTED"
	}
	id := st.DriftID
	return r.s.write(w, r.c, func(x *xw) { x.elem("StackDriftDetectionId", id) })
}

func (r *req) describeStackDriftDetectionStatus(w http.ResponseWriter) error {
	id := r.get("StackDriftDetectionId")
	if err := r.authorize("DescribeStackDriftDetectionStatus", "*"); err != nil {
		return err
	}
	r.rg.mu.RLock()
	defer r.rg.mu.RUnlock()
	for _, st := range r.rg.Stacks {
		if st.DriftID == id && id != "" {
			return r.s.write(w, r.c, func(x *xw) {
				x.elem("StackId", st.ID)
				x.elem("StackDriftDetectionId", id)
				x.elem("StackDriftStatus", st.DriftStatus)
				x.elem("DetectionStatus", "DETECTION_COMPLETE")
				x.elem("DriftedStackResourceCount", fmt.Sprint(st.DriftCount))
				x.time("Timestamp", st.DriftTime)
			})
		}
	}
	return validation("Stack drift detection with id %s does not exist", id)
}

func writeResourceDrift(x *xw, st *stack, res *resource) {
	status, diffs := driftOf(res)
	if res.DriftStatus == "" {
		status = "NOT_CHECKED"
	}
	x.elem("StackId", st.ID)
	x.elem("LogicalResourceId", res.Logical)
	x.opt("PhysicalResourceId", res.Physical)
	x.elem("ResourceType", res.Type)
	exp, _ := json.Marshal(normalize(res.Props))
	x.elem("ExpectedProperties", string(exp))
	if !res.Gone {
		act := res.Actual
		if act == nil {
			act = res.Props
		}
		b, _ := json.Marshal(normalize(act))
		x.elem("ActualProperties", string(b))
	}
	x.open("PropertyDifferences")
	for _, d := range diffs {
		x.open("member")
		x.elem("PropertyPath", d.Path)
		x.elem("ExpectedValue", d.Expected)
		x.elem("ActualValue", d.Actual)
		x.elem("DifferenceType", d.Type)
		x.close("member")
	}
	x.close("PropertyDifferences")
	x.elem("StackResourceDriftStatus", status)
	x.time("Timestamp", res.DriftTime)
}

func (r *req) describeStackResourceDrifts(w http.ResponseWriter) error {
	st, err := r.findStack("DescribeStackResourceDrifts")
	if err != nil {
		return err
	}
	filter := map[string]bool{}
	for _, f := range r.list("StackResourceDriftStatusFilters") {
		filter[f] = true
	}
	r.rg.mu.RLock()
	defer r.rg.mu.RUnlock()
	var list []*resource
	for _, res := range sortedResources(st) {
		if res.DriftStatus == "" {
			continue
		}
		status, _ := driftOf(res)
		if len(filter) > 0 && !filter[status] {
			continue
		}
		list = append(list, res)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Logical < list[j].Logical })
	return r.s.write(w, r.c, func(x *xw) {
		x.open("StackResourceDrifts")
		for _, res := range list {
			x.open("member")
			writeResourceDrift(x, st, res)
			x.close("member")
		}
		x.close("StackResourceDrifts")
	})
}

func (r *req) detectStackResourceDrift(w http.ResponseWriter) error {
	st, err := r.findStack("DetectStackResourceDrift")
	if err != nil {
		return err
	}
	logical := r.get("LogicalResourceId")
	r.rg.mu.Lock()
	defer r.rg.mu.Unlock()
	res := st.Resources[logical]
	if res == nil {
		return validation("Resource %s does not exist for stack %s", logical, st.Name)
	}
	status, _ := driftOf(res)
	res.DriftStatus, res.DriftTime = status, r.s.now()
	return r.s.write(w, r.c, func(x *xw) {
		x.open("StackResourceDrift")
		writeResourceDrift(x, st, res)
		x.close("StackResourceDrift")
	})
}
