package cloudformation

import (
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/stacker-go/stacker/internal/sandbox/cloudformation/cfntemplate"
)

var changeSetNameRE = regexp.MustCompile(`^[a-zA-Z][-a-zA-Z0-9]*$`)

const (
	emptyChangeSetReason = "The submitted information didn't contain changes. Submit different information to create a change set."
	noUpdatesReason      = "No updates are to be performed."
)

type diffResult struct {
	changes []change
	same    bool // nothing at all changed (UpdateStack: "No updates are to be performed.")
	// onlyNonResource: something changed (parameters, tags...) but no resource would
	otherChanged bool
}

// diff compares a submission with the stack's current deployment.
func (s *Service) diff(rg *region, st *stack, sub *submission) diffResult {
	rg.mu.Lock()
	view := make(map[string]*resource, len(st.Resources))
	for k, v := range st.Resources {
		if v.Physical != "" && v.Status != "DELETE_COMPLETE" {
			view[k] = v
		}
	}
	current := make(map[string]*resource, len(view))
	for k, v := range view {
		current[k] = v
	}
	oldTmpl, oldParams, oldOutputs := st.Tmpl, st.Params, st.Outputs
	oldTags, oldNotif, oldRole := st.Tags, st.Notif, st.RoleARN
	rg.mu.Unlock()

	t := sub.tmpl
	fake := &stack{ID: st.ID, Name: st.Name, Notif: sub.notif}
	r := &run{s: s, rg: rg, st: fake, tmpl: t, res: view, imports: map[string]bool{}}
	r.ev = &cfntemplate.Evaluator{T: t, Params: sub.params,
		Pseudo: cfntemplate.Pseudo{AccountID: rg.Account, Region: rg.Region, StackName: st.Name, StackID: st.ID, NotificationARNs: sub.notif},
		R:      &rtResolver{r: r, dry: true}}
	_ = r.ev.EvalConditions()
	active := r.activeSet()
	order, _ := t.Order(active)
	var changes []change
	for _, name := range order {
		tr := t.Resources[name]
		old := current[name]
		if old != nil && old.Type != tr.Type {
			old = nil
		}
		pv, _ := r.ev.Eval(tr.Properties)
		props, _ := pv.(map[string]any)
		if old == nil {
			delete(view, name)
			changes = append(changes, change{Action: "Add", Logical: name, Type: tr.Type})
			continue
		}
		changed := changedProps(old.Props, props)
		metaChanged := !jsonEqual(old.Metadata, tr.Metadata)
		if len(changed) == 0 && !metaChanged && !old.Gone {
			continue
		}
		c := change{Action: "Modify", Logical: name, Physical: old.Physical, Type: tr.Type}
		scope := map[string]bool{}
		replacement := "False"
		for _, p := range changed {
			rr := recreation(tr.Type, p)
			dynamic := cfntemplate.HasUnknown(props[p])
			if dynamic && rr == "Never" {
				rr = "Never"
			}
			attr := "Properties"
			if p == "Tags" {
				attr = "Tags"
			}
			scope[attr] = true
			d := detail{Attribute: attr, Name: p, RequiresRecreation: rr, Evaluation: "Static"}
			if attr == "Tags" {
				d.Name = ""
			}
			if dynamic {
				d.Evaluation = "Dynamic"
			}
			var oldRaw any
			if oldTmpl != nil {
				if otr := oldTmpl.Resources[name]; otr != nil {
					oldRaw = otr.Properties[p]
				}
			}
			if oldTmpl != nil && jsonEqual(oldRaw, tr.Properties[p]) {
				refs, gas := map[string]bool{}, map[string]bool{}
				cfntemplate.Refs(tr.Properties[p], refs, gas, nil)
				for _, ref := range sortedStrings(refs) {
					if _, isParam := t.Parameters[ref]; isParam && oldParams[ref] != sub.params[ref] {
						d.ChangeSource, d.CausingEntity = "ParameterReference", ref
						break
					}
					if _, isRes := t.Resources[ref]; isRes && d.ChangeSource == "" {
						d.ChangeSource, d.CausingEntity = "ResourceReference", ref
					}
				}
				for _, ga := range sortedStrings(gas) {
					if d.ChangeSource == "" {
						d.ChangeSource, d.CausingEntity = "ResourceAttribute", ga
					}
				}
			}
			if d.ChangeSource == "" {
				d.ChangeSource = "DirectModification"
			}
			c.Details = append(c.Details, d)
			switch {
			case rr == "Always":
				replacement = "True"
			case rr == "Conditionally" && replacement != "True":
				replacement = "Conditional"
			case dynamic && replacement == "False" && recreation(tr.Type, p) != "Never":
				replacement = "Conditional"
			}
		}
		if metaChanged {
			scope["Metadata"] = true
			c.Details = append(c.Details, detail{Attribute: "Metadata", Evaluation: "Static", ChangeSource: "DirectModification", RequiresRecreation: "Never"})
		}
		c.Replacement = replacement
		c.Scope = sortedStrings(scope)
		if replacement == "True" {
			delete(view, name)
		}
		changes = append(changes, c)
	}
	for _, name := range slices.Sorted(maps.Keys(current)) {
		if active[name] && t.Resources[name].Type == current[name].Type {
			continue
		}
		old := current[name]
		changes = append(changes, change{Action: "Remove", Logical: name, Physical: old.Physical, Type: old.Type})
		if active[name] { // type changed: remove old, add new already listed
			continue
		}
	}
	sort.SliceStable(changes, func(i, j int) bool { return changes[i].Logical < changes[j].Logical })
	res := diffResult{changes: changes}
	if len(changes) > 0 {
		return res
	}
	other := false
	outs, err := r.outputs()
	if err != nil || !slices.Equal(outs, oldOutputs) {
		other = true
	}
	if oldTmpl == nil || t.Description != oldTmpl.Description {
		other = true
	}
	for k, v := range sub.params {
		if oldParams[k] != v {
			other = true
		}
	}
	if len(sub.params) != len(oldParams) {
		other = true
	}
	if !slices.Equal(sub.tags, oldTags) || strings.Join(sub.notif, ",") != strings.Join(oldNotif, ",") || sub.role != oldRole {
		other = true
	}
	res.otherChanged = other
	res.same = !other
	return res
}

// ---- API ----

func (r *req) findChangeSet(nameOrARN, stackID string) (*changeSet, error) {
	r.rg.mu.RLock()
	defer r.rg.mu.RUnlock()
	if strings.HasPrefix(nameOrARN, "arn:") {
		if cs := r.rg.ChangeSets[nameOrARN]; cs != nil {
			return cs, nil
		}
		return nil, apiErr(404, "ChangeSetNotFound", "ChangeSet [%s] does not exist", nameOrARN)
	}
	for _, cs := range r.rg.ChangeSets {
		if cs.Name == nameOrARN && cs.StackID == stackID {
			return cs, nil
		}
	}
	return nil, apiErr(404, "ChangeSetNotFound", "ChangeSet [%s] does not exist", nameOrARN)
}

// changeSetFromRequest finds the change set named by ChangeSetName and
// StackName.
func (r *req) changeSetFromRequest(action string) (*changeSet, error) {
	name := r.get("ChangeSetName")
	if name == "" {
		return nil, validation("1 validation error detected: Value null at 'changeSetName' failed to satisfy constraint: Member must not be null")
	}
	stackID := ""
	if !strings.HasPrefix(name, "arn:") {
		sn := r.get("StackName")
		if sn == "" {
			return nil, validation("StackName must be specified if ChangeSetName is not specified as an ARN.")
		}
		r.rg.mu.RLock()
		st := r.rg.lookup(sn)
		r.rg.mu.RUnlock()
		if st == nil {
			return nil, apiErr(404, "ChangeSetNotFound", "ChangeSet [%s] does not exist", name)
		}
		stackID = st.ID
	}
	cs, err := r.findChangeSet(name, stackID)
	if err != nil {
		return nil, err
	}
	if err := r.authorize(action, cs.StackID); err != nil {
		return nil, err
	}
	return cs, nil
}

func (r *req) createChangeSet(w http.ResponseWriter) error {
	sn, name := r.get("StackName"), r.get("ChangeSetName")
	if err := r.validName(sn, "stackName"); err != nil {
		return err
	}
	if name == "" || len(name) > 128 || !changeSetNameRE.MatchString(name) {
		return validation("1 validation error detected: Value '%s' at 'changeSetName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*", name)
	}
	typ := r.get("ChangeSetType")
	if typ == "" {
		typ = "UPDATE"
	}
	if typ != "CREATE" && typ != "UPDATE" {
		return validation("ChangeSetType %s is not supported by the sandbox", typ)
	}
	if err := r.authorize("CreateChangeSet", r.stackARN(sn)); err != nil {
		return err
	}
	rg := r.rg
	st := r.liveStack(sn)
	var id string
	switch typ {
	case "CREATE":
		if st != nil {
			rg.mu.Lock()
			status := st.Status
			rg.mu.Unlock()
			if status != "REVIEW_IN_PROGRESS" {
				return validation("Stack [%s] already exists and cannot be created again with the changeSet [%s].", sn, name)
			}
			id = st.ID
		} else {
			rg.mu.Lock()
			id = fmt.Sprintf("arn:aws:cloudformation:%s:%s:stack/%s/%s", rg.Region, rg.Account, sn, rg.id("stack", sn))
			rg.mu.Unlock()
		}
	case "UPDATE":
		if st == nil {
			return validation("Stack [%s] does not exist", sn)
		}
		rg.mu.Lock()
		busy, status := st.busy, st.Status
		rg.mu.Unlock()
		if busy || !updatable[status] {
			return notUpdatable(st)
		}
		id = st.ID
	}
	var prev *stack
	if typ == "UPDATE" {
		prev = st
	}
	sub, err := r.prepare(prev, sn, id)
	if err != nil {
		return err
	}
	rg.mu.Lock()
	defer rg.mu.Unlock()
	if typ == "CREATE" {
		cur := rg.byName[sn]
		if cur != nil && cur.Status != "REVIEW_IN_PROGRESS" {
			return validation("Stack [%s] already exists and cannot be created again with the changeSet [%s].", sn, name)
		}
		if cur == nil {
			st = &stack{ID: id, Name: sn, Created: r.s.now(), Status: "REVIEW_IN_PROGRESS", Reason: "User Initiated",
				Resources: map[string]*resource{}, Params: map[string]string{}, DriftStatus: "NOT_CHECKED"}
			rg.Stacks[id] = st
			rg.byName[sn] = st
			rg.Order = append(rg.Order, id)
			tmp := &run{s: r.s, rg: rg, st: st}
			tmp.eventLocked(sn, id, "AWS::CloudFormation::Stack", "REVIEW_IN_PROGRESS", "User Initiated")
		} else {
			st = cur
		}
	}
	for _, cs := range rg.ChangeSets {
		if cs.StackID == st.ID && cs.Name == name {
			return apiErr(400, "AlreadyExistsException", "ChangeSet [%s] already exists", name)
		}
	}
	csID := fmt.Sprintf("arn:aws:cloudformation:%s:%s:changeSet/%s/%s", rg.Region, rg.Account, name, rg.id("changeset", name))
	cs := &changeSet{
		ID: csID, Name: name, StackID: st.ID, StackName: st.Name, Type: typ, Status: "CREATE_PENDING",
		ExecStatus: "UNAVAILABLE", Created: r.s.now(), Description: r.get("Description"), Body: sub.body, Tmpl: sub.tmpl,
		Params: sub.params, Tags: sub.tags, TagsGiven: sub.tagsGiven, Caps: sub.caps, Notif: sub.notif, RoleARN: sub.role,
		Imports: sub.imports,
	}
	rg.ChangeSets[csID] = cs
	s := r.s
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		rg.mu.Lock()
		cs.Status = "CREATE_IN_PROGRESS"
		rg.mu.Unlock()
		var changes []change
		status, exec, reason := "CREATE_COMPLETE", "AVAILABLE", ""
		if typ == "CREATE" {
			fake := &stack{ID: st.ID, Name: st.Name, Notif: sub.notif}
			rr := &run{s: s, rg: rg, st: fake, tmpl: sub.tmpl, res: map[string]*resource{}, imports: map[string]bool{}}
			rr.ev = &cfntemplate.Evaluator{T: sub.tmpl, Params: sub.params,
				Pseudo: cfntemplate.Pseudo{AccountID: rg.Account, Region: rg.Region, StackName: st.Name, StackID: st.ID}}
			_ = rr.ev.EvalConditions()
			active := rr.activeSet()
			for _, n := range sub.tmpl.ResourceOrder {
				if active[n] {
					changes = append(changes, change{Action: "Add", Logical: n, Type: sub.tmpl.Resources[n].Type})
				}
			}
		} else {
			d := s.diff(rg, st, sub)
			changes = d.changes
			if d.same {
				status, exec, reason = "FAILED", "UNAVAILABLE", emptyChangeSetReason
			} else if len(changes) == 0 && !d.otherChanged {
				status, exec, reason = "FAILED", "UNAVAILABLE", noUpdatesReason
			}
		}
		rg.mu.Lock()
		if rg.ChangeSets[csID] == cs {
			cs.Changes, cs.Status, cs.ExecStatus, cs.Reason = changes, status, exec, reason
		}
		rg.mu.Unlock()
	}()
	return r.s.write(w, r.c, func(x *xw) {
		x.elem("Id", csID)
		x.elem("StackId", st.ID)
	})
}

func (r *req) describeChangeSet(w http.ResponseWriter) error {
	cs, err := r.changeSetFromRequest("DescribeChangeSet")
	if err != nil {
		return err
	}
	r.rg.mu.RLock()
	defer r.rg.mu.RUnlock()
	return r.s.write(w, r.c, func(x *xw) {
		x.elem("ChangeSetName", cs.Name)
		x.elem("ChangeSetId", cs.ID)
		x.elem("StackId", cs.StackID)
		x.elem("StackName", cs.StackName)
		x.opt("Description", cs.Description)
		writeParams(x, cs.Tmpl, cs.Params)
		x.time("CreationTime", cs.Created)
		x.elem("ExecutionStatus", cs.ExecStatus)
		x.elem("Status", cs.Status)
		x.opt("StatusReason", cs.Reason)
		x.strList("NotificationARNs", cs.Notif)
		x.b.WriteString("<RollbackConfiguration/>")
		x.strList("Capabilities", cs.Caps)
		writeTags(x, cs.Tags)
		x.open("Changes")
		for _, c := range cs.Changes {
			x.open("member")
			x.elem("Type", "Resource")
			x.open("ResourceChange")
			x.elem("Action", c.Action)
			x.elem("LogicalResourceId", c.Logical)
			x.opt("PhysicalResourceId", c.Physical)
			x.elem("ResourceType", c.Type)
			x.opt("Replacement", c.Replacement)
			if c.Action == "Modify" {
				x.strList("Scope", c.Scope)
				x.open("Details")
				for _, d := range c.Details {
					x.open("member")
					x.open("Target")
					x.elem("Attribute", d.Attribute)
					x.opt("Name", d.Name)
					x.opt("RequiresRecreation", d.RequiresRecreation)
					x.close("Target")
					x.elem("Evaluation", d.Evaluation)
					x.opt("ChangeSource", d.ChangeSource)
					x.opt("CausingEntity", d.CausingEntity)
					x.close("member")
				}
				x.close("Details")
			} else {
				x.strList("Scope", nil)
				x.strList("Details", nil)
			}
			x.close("ResourceChange")
			x.close("member")
		}
		x.close("Changes")
		x.boolean("IncludeNestedStacks", false)
	})
}

func (r *req) executeChangeSet(w http.ResponseWriter) error {
	cs, err := r.changeSetFromRequest("ExecuteChangeSet")
	if err != nil {
		return err
	}
	// The execution acts as the change set's service role (checked for
	// iam:PassRole when the change set was created) or the caller.
	actor, err := r.serviceRole(cs.RoleARN, false)
	if err != nil {
		return err
	}
	token, err := r.requestToken()
	if err != nil {
		return err
	}
	rg := r.rg
	rg.mu.Lock()
	defer rg.mu.Unlock()
	if token != "" && cs.ExecToken == token { // a retry of this execution
		return r.s.write(w, r.c, func(x *xw) {})
	}
	if cs.Status != "CREATE_COMPLETE" || cs.ExecStatus != "AVAILABLE" {
		return apiErr(400, "InvalidChangeSetStatus", "ChangeSet [%s] cannot be executed in its current execution status of [%s]", cs.ID, cs.ExecStatus)
	}
	st := rg.Stacks[cs.StackID]
	if st == nil || st.Status == "DELETE_COMPLETE" {
		return validation("Stack [%s] does not exist", cs.StackName)
	}
	if st.busy || (cs.Type == "UPDATE" && !updatable[st.Status]) || (cs.Type == "CREATE" && st.Status != "REVIEW_IN_PROGRESS") {
		return apiErr(400, "InvalidChangeSetStatus", "ChangeSet [%s] cannot be executed in its current status of [%s]", cs.ID, cs.Status)
	}
	for id, other := range rg.ChangeSets {
		if other.StackID == cs.StackID && id != cs.ID {
			delete(rg.ChangeSets, id)
		}
	}
	cs.ExecStatus = "EXECUTE_IN_PROGRESS"
	st.ChangeSetID = cs.ID
	cs.ExecToken = token
	st.remember(token, "ExecuteChangeSet")
	sub := &submission{tmpl: cs.Tmpl, body: cs.Body, params: cs.Params, tags: cs.Tags, tagsGiven: cs.TagsGiven, caps: cs.Caps, notif: cs.Notif, role: cs.RoleARN, actor: actor}
	s := r.s
	setExec := func() {
		rg.mu.Lock()
		if strings.HasSuffix(st.Status, "_COMPLETE") && !strings.Contains(st.Status, "ROLLBACK") {
			cs.ExecStatus = "EXECUTE_COMPLETE"
		} else {
			cs.ExecStatus = "EXECUTE_FAILED"
		}
		rg.mu.Unlock()
	}
	disable := r.boolean("DisableRollback")
	if cs.Type == "CREATE" {
		st.apply(sub)
		st.Created = s.now()
		st.DisableRollback = disable
		s.userInitiatedLocked(rg, st, token, "CREATE_IN_PROGRESS")
		onFailure := "ROLLBACK"
		if disable {
			onFailure = "DO_NOTHING"
		}
		s.startLocked(rg, st, func(cancel <-chan struct{}) {
			s.runCreate(rg, st, sub.params, createOpts{onFailure: onFailure, token: token}, cancel)
			setExec()
		})
	} else {
		o := updateOpts{token: token, policy: st.Policy, disableRB: disable, fromChanges: true}
		s.startUpdateLocked(rg, st, sub, o, "", setExec)
	}
	return r.s.write(w, r.c, func(x *xw) {})
}

func (r *req) deleteChangeSet(w http.ResponseWriter) error {
	cs, err := r.changeSetFromRequest("DeleteChangeSet")
	if err != nil {
		return err
	}
	r.rg.mu.Lock()
	defer r.rg.mu.Unlock()
	if cs.ExecStatus == "EXECUTE_IN_PROGRESS" {
		return apiErr(400, "InvalidChangeSetStatus", "ChangeSet [%s] cannot be deleted in its current status of [%s]", cs.ID, cs.ExecStatus)
	}
	delete(r.rg.ChangeSets, cs.ID)
	return r.s.write(w, r.c, func(x *xw) {})
}

func (r *req) listChangeSets(w http.ResponseWriter) error {
	st, err := r.findStack("ListChangeSets")
	if err != nil {
		return err
	}
	r.rg.mu.RLock()
	defer r.rg.mu.RUnlock()
	var list []*changeSet
	for _, cs := range r.rg.ChangeSets {
		if cs.StackID == st.ID {
			list = append(list, cs)
		}
	}
	sort.Slice(list, func(i, j int) bool {
		if !list[i].Created.Equal(list[j].Created) {
			return list[i].Created.Before(list[j].Created)
		}
		return list[i].ID < list[j].ID
	})
	start, end, next := page(len(list), r.get("NextToken"))
	return r.s.write(w, r.c, func(x *xw) {
		x.open("Summaries")
		for _, cs := range list[start:end] {
			x.open("member")
			x.elem("StackId", cs.StackID)
			x.elem("StackName", cs.StackName)
			x.elem("ChangeSetId", cs.ID)
			x.elem("ChangeSetName", cs.Name)
			x.elem("ExecutionStatus", cs.ExecStatus)
			x.elem("Status", cs.Status)
			x.opt("StatusReason", cs.Reason)
			x.time("CreationTime", cs.Created)
			x.opt("Description", cs.Description)
			x.boolean("IncludeNestedStacks", false)
			x.close("member")
		}
		x.close("Summaries")
		x.opt("NextToken", next)
	})
}
