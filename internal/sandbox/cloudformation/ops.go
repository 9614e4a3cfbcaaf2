package cloudformation

import (
	"fmt"
	"log/slog"
	"reflect"
	"runtime/debug"
	"sort"
	"strings"
	"sync"

	"github.com/stacker-go/stacker/internal/sandbox/cloudformation/cfntemplate"
	"github.com/stacker-go/stacker/internal/sandbox/platform"
)

// run is one stack operation's working state.
type run struct {
	s       *Service
	rg      *region
	st      *stack
	tmpl    *cfntemplate.Template
	ev      *cfntemplate.Evaluator
	res     map[string]*resource // working resources (rg.mu)
	token   string
	op      string // create, update, delete (for failure rules)
	imports map[string]bool
}

// phase is one parallel pass over resources; stop ends it early.
type phase struct {
	stop chan struct{}
	once sync.Once
}

func newPhase() *phase { return &phase{stop: make(chan struct{})} }
func (p *phase) halt() { p.once.Do(func() { close(p.stop) }) }
func (p *phase) stopped() bool {
	select {
	case <-p.stop:
		return true
	default:
		return false
	}
}

func (s *Service) newRun(rg *region, st *stack, tmpl *cfntemplate.Template, params map[string]string, res map[string]*resource, token string) *run {
	if tmpl == nil { // REVIEW_IN_PROGRESS stacks have no template yet
		tmpl = &cfntemplate.Template{Parameters: map[string]*cfntemplate.Parameter{}, Mappings: map[string]any{},
			Conditions: map[string]any{}, Resources: map[string]*cfntemplate.Resource{}, Outputs: map[string]*cfntemplate.Output{}}
	}
	r := &run{s: s, rg: rg, st: st, tmpl: tmpl, res: res, token: token, imports: map[string]bool{}}
	r.ev = &cfntemplate.Evaluator{
		T: tmpl, Params: params,
		Pseudo: cfntemplate.Pseudo{AccountID: rg.Account, Region: rg.Region, StackName: st.Name, StackID: st.ID, NotificationARNs: st.Notif},
		R:      &rtResolver{r: r},
	}
	_ = r.ev.EvalConditions() // validated at submission
	return r
}

// rtResolver resolves references against the run's working resources.
type rtResolver struct {
	r   *run
	dry bool // unknown resources are Unknown values instead of errors
}

func (x *rtResolver) Ref(l string) (any, error) {
	x.r.rg.mu.RLock()
	res := x.r.res[l]
	x.r.rg.mu.RUnlock()
	if res == nil || res.Physical == "" {
		if x.dry {
			return cfntemplate.Unknown{Source: l}, nil
		}
		return nil, &cfntemplate.Error{Msg: fmt.Sprintf("Template format error: Unresolved resource dependencies [%s] in the Resources block of the template", l)}
	}
	return res.Physical, nil
}

func (x *rtResolver) GetAtt(l, attr string) (any, error) {
	typ := ""
	if t := x.r.tmpl.Resources[l]; t != nil {
		typ = t.Type
	}
	if !attrSupported(typ, attr) {
		return nil, &cfntemplate.Error{Msg: fmt.Sprintf("Template error: resource %s does not support attribute type %s in Fn::GetAtt", l, attr)}
	}
	x.r.rg.mu.RLock()
	res := x.r.res[l]
	x.r.rg.mu.RUnlock()
	if res == nil || res.Physical == "" {
		if x.dry {
			return cfntemplate.Unknown{Source: l + "." + attr}, nil
		}
		return nil, &cfntemplate.Error{Msg: fmt.Sprintf("Template error: resource %s is not available for Fn::GetAtt", l)}
	}
	return attrValue(res, attr, x.r.rg), nil
}

func (x *rtResolver) ImportValue(name string) (any, error) {
	x.r.rg.mu.Lock()
	e := x.r.rg.Exports[name]
	x.r.rg.mu.Unlock()
	if e == nil || e.StackID == x.r.st.ID {
		return nil, &cfntemplate.Error{Msg: fmt.Sprintf("No export named %s found.", name)}
	}
	x.r.rg.mu.Lock()
	x.r.imports[name] = true
	x.r.rg.mu.Unlock()
	return e.Value, nil
}

// ---- events ----

func (r *run) eventLocked(logical, physical, typ, status, reason string) {
	st := r.st
	ev := &event{
		ID: logical + "-" + r.rg.id("event", st.ID), Logical: logical, Physical: physical, Type: typ,
		Time: r.s.now(), Status: status, Reason: reason, Token: r.token,
	}
	if typ == "AWS::CloudFormation::Stack" && logical == st.Name {
		ev.ID = r.rg.id("event", st.ID)
	}
	st.Events = append(st.Events, ev)
}

// stackStatus sets the stack's status and emits its event.
func (r *run) stackStatus(status, reason string) {
	r.rg.mu.Lock()
	r.st.Status, r.st.Reason = status, reason
	r.eventLocked(r.st.Name, r.st.ID, "AWS::CloudFormation::Stack", status, reason)
	r.rg.mu.Unlock()
}

func (r *run) resStatus(res *resource, status, reason string) {
	r.rg.mu.Lock()
	res.Status, res.Reason, res.Updated = status, reason, r.s.now()
	r.eventLocked(res.Logical, res.Physical, res.Type, status, reason)
	r.rg.mu.Unlock()
}

// ---- latency and failures ----

func (r *run) wait(typ string, ph *phase) bool {
	if r.s.p == nil || r.s.p.Faults == nil {
		return !ph.stopped()
	}
	d := r.s.p.Faults.Latency(r.st.Name, typ)
	if d <= 0 {
		return true
	}
	var ch <-chan timeT
	if r.s.p.Clock != nil {
		ch = r.s.p.Clock.After(d)
	} else {
		ch = afterReal(d)
	}
	select {
	case <-ch:
		return true
	case <-ph.stop:
		return false
	}
}

func (r *run) failure(logical, typ, operation string) (string, bool) {
	if r.s.p == nil || r.s.p.Faults == nil {
		return r.denied(logical, typ, operation)
	}
	rule, ok := r.s.p.Faults.MatchFailure(r.rg.Account, r.rg.Region, r.st.Name, logical, typ, operation)
	if !ok {
		return r.denied(logical, typ, operation)
	}
	msg := rule.Message
	if msg == "" {
		msg = fmt.Sprintf("Resource handler returned message: \"Injected failure of %s\" (HandlerErrorCode: GeneralServiceException)", logical)
	}
	return msg, true
}

func handlerMessage(err error) string {
	if e, ok := err.(*platform.APIError); ok {
		return fmt.Sprintf("Resource handler returned message: \"%s\" (HandlerErrorCode: %s)", e.Message, e.Code)
	}
	return err.Error()
}

// ---- DAG execution ----

// dag runs do for every name once its deps are done, in parallel; when
// do fails the phase halts (running ones are told via ph.stop) and no
// more start. It returns the names that failed, in completion order.
func dag(names []string, deps map[string][]string, ph *phase, cancel <-chan struct{}, do func(name string, ph *phase) bool) (failed []string, notStarted []string) {
	pending := map[string]int{}
	dependants := map[string][]string{}
	inSet := map[string]bool{}
	for _, n := range names {
		inSet[n] = true
	}
	for _, n := range names {
		for _, d := range deps[n] {
			if inSet[d] {
				pending[n]++
				dependants[d] = append(dependants[d], n)
			}
		}
	}
	type result struct {
		name string
		ok   bool
	}
	done := make(chan result, len(names))
	started := map[string]bool{}
	running := 0
	var ready []string
	for _, n := range names {
		if pending[n] == 0 {
			ready = append(ready, n)
		}
	}
	halted := false
	for {
		if !halted && cancel != nil {
			select {
			case <-cancel:
				halted = true
				ph.halt()
			default:
			}
		}
		if !halted {
			for _, n := range ready {
				started[n] = true
				running++
				if len(ready) == 1 && running == 1 {
					done <- result{n, do(n, ph)}
					continue
				}
				go func(n string) { done <- result{n, do(n, ph)} }(n)
			}
		}
		ready = ready[:0]
		if running == 0 {
			break
		}
		var res result
		if cancel != nil && !halted {
			select {
			case res = <-done:
			case <-cancel:
				halted = true
				ph.halt()
				continue
			}
		} else {
			res = <-done
		}
		running--
		if !res.ok {
			failed = append(failed, res.name)
			halted = true
			ph.halt()
			continue
		}
		for _, d := range dependants[res.name] {
			pending[d]--
			if pending[d] == 0 {
				ready = append(ready, d)
			}
		}
	}
	for _, n := range names {
		if !started[n] {
			notStarted = append(notStarted, n)
		}
	}
	return failed, notStarted
}

// ---- deploy (create and update) ----

type journalEntry struct {
	kind string // created, updated, replaced
	name string
	old  *resource
	new  *resource
}

type deployResult struct {
	journal []journalEntry
	failed  []string
	created map[string]bool // failed names that were creations
	removed []string        // resources to delete in cleanup
}

func (r *run) activeSet() map[string]bool {
	active := map[string]bool{}
	for _, n := range r.tmpl.ResourceOrder {
		if ok, _ := r.ev.Condition(r.tmpl.Resources[n].Condition); ok {
			active[n] = true
		}
	}
	return active
}

func (r *run) depsOf(active map[string]bool) map[string][]string {
	deps := map[string][]string{}
	for n := range active {
		deps[n] = r.tmpl.Deps(n, active)
	}
	return deps
}

// deploy creates or updates every active resource of r.tmpl. old holds
// the stack's resources before the operation (nil for a create).
func (r *run) deploy(old map[string]*resource, policy string, cancel <-chan struct{}) *deployResult {
	active := r.activeSet()
	order, _ := r.tmpl.Order(active)
	deps := r.depsOf(active)
	out := &deployResult{created: map[string]bool{}}
	var jmu sync.Mutex
	// removals are checked against the stack policy up front
	if old != nil {
		var removed []string
		for n := range old {
			if !active[n] || r.tmpl.Resources[n].Type != old[n].Type {
				removed = append(removed, n)
			}
		}
		sort.Strings(removed)
		for _, n := range removed {
			if active[n] {
				continue // type change: replaced below
			}
			if ok, why := policyAllows(policy, "Update:Delete", n, old[n].Type); !ok {
				res := old[n]
				r.resStatus(res, "UPDATE_FAILED", why)
				out.failed = append(out.failed, n)
				return out
			}
			out.removed = append(out.removed, n)
		}
	}
	ph := newPhase()
	failed, notStarted := dag(order, deps, ph, cancel, func(name string, ph *phase) bool {
		tr := r.tmpl.Resources[name]
		var prev *resource
		if old != nil {
			if o := old[name]; o != nil && o.Type == tr.Type && o.Physical != "" {
				prev = o
			}
		}
		propsV, err := r.ev.Eval(tr.Properties)
		props, _ := propsV.(map[string]any)
		if tr.Properties == nil {
			props = nil
		}
		if prev == nil {
			res := &resource{Logical: name, Type: tr.Type, DeletionPolicy: tr.DeletionPolicy, Metadata: tr.Metadata, Props: props}
			if old != nil && old[name] != nil {
				res.Gen = old[name].Gen + 1
			}
			r.rg.mu.Lock()
			r.res[name] = res
			r.rg.mu.Unlock()
			r.resStatus(res, "CREATE_IN_PROGRESS", "")
			if err != nil {
				r.resStatus(res, "CREATE_FAILED", err.Error())
				jmu.Lock()
				out.created[name] = true
				jmu.Unlock()
				return false
			}
			ok := r.createResource(res, ph)
			jmu.Lock()
			if ok {
				out.journal = append(out.journal, journalEntry{kind: "created", name: name, new: res})
			} else {
				out.created[name] = true
			}
			jmu.Unlock()
			return ok
		}
		if err != nil {
			r.resStatus(prev, "UPDATE_FAILED", err.Error())
			return false
		}
		if reflect.DeepEqual(normalize(props), normalize(prev.Props)) && reflect.DeepEqual(normalize(tr.Metadata), normalize(prev.Metadata)) {
			return true // unchanged
		}
		replace := requiresReplacement(tr.Type, prev.Props, props) == "Always"
		action := "Update:Modify"
		if replace {
			action = "Update:Replace"
		}
		if ok, why := policyAllows(policy, action, name, tr.Type); !ok {
			r.resStatus(prev, "UPDATE_FAILED", why)
			return false
		}
		if replace {
			res := &resource{Logical: name, Type: tr.Type, DeletionPolicy: tr.DeletionPolicy, Metadata: tr.Metadata, Props: props, Gen: prev.Gen + 1}
			r.resStatus(prev, "UPDATE_IN_PROGRESS", "")
			r.rg.mu.Lock()
			res.Status = "UPDATE_IN_PROGRESS"
			r.res[name] = res
			r.eventLocked(name, "", tr.Type, "UPDATE_IN_PROGRESS", "Requested update requires the creation of a new physical resource; hence creating one.")
			r.rg.mu.Unlock()
			ok := r.replaceResource(res, ph)
			jmu.Lock()
			if ok {
				out.journal = append(out.journal, journalEntry{kind: "replaced", name: name, old: prev, new: res})
			}
			jmu.Unlock()
			if !ok {
				r.rg.mu.Lock()
				r.res[name] = prev
				r.rg.mu.Unlock()
				jmu.Lock()
				out.journal = append(out.journal, journalEntry{kind: "replace-failed", name: name, old: prev, new: res})
				jmu.Unlock()
			}
			return ok
		}
		res := prev.clone()
		res.Props = props
		res.Metadata = tr.Metadata
		res.DeletionPolicy = tr.DeletionPolicy
		r.rg.mu.Lock()
		r.res[name] = res
		r.rg.mu.Unlock()
		r.resStatus(res, "UPDATE_IN_PROGRESS", "")
		ok := r.updateResource(res, prev, ph)
		jmu.Lock()
		out.journal = append(out.journal, journalEntry{kind: "updated", name: name, old: prev, new: res})
		jmu.Unlock()
		return ok
	})
	_ = notStarted
	out.failed = append(out.failed, failed...)
	// resources halted mid-flight were marked by their own goroutines
	r.rg.mu.Lock()
	for n, res := range r.res {
		if res.Status == "CREATE_FAILED" && !contains(out.failed, n) && res.Reason == "Resource creation cancelled" {
			out.created[n] = true
		}
	}
	r.rg.mu.Unlock()
	return out
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// normalize makes numbers and scalars comparable (json.Number vs string).
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, y := range x {
			out[k] = normalize(y)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, y := range x {
			out[i] = normalize(y)
		}
		return out
	case nil:
		return nil
	}
	if s, ok := cfntemplate.Scalar(v); ok {
		return s
	}
	return v
}

// begin waits for res's turn for op ("create" or "update") and applies
// injected failures; false when res has failed (OP_FAILED, with cancelled
// as the reason when the phase stopped).
func (r *run) begin(res *resource, ph *phase, op, cancelled string) bool {
	failed := strings.ToUpper(op) + "_FAILED"
	if !r.wait(res.Type, ph) {
		r.resStatus(res, failed, cancelled)
		return false
	}
	if msg, ok := r.failure(res.Logical, res.Type, op); ok {
		r.resStatus(res, failed, msg)
		return false
	}
	return true
}

func (r *run) createResource(res *resource, ph *phase) bool {
	if !r.begin(res, ph, "create", "Resource creation cancelled") {
		return false
	}
	h := handlerFor(res.Type)
	phys, attrs, err := h.create(r.rctx(res), ph)
	if err != nil {
		r.resStatus(res, "CREATE_FAILED", handlerMessage(err))
		return false
	}
	r.rg.mu.Lock()
	res.Physical, res.Attrs = phys, attrs
	r.eventLocked(res.Logical, phys, res.Type, "CREATE_IN_PROGRESS", "Resource creation Initiated")
	r.rg.mu.Unlock()
	r.resStatus(res, "CREATE_COMPLETE", "")
	return true
}

func (r *run) replaceResource(res *resource, ph *phase) bool {
	if !r.begin(res, ph, "update", "Resource update cancelled") {
		return false
	}
	phys, attrs, err := handlerFor(res.Type).create(r.rctx(res), ph)
	if err != nil {
		r.resStatus(res, "UPDATE_FAILED", handlerMessage(err))
		return false
	}
	r.rg.mu.Lock()
	res.Physical, res.Attrs = phys, attrs
	r.rg.mu.Unlock()
	r.resStatus(res, "UPDATE_COMPLETE", "")
	return true
}

func (r *run) updateResource(res, prev *resource, ph *phase) bool {
	if !r.begin(res, ph, "update", "Resource update cancelled") {
		return false
	}
	attrs, err := handlerFor(res.Type).update(r.rctx(res), prev)
	if err != nil {
		r.resStatus(res, "UPDATE_FAILED", handlerMessage(err))
		return false
	}
	r.rg.mu.Lock()
	if attrs != nil {
		res.Attrs = attrs
	}
	res.Actual, res.Gone = nil, false
	r.rg.mu.Unlock()
	r.resStatus(res, "UPDATE_COMPLETE", "")
	return true
}

// deleteResource deletes one resource (or skips it when retained).
func (r *run) deleteResource(res *resource, ph *phase, retain bool) bool {
	if res.DeletionPolicy == "Retain" || retain {
		r.resStatus(res, "DELETE_SKIPPED", "")
		return true
	}
	r.resStatus(res, "DELETE_IN_PROGRESS", "")
	if res.Physical == "" {
		r.resStatus(res, "DELETE_COMPLETE", "")
		return true
	}
	r.wait(res.Type, newPhase())
	if msg, ok := r.failure(res.Logical, res.Type, "delete"); ok {
		r.resStatus(res, "DELETE_FAILED", msg)
		return false
	}
	if !res.Gone {
		if err := handlerFor(res.Type).delete(r.rctx(res)); err != nil {
			r.resStatus(res, "DELETE_FAILED", handlerMessage(err))
			return false
		}
	}
	r.resStatus(res, "DELETE_COMPLETE", "")
	return true
}

// deleteAll deletes the given resources, dependants first, in parallel.
// It returns the names that failed.
func (r *run) deleteAll(set map[string]*resource, retain map[string]bool) []string {
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	// reverse deps: n can go once everything depending on n is gone
	deps := map[string][]string{}
	inSet := map[string]bool{}
	for _, n := range names {
		inSet[n] = true
	}
	if r.tmpl != nil {
		for _, n := range names {
			if _, ok := r.tmpl.Resources[n]; !ok {
				continue
			}
			for _, d := range r.tmpl.Deps(n, inSet) {
				deps[d] = append(deps[d], n)
			}
		}
	}
	var mu sync.Mutex
	var failed []string
	ph := newPhase()
	// deletion continues past failures (CloudFormation deletes what it can)
	remaining := map[string]int{}
	dependants := map[string][]string{}
	for n, ds := range deps {
		for _, d := range ds {
			remaining[n]++
			dependants[d] = append(dependants[d], n)
		}
	}
	done := make(chan string, len(names))
	started := 0
	var ready []string
	for _, n := range names {
		if remaining[n] == 0 {
			ready = append(ready, n)
		}
	}
	for {
		for _, n := range ready {
			started++
			go func(n string) {
				if !r.deleteResource(set[n], ph, retain[n]) {
					mu.Lock()
					failed = append(failed, n)
					mu.Unlock()
				}
				done <- n
			}(n)
		}
		ready = ready[:0]
		if started == 0 {
			break
		}
		n := <-done
		started--
		mu.Lock()
		bad := contains(failed, n)
		mu.Unlock()
		if bad {
			continue // what n depends on stays (it is still in use)
		}
		for _, d := range dependants[n] {
			remaining[d]--
			if remaining[d] == 0 {
				ready = append(ready, d)
			}
		}
	}
	sort.Strings(failed)
	return failed
}

// ---- outputs and exports ----

// outputs evaluates the outputs of r.tmpl.
func (r *run) outputs() ([]output, error) {
	var outs []output
	for _, name := range r.tmpl.OutputOrder {
		o := r.tmpl.Outputs[name]
		if ok, _ := r.ev.Condition(o.Condition); !ok {
			continue
		}
		v, err := r.ev.Eval(o.Value)
		if err != nil {
			return nil, err
		}
		if v == cfntemplate.NoValue {
			continue
		}
		out := output{Key: name, Value: flatten(v)}
		if o.Description != nil {
			d, err := r.ev.Eval(o.Description)
			if err != nil {
				return nil, err
			}
			out.Description = flatten(d)
		}
		if o.Export != nil {
			e, err := r.ev.Eval(o.Export)
			if err != nil {
				return nil, err
			}
			out.ExportName = flatten(e)
		}
		outs = append(outs, out)
	}
	return outs, nil
}

func flatten(v any) string {
	switch x := v.(type) {
	case []any:
		parts := make([]string, len(x))
		for i, y := range x {
			parts[i] = flatten(y)
		}
		return strings.Join(parts, ",")
	case map[string]any:
		return cfntemplate.JSON(x)
	}
	s, _ := cfntemplate.Scalar(v)
	return s
}

// checkExports verifies the new outputs against the region's exports
// (rg.mu held): names unique, in-use exports unchanged.
func (r *run) checkExportsLocked(outs []output) string {
	newExports := map[string]string{}
	for _, o := range outs {
		if o.ExportName == "" {
			continue
		}
		newExports[o.ExportName] = o.Value
		if e := r.rg.Exports[o.ExportName]; e != nil && e.StackID != r.st.ID {
			owner := e.StackID
			if st := r.rg.Stacks[e.StackID]; st != nil {
				owner = st.Name
			}
			return fmt.Sprintf("Export with name %s is already exported by stack %s", o.ExportName, owner)
		}
	}
	for _, o := range r.st.Outputs {
		if o.ExportName == "" {
			continue
		}
		if v, ok := newExports[o.ExportName]; ok && v == o.Value {
			continue
		}
		if users := r.importersLocked(o.ExportName); len(users) > 0 {
			return fmt.Sprintf("Export %s cannot be updated as it is in use by %s", o.ExportName, strings.Join(users, ", "))
		}
	}
	return ""
}

func (r *run) importersLocked(exportName string) []string {
	return importers(r.rg, exportName, r.st.ID)
}

func importers(rg *region, exportName, exceptID string) []string {
	var out []string
	for _, st := range rg.liveStacks() {
		if st.ID == exceptID {
			continue
		}
		for _, im := range st.Imports {
			if im == exportName {
				out = append(out, st.Name)
				break
			}
		}
	}
	sort.Strings(out)
	return out
}

// commitExportsLocked replaces the stack's exports with those of outs.
func (r *run) commitExportsLocked(outs []output) {
	for _, o := range r.st.Outputs {
		if o.ExportName != "" {
			if e := r.rg.Exports[o.ExportName]; e != nil && e.StackID == r.st.ID {
				delete(r.rg.Exports, o.ExportName)
			}
		}
	}
	for _, o := range outs {
		if o.ExportName != "" {
			r.rg.Exports[o.ExportName] = &export{StackID: r.st.ID, Name: o.ExportName, Value: o.Value}
		}
	}
	r.st.Outputs = outs
}

// ---- operations ----

func (s *Service) finish(rg *region, st *stack) {
	rg.mu.Lock()
	st.busy = false
	done := st.done
	st.done = nil
	st.cancel = nil
	next := st.deleteAfter
	st.deleteAfter = nil
	rg.mu.Unlock()
	if done != nil {
		close(done)
	}
	if next != nil {
		rg.mu.Lock()
		if st.Status == "DELETE_COMPLETE" {
			rg.mu.Unlock()
			return
		}
		s.startDeleteLocked(rg, st, next)
		rg.mu.Unlock()
	}
}

// stackWait waits the stack's backend time (the latency model's
// StackTime) on the sandbox clock, or until the operation is cancelled.
func (s *Service) stackWait(stack string, cancel <-chan struct{}) {
	if s.p == nil || s.p.Faults == nil {
		return
	}
	d := s.p.Faults.StackLatency(stack)
	if d <= 0 {
		return
	}
	var ch <-chan timeT
	if s.p.Clock != nil {
		ch = s.p.Clock.After(d)
	} else {
		ch = afterReal(d)
	}
	select {
	case <-ch:
	case <-cancel:
	}
}

// startLocked marks the stack busy and runs f in a goroutine (rg.mu held).
func (s *Service) startLocked(rg *region, st *stack, f func(cancel <-chan struct{})) {
	st.busy = true
	st.done = make(chan struct{})
	cancel := make(chan struct{})
	st.cancel = cancel
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer s.finish(rg, st)
		defer func() {
			if v := recover(); v != nil {
				slog.Error("cloudformation operation panicked", "stack", st.ID, "panic", v, "stack_trace", string(debug.Stack()))
				rg.mu.Lock()
				st.Status = strings.Replace(strings.Replace(st.Status, "_IN_PROGRESS", "_FAILED", 1), "_CLEANUP_FAILED", "_FAILED", 1)
				st.Reason = "Internal failure of the sandbox (see its log)"
				rg.mu.Unlock()
			}
		}()
		s.stackWait(st.Name, cancel)
		f(cancel)
	}()
}

type createOpts struct {
	onFailure string // ROLLBACK, DO_NOTHING, DELETE
	token     string
}

func (s *Service) runCreate(rg *region, st *stack, params map[string]string, o createOpts, cancel <-chan struct{}) {
	r := s.newRun(rg, st, st.Tmpl, params, st.Resources, o.token)
	r.op = "create"
	dr := r.deploy(nil, "", cancel)
	reason := ""
	if len(dr.failed) == 0 {
		select {
		case <-cancel:
			reason = "Stack creation cancelled"
		default:
		}
	}
	if len(dr.failed) == 0 && reason == "" {
		outs, err := r.outputs()
		if err != nil {
			reason = err.Error()
		} else {
			rg.mu.Lock()
			if why := r.checkExportsLocked(outs); why != "" {
				reason = why
			} else {
				r.commitExportsLocked(outs)
				st.Imports = sortedStrings(r.imports)
			}
			rg.mu.Unlock()
		}
		if reason == "" {
			r.stackStatus("CREATE_COMPLETE", "")
			return
		}
	} else if len(dr.failed) > 0 {
		reason = fmt.Sprintf("The following resource(s) failed to create: [%s]. ", strings.Join(failedList(dr), ", "))
	}
	switch o.onFailure {
	case "DO_NOTHING":
		r.stackStatus("CREATE_FAILED", reason)
	case "DELETE":
		r.stackStatus("DELETE_IN_PROGRESS", reason+". Delete requested by user.")
		if failed := r.deleteAll(r.snapshotRes(), nil); len(failed) > 0 {
			r.stackStatus("DELETE_FAILED", fmt.Sprintf("The following resource(s) failed to delete: [%s]. ", strings.Join(failed, ", ")))
			return
		}
		s.markDeleted(r)
	default:
		r.stackStatus("ROLLBACK_IN_PROGRESS", reason+". Rollback requested by user.")
		if failed := r.deleteAll(r.snapshotRes(), nil); len(failed) > 0 {
			r.stackStatus("ROLLBACK_FAILED", fmt.Sprintf("The following resource(s) failed to delete: [%s]. ", strings.Join(failed, ", ")))
			return
		}
		rg.mu.Lock()
		st.Outputs = nil
		rg.mu.Unlock()
		r.stackStatus("ROLLBACK_COMPLETE", "")
	}
}

func failedList(dr *deployResult) []string {
	set := map[string]bool{}
	for _, f := range dr.failed {
		set[f] = true
	}
	for f := range dr.created {
		set[f] = true
	}
	return sortedStrings(set)
}

func (r *run) snapshotRes() map[string]*resource {
	r.rg.mu.Lock()
	defer r.rg.mu.Unlock()
	out := make(map[string]*resource, len(r.res))
	for k, v := range r.res {
		if v.Status != "DELETE_COMPLETE" {
			out[k] = v
		}
	}
	return out
}

func (s *Service) markDeleted(r *run) {
	rg, st := r.rg, r.st
	rg.mu.Lock()
	for _, o := range st.Outputs {
		if e := rg.Exports[o.ExportName]; o.ExportName != "" && e != nil && e.StackID == st.ID {
			delete(rg.Exports, o.ExportName)
		}
	}
	st.Deleted = s.now()
	st.Imports = nil
	if rg.byName[st.Name] == st {
		delete(rg.byName, st.Name)
	}
	for id, cs := range rg.ChangeSets {
		if cs.StackID == st.ID {
			delete(rg.ChangeSets, id)
		}
	}
	st.Resources = map[string]*resource{}
	r.res = st.Resources
	st.Status, st.Reason = "DELETE_COMPLETE", ""
	r.eventLocked(st.Name, st.ID, "AWS::CloudFormation::Stack", "DELETE_COMPLETE", "")
	rg.mu.Unlock()
}

// startDeleteLocked begins a stack deletion (rg.mu held).
func (s *Service) startDeleteLocked(rg *region, st *stack, d *deleteReq) {
	st.Status, st.Reason = "DELETE_IN_PROGRESS", "User Initiated"
	r := s.newRun(rg, st, st.Tmpl, st.Params, st.Resources, d.token)
	r.op = "delete"
	r.eventLocked(st.Name, st.ID, "AWS::CloudFormation::Stack", "DELETE_IN_PROGRESS", "User Initiated")
	retain := map[string]bool{}
	for _, x := range d.retain {
		retain[x] = true
	}
	s.startLocked(rg, st, func(cancel <-chan struct{}) {
		rg.mu.Lock()
		for _, o := range st.Outputs {
			if o.ExportName == "" {
				continue
			}
			if users := importers(rg, o.ExportName, st.ID); len(users) > 0 {
				rg.mu.Unlock()
				r.stackStatus("DELETE_FAILED", fmt.Sprintf("Export %s cannot be deleted as it is in use by %s", o.ExportName, strings.Join(users, ", ")))
				return
			}
		}
		rg.mu.Unlock()
		if failed := r.deleteAll(r.snapshotRes(), retain); len(failed) > 0 {
			r.stackStatus("DELETE_FAILED", fmt.Sprintf("The following resource(s) failed to delete: [%s]. ", strings.Join(failed, ", ")))
			return
		}
		s.markDeleted(r)
	})
}

// updateRun is the state an update rollback needs.
type updateRun struct {
	r       *run
	prev    *stackState
	journal []journalEntry
	cleanup []*resource // physical resources to delete after rollback
	skip    map[string]bool
}

type updateOpts struct {
	token       string
	policy      string // the stack policy in force for this update
	disableRB   bool
	fromChanges bool
}

func (s *Service) runUpdate(rg *region, st *stack, prev *stackState, params map[string]string, o updateOpts, cancel <-chan struct{}) {
	rg.mu.Lock()
	work := make(map[string]*resource, len(prev.Resources))
	for k, v := range prev.Resources {
		work[k] = v
	}
	st.Resources = work
	rg.mu.Unlock()
	r := s.newRun(rg, st, st.Tmpl, params, work, o.token)
	r.op = "update"
	dr := r.deploy(prev.Resources, o.policy, cancel)
	reason := ""
	cancelled := false
	if len(dr.failed) == 0 {
		select {
		case <-cancel:
			cancelled = true
			reason = "Stack update cancelled"
		default:
		}
	}
	var outs []output
	if len(dr.failed) == 0 && !cancelled {
		var err error
		outs, err = r.outputs()
		if err != nil {
			reason = err.Error()
		} else {
			rg.mu.Lock()
			reason = r.checkExportsLocked(outs)
			rg.mu.Unlock()
		}
	} else if len(dr.failed) > 0 {
		verb := "update"
		allCreated := true
		for _, f := range dr.failed {
			if !dr.created[f] {
				allCreated = false
			}
		}
		if allCreated {
			verb = "create"
		}
		reason = fmt.Sprintf("The following resource(s) failed to %s: [%s]. ", verb, strings.Join(dr.failed, ", "))
	}
	if reason == "" {
		rg.mu.Lock()
		r.commitExportsLocked(outs)
		st.Imports = sortedStrings(r.imports)
		rg.mu.Unlock()
		r.stackStatus("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "")
		// delete removed resources and the old physical resources of replacements
		set := map[string]*resource{}
		for _, n := range dr.removed {
			set[n] = prev.Resources[n]
		}
		oldTmpl := r.tmpl
		r.tmpl = prev.Tmpl
		r.deleteAll(set, nil)
		r.tmpl = oldTmpl
		for _, j := range dr.journal {
			if j.kind == "replaced" {
				r.deleteResource(j.old, newPhase(), j.old.DeletionPolicy == "Retain" || j.old.DeletionPolicy == "Snapshot" && false)
			}
		}
		rg.mu.Lock()
		for _, n := range dr.removed {
			if work[n] == prev.Resources[n] {
				delete(work, n)
			}
		}
		for n, res := range work {
			if res.Status == "DELETE_COMPLETE" || res.Status == "DELETE_SKIPPED" {
				delete(work, n)
			}
		}
		rg.mu.Unlock()
		r.stackStatus("UPDATE_COMPLETE", "")
		return
	}
	if o.disableRB {
		r.stackStatus("UPDATE_FAILED", reason)
		return
	}
	r.stackStatus("UPDATE_ROLLBACK_IN_PROGRESS", reason)
	ur := &updateRun{r: r, prev: prev, journal: dr.journal, skip: map[string]bool{}}
	s.rollbackUpdate(ur)
}

// rollbackUpdate undoes an update's journal, newest first.
func (s *Service) rollbackUpdate(ur *updateRun) {
	r := ur.r
	rg, st := r.rg, r.st
	r.tmpl = ur.prev.Tmpl
	r.ev.T = ur.prev.Tmpl
	r.ev.Params = ur.prev.Params
	_ = r.ev.EvalConditions()
	var failed []string
	for i := len(ur.journal) - 1; i >= 0; i-- {
		j := ur.journal[i]
		if ur.skip[j.name] {
			ur.journal = ur.journal[:i]
			continue
		}
		ok := true
		switch j.kind {
		case "created":
			ok = r.deleteResource(j.new, newPhase(), false)
			if ok {
				rg.mu.Lock()
				if st.Resources[j.name] == j.new {
					delete(st.Resources, j.name)
				}
				rg.mu.Unlock()
			}
		case "updated":
			res := j.old.clone()
			rg.mu.Lock()
			st.Resources[j.name] = res
			rg.mu.Unlock()
			r.resStatus(res, "UPDATE_IN_PROGRESS", "")
			ok = r.updateResource(res, j.new, newPhase())
		case "replaced", "replace-failed":
			res := j.old.clone()
			rg.mu.Lock()
			st.Resources[j.name] = res
			rg.mu.Unlock()
			r.resStatus(res, "UPDATE_COMPLETE", "")
			if j.kind == "replaced" {
				ur.cleanup = append(ur.cleanup, j.new)
			}
		}
		if !ok {
			failed = append(failed, j.name)
			ur.journal = ur.journal[:i+1]
			break
		}
		ur.journal = ur.journal[:i]
	}
	if len(failed) == 0 {
		// resources whose creation failed during the update go away too
		rg.mu.Lock()
		var extra []*resource
		for n, res := range st.Resources {
			if _, ok := ur.prev.Resources[n]; !ok && !ur.skip[n] {
				extra = append(extra, res)
			}
		}
		rg.mu.Unlock()
		sort.Slice(extra, func(i, j int) bool { return extra[i].Logical < extra[j].Logical })
		for _, res := range extra {
			if r.deleteResource(res, newPhase(), false) {
				rg.mu.Lock()
				if st.Resources[res.Logical] == res {
					delete(st.Resources, res.Logical)
				}
				rg.mu.Unlock()
			} else {
				failed = append(failed, res.Logical)
			}
		}
	}
	if len(failed) > 0 {
		rg.mu.Lock()
		st.rollback = ur
		rg.mu.Unlock()
		r.stackStatus("UPDATE_ROLLBACK_FAILED", fmt.Sprintf("The following resource(s) failed to update: [%s]. ", strings.Join(failed, ", ")))
		return
	}
	// restore the previous template, parameters, outputs and settings
	rg.mu.Lock()
	st.Tmpl, st.Body, st.Params = ur.prev.Tmpl, ur.prev.Body, ur.prev.Params
	st.Tags, st.Caps, st.Notif, st.RoleARN = ur.prev.Tags, ur.prev.Caps, ur.prev.Notif, ur.prev.RoleARN
	st.Outputs = ur.prev.Outputs
	st.Imports = ur.prev.Imports
	st.rollback = nil
	rg.mu.Unlock()
	r.stackStatus("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", "")
	for _, res := range ur.cleanup {
		r.deleteResource(res, newPhase(), false)
	}
	r.stackStatus("UPDATE_ROLLBACK_COMPLETE", "")
}
