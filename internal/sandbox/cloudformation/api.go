package cloudformation

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/stacker-go/stacker/internal/sandbox/cloudformation/cfntemplate"
	"github.com/stacker-go/stacker/internal/sandbox/platform"
)

var stackNameRE = regexp.MustCompile(`^[a-zA-Z][-a-zA-Z0-9]*$`)

const pageSize = 100

var updatable = map[string]bool{
	"CREATE_COMPLETE": true, "UPDATE_COMPLETE": true, "UPDATE_ROLLBACK_COMPLETE": true,
	"IMPORT_COMPLETE": true, "IMPORT_ROLLBACK_COMPLETE": true, "UPDATE_FAILED": true,
}

func notUpdatable(st *stack) error {
	return validation("Stack:%s is in %s state and can not be updated.", st.ID, st.Status)
}

// ---- template sources ----

var (
	s3PathHost    = regexp.MustCompile(`^s3([.-](dualstack\.)?[a-z0-9-]+)?\.amazonaws\.com(\.cn)?$`)
	s3VirtualHost = regexp.MustCompile(`^(.+)\.s3([.-](dualstack\.)?[a-z0-9-]+)?\.amazonaws\.com(\.cn)?$`)
)

// parseS3URL splits a TemplateURL into bucket, key and version.
func (s *Service) parseS3URL(raw string) (bucket, key, version string, ok bool) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", "", "", false
	}
	version = u.Query().Get("versionId")
	host := strings.ToLower(u.Host)
	p := strings.TrimPrefix(u.Path, "/")
	pathStyle := func() (string, string, string, bool) {
		b, k, found := strings.Cut(p, "/")
		if !found || b == "" || k == "" {
			return "", "", "", false
		}
		return b, k, version, true
	}
	if m := s3VirtualHost.FindStringSubmatch(host); m != nil && !s3PathHost.MatchString(host) {
		if p == "" {
			return "", "", "", false
		}
		return m[1], p, version, true
	}
	if s3PathHost.MatchString(host) {
		return pathStyle()
	}
	hostOnly := u.Hostname()
	if s.p != nil && s.p.Endpoint != nil {
		if e, err := url.Parse(s.p.Endpoint()); err == nil && strings.EqualFold(e.Host, u.Host) {
			return pathStyle()
		}
	}
	if hostOnly == "127.0.0.1" || hostOnly == "localhost" {
		return pathStyle()
	}
	return "", "", "", false
}

// fetchTemplate reads a TemplateURL from the sandbox's S3 as the caller
// or, when that is denied and the operation has a service role, as the
// role's session (role is the zero Principal without one).
func (r *req) fetchTemplate(raw string, role platform.Principal) (string, error) {
	bucket, key, version, ok := r.s.parseS3URL(raw)
	if !ok {
		return "", validation("TemplateURL must be a supported URL.")
	}
	if r.s.p == nil || r.s.p.S3 == nil {
		return "", validation("TemplateURL must reference a valid S3 object to which you have access.")
	}
	b, err := r.s.p.S3.GetObjectAs(r.c.Principal, bucket, key, version)
	if err != nil && role.RoleARN != "" {
		b, err = r.s.p.S3.GetObjectAs(role, bucket, key, version)
	}
	if err != nil {
		return "", validation("TemplateURL must reference a valid S3 object to which you have access.")
	}
	if len(b) > 1024*1024 {
		return "", validation("Template may not exceed 1048576 bytes in size.")
	}
	return string(b), nil
}

// templateSource returns the template body of a request.
func (r *req) templateSource(prev *stack, role platform.Principal) (string, error) {
	body, hasBody := r.f["TemplateBody"]
	u, hasURL := r.f["TemplateURL"]
	usePrev := r.boolean("UsePreviousTemplate")
	if prev != nil && usePrev {
		if hasBody || hasURL {
			return "", validation("You cannot specify both usePreviousTemplate and Template Body/Template URL.")
		}
		return prev.Body, nil
	}
	if hasBody == hasURL {
		if prev != nil {
			return "", validation("Either Template URL or Template Body must be specified.")
		}
		return "", validation("Exactly one of TemplateBody or TemplateUrl must be specified.")
	}
	if hasBody {
		if len(body[0]) > 51200 {
			return "", validation("1 validation error detected: Value at 'templateBody' failed to satisfy constraint: Member must have length less than or equal to 51200")
		}
		return body[0], nil
	}
	return r.fetchTemplate(u[0], role)
}

// ---- submissions ----

type submission struct {
	tmpl      *cfntemplate.Template
	body      string
	params    map[string]string
	tags      []kv
	tagsGiven bool
	caps      []string
	notif     []string
	role      string
	imports   []string
	// actor is who the operation acts as (the service role's session or
	// the caller).
	actor platform.Principal
}

var iamTypes = map[string]string{
	"AWS::IAM::AccessKey": "", "AWS::IAM::Group": "GroupName", "AWS::IAM::InstanceProfile": "InstanceProfileName",
	"AWS::IAM::Policy": "", "AWS::IAM::Role": "RoleName", "AWS::IAM::User": "UserName",
	"AWS::IAM::UserToGroupAddition": "", "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
}

// requiredCaps returns the capability a template needs ("" for none) and
// the resources that need it.
func requiredCaps(t *cfntemplate.Template) (string, []string) {
	need := ""
	var why []string
	for _, n := range t.ResourceOrder {
		res := t.Resources[n]
		nameProp, ok := iamTypes[res.Type]
		if !ok {
			continue
		}
		why = append(why, n)
		if nameProp != "" && res.Properties[nameProp] != nil {
			need = "CAPABILITY_NAMED_IAM"
		} else if need == "" {
			need = "CAPABILITY_IAM"
		}
	}
	return need, why
}

func checkCaps(t *cfntemplate.Template, caps []string) error {
	has := map[string]bool{}
	for _, c := range caps {
		switch c {
		case "CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND":
			has[c] = true
		default:
			return validation("1 validation error detected: Value '[%s]' at 'capabilities' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [CAPABILITY_AUTO_EXPAND, CAPABILITY_NAMED_IAM, CAPABILITY_IAM]]", c)
		}
	}
	need, _ := requiredCaps(t)
	switch need {
	case "CAPABILITY_NAMED_IAM":
		if !has["CAPABILITY_NAMED_IAM"] {
			return apiErr(400, "InsufficientCapabilitiesException", "Requires capabilities : [CAPABILITY_NAMED_IAM]")
		}
	case "CAPABILITY_IAM":
		if !has["CAPABILITY_IAM"] && !has["CAPABILITY_NAMED_IAM"] {
			return apiErr(400, "InsufficientCapabilitiesException", "Requires capabilities : [CAPABILITY_IAM]")
		}
	}
	for _, tr := range t.Transforms {
		if tr == "AWS::LanguageExtensions" {
			continue
		}
		if !has["CAPABILITY_AUTO_EXPAND"] {
			return apiErr(400, "InsufficientCapabilitiesException", "Requires capabilities : [CAPABILITY_AUTO_EXPAND]")
		}
		return validation("Template format error: Transform %s is not supported by the sandbox", tr)
	}
	return nil
}

func (r *req) paramInputs() []cfntemplate.ParamInput {
	var out []cfntemplate.ParamInput
	for _, m := range r.members("Parameters") {
		v, has := m["ParameterValue"]
		out = append(out, cfntemplate.ParamInput{Key: m["ParameterKey"], Value: v, HasValue: has, UsePrevious: strings.EqualFold(m["UsePreviousValue"], "true")})
	}
	return out
}

func (r *req) tags() ([]kv, bool, error) {
	ms := r.members("Tags")
	given := len(ms) > 0 || r.f.Has("Tags")
	if len(ms) > 50 {
		return nil, true, validation("1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50")
	}
	out := make([]kv, 0, len(ms))
	for _, m := range ms {
		if strings.HasPrefix(strings.ToLower(m["Key"]), "aws:") {
			return nil, true, validation("Invalid tag key: tag keys cannot start with 'aws:' (%s)", m["Key"])
		}
		out = append(out, kv{m["Key"], m["Value"]})
	}
	return out, given, nil
}

// prepare validates a create/update/change-set submission. prev is the
// existing stack for updates.
func (r *req) prepare(prev *stack, name, id string) (*submission, error) {
	role := r.get("RoleARN")
	passed := role != ""
	if role == "" && prev != nil {
		role = prev.RoleARN
	}
	actor, err := r.serviceRole(role, passed)
	if err != nil {
		return nil, err
	}
	var rolePrincipal platform.Principal
	if role != "" {
		rolePrincipal = actor
	}
	body, err := r.templateSource(prev, rolePrincipal)
	if err != nil {
		return nil, err
	}
	t, err := r.s.parse(body)
	if err != nil {
		return nil, asAPI(err)
	}
	var prevParams map[string]string
	if prev != nil {
		prevParams = prev.Params
	}
	params, err := cfntemplate.ResolveParams(t, r.paramInputs(), prevParams)
	if err != nil {
		return nil, asAPI(err)
	}
	caps := r.list("Capabilities")
	if err := checkCaps(t, caps); err != nil {
		return nil, err
	}
	tags, tagsGiven, err := r.tags()
	if err != nil {
		return nil, err
	}
	notif := r.list("NotificationARNs")
	if prev != nil && !r.f.Has("NotificationARNs") && len(notif) == 0 {
		notif = prev.Notif
	}
	if prev != nil && !tagsGiven {
		tags = prev.Tags
	}
	sub := &submission{tmpl: t, body: body, params: params, tags: tags, tagsGiven: tagsGiven, caps: caps, notif: notif, role: role, actor: actor}
	// dry run: conditions, properties and outputs must evaluate
	fake := &stack{ID: id, Name: name, Notif: notif}
	res := map[string]*resource{}
	if prev != nil {
		r.rg.mu.Lock()
		for k, v := range prev.Resources {
			res[k] = v
		}
		r.rg.mu.Unlock()
	}
	run := &run{s: r.s, rg: r.rg, st: fake, tmpl: t, res: res, imports: map[string]bool{}}
	run.ev = &cfntemplate.Evaluator{T: t, Params: params,
		Pseudo: cfntemplate.Pseudo{AccountID: r.rg.Account, Region: r.rg.Region, StackName: name, StackID: id, NotificationARNs: notif},
		R:      &rtResolver{r: run, dry: true}}
	if err := run.ev.EvalConditions(); err != nil {
		return nil, asAPI(err)
	}
	for _, n := range t.ResourceOrder {
		tr := t.Resources[n]
		if ok, _ := run.ev.Condition(tr.Condition); !ok {
			continue
		}
		if _, err := run.ev.Eval(tr.Properties); err != nil {
			return nil, asAPI(err)
		}
	}
	if _, err := run.outputs(); err != nil {
		return nil, asAPI(err)
	}
	sub.imports = sortedStrings(run.imports)
	return sub, nil
}

// ---- CreateStack ----

func (r *req) validName(name, field string) error {
	if name == "" {
		return validation("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", field)
	}
	if len(name) > 128 || !stackNameRE.MatchString(name) {
		return validation("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*|arn:[-a-zA-Z0-9:/._+]*", name, field)
	}
	return nil
}

func (r *req) createStack(w http.ResponseWriter) error {
	name := r.get("StackName")
	if err := r.validName(name, "stackName"); err != nil {
		return err
	}
	if err := r.authorize("CreateStack", r.stackARN(name)); err != nil {
		return err
	}
	token, err := r.requestToken()
	if err != nil {
		return err
	}
	// A retry of a CreateStack that took effect: the same answer, no
	// second stack.
	r.rg.mu.RLock()
	prev := r.rg.byName[name]
	again := prev.repeats(token, "CreateStack")
	r.rg.mu.RUnlock()
	if again {
		return r.s.write(w, r.c, func(x *xw) { x.elem("StackId", prev.ID) })
	}
	onFailure := r.get("OnFailure")
	if onFailure != "" && r.f.Has("DisableRollback") {
		return validation("You can specify either DisableRollback or OnFailure, but not both.")
	}
	if onFailure == "" {
		onFailure = "ROLLBACK"
		if r.boolean("DisableRollback") {
			onFailure = "DO_NOTHING"
		}
	}
	if onFailure != "ROLLBACK" && onFailure != "DO_NOTHING" && onFailure != "DELETE" {
		return validation("1 validation error detected: Value '%s' at 'onFailure' failed to satisfy constraint: Member must satisfy enum value set: [DO_NOTHING, ROLLBACK, DELETE]", onFailure)
	}
	policy := r.get("StackPolicyBody")
	if policy == "" && r.get("StackPolicyURL") != "" {
		b, err := r.fetchTemplate(r.get("StackPolicyURL"), platform.Principal{})
		if err != nil {
			return err
		}
		policy = b
	}
	if policy != "" {
		if err := validatePolicy(policy); err != nil {
			return err
		}
	}
	r.rg.mu.Lock()
	exists := r.rg.byName[name] != nil
	id := ""
	if !exists {
		id = fmt.Sprintf("arn:aws:cloudformation:%s:%s:stack/%s/%s", r.rg.Region, r.rg.Account, name, r.rg.id("stack", name))
	}
	r.rg.mu.Unlock()
	if exists {
		return apiErr(400, "AlreadyExistsException", "Stack [%s] already exists", name)
	}
	sub, err := r.prepare(nil, name, id)
	if err != nil {
		return err
	}
	timeout, _ := strconv.Atoi(r.get("TimeoutInMinutes"))
	st := &stack{
		ID: id, Name: name, Created: r.s.now(), Body: sub.body, Tmpl: sub.tmpl, Params: sub.params,
		Tags: sub.tags, Caps: sub.caps, Notif: sub.notif, RoleARN: sub.role, Timeout: timeout,
		DisableRollback: onFailure == "DO_NOTHING", TermProtection: r.boolean("EnableTerminationProtection"),
		Policy: policy, Resources: map[string]*resource{}, DriftStatus: "NOT_CHECKED", Actor: &sub.actor,
	}
	rg := r.rg
	rg.mu.Lock()
	if rg.byName[name] != nil { // lost a race
		rg.mu.Unlock()
		return apiErr(400, "AlreadyExistsException", "Stack [%s] already exists", name)
	}
	rg.Stacks[id] = st
	rg.byName[name] = st
	rg.Order = append(rg.Order, id)
	st.remember(token, "CreateStack")
	r.s.userInitiatedLocked(rg, st, token, "CREATE_IN_PROGRESS")
	r.s.startLocked(rg, st, func(cancel <-chan struct{}) {
		r.s.runCreate(rg, st, sub.params, createOpts{onFailure: onFailure, token: token}, cancel)
	})
	rg.mu.Unlock()
	return r.s.write(w, r.c, func(x *xw) { x.elem("StackId", id) })
}

// ---- UpdateStack ----

func (r *req) liveStack(nameOrID string) *stack {
	r.rg.mu.RLock()
	defer r.rg.mu.RUnlock()
	st := r.rg.lookup(nameOrID)
	if st == nil || st.Status == "DELETE_COMPLETE" {
		return nil
	}
	return st
}

func (r *req) updateStack(w http.ResponseWriter) error {
	name, err := r.stackNameArg("UpdateStack")
	if err != nil {
		return err
	}
	st := r.liveStack(name)
	if st == nil {
		return validation("Stack [%s] does not exist", name)
	}
	token, err := r.requestToken()
	if err != nil {
		return err
	}
	r.rg.mu.Lock()
	busy, status, again := st.busy, st.Status, st.repeats(token, "UpdateStack")
	r.rg.mu.Unlock()
	if again { // a retry of an update that took effect
		return r.s.write(w, r.c, func(x *xw) { x.elem("StackId", st.ID) })
	}
	if busy || !updatable[status] {
		return notUpdatable(st)
	}
	sub, err := r.prepare(st, st.Name, st.ID)
	if err != nil {
		return err
	}
	during := r.get("StackPolicyDuringUpdateBody")
	if during != "" {
		if err := validatePolicy(during); err != nil {
			return err
		}
	}
	newPolicy := r.get("StackPolicyBody")
	if newPolicy != "" {
		if err := validatePolicy(newPolicy); err != nil {
			return err
		}
	}
	d := r.s.diff(r.rg, st, sub)
	if d.same {
		return validation("No updates are to be performed.")
	}
	rg := r.rg
	rg.mu.Lock()
	defer rg.mu.Unlock()
	if st.busy || !updatable[st.Status] {
		return notUpdatable(st)
	}
	st.remember(token, "UpdateStack")
	r.s.startUpdateLocked(rg, st, sub, updateOpts{token: token, policy: firstNonEmpty(during, st.Policy), disableRB: r.boolean("DisableRollback")}, newPolicy, nil)
	return r.s.write(w, r.c, func(x *xw) { x.elem("StackId", st.ID) })
}

func firstNonEmpty(a ...string) string {
	for _, x := range a {
		if x != "" {
			return x
		}
	}
	return ""
}

// apply sets a stack's template, parameters and settings from a
// submission.
func (st *stack) apply(sub *submission) {
	st.Tmpl, st.Body, st.Params = sub.tmpl, sub.body, sub.params
	st.Tags, st.Caps, st.Notif, st.RoleARN = sub.tags, sub.caps, sub.notif, sub.role
	actor := sub.actor
	st.Actor = &actor
}

// userInitiatedLocked moves a stack to status, "User Initiated", and
// records the stack's event (rg.mu held).
func (s *Service) userInitiatedLocked(rg *region, st *stack, token, status string) {
	st.Status, st.Reason = status, "User Initiated"
	tmp := &run{s: s, rg: rg, st: st, token: token}
	tmp.eventLocked(st.Name, st.ID, "AWS::CloudFormation::Stack", status, "User Initiated")
}

// startUpdateLocked applies a submission to a stack and starts the update
// (rg.mu held); then, if not nil, runs after the update.
func (s *Service) startUpdateLocked(rg *region, st *stack, sub *submission, o updateOpts, newPolicy string, then func()) {
	prev := st.state()
	st.apply(sub)
	if newPolicy != "" {
		st.Policy = newPolicy
	}
	st.Updated = s.now()
	s.userInitiatedLocked(rg, st, o.token, "UPDATE_IN_PROGRESS")
	params := sub.params
	s.startLocked(rg, st, func(cancel <-chan struct{}) {
		s.runUpdate(rg, st, prev, params, o, cancel)
		if then != nil {
			then()
		}
	})
}

// ---- DeleteStack ----

func (r *req) deleteStack(w http.ResponseWriter) error {
	name, err := r.stackNameArg("DeleteStack")
	if err != nil {
		return err
	}
	token, err := r.requestToken()
	if err != nil {
		return err
	}
	rg := r.rg
	// The deletion acts as the given service role, or the stack's, or the
	// caller; a role that is gone or no longer trusts CloudFormation
	// fails the call, as on AWS.
	role := r.get("RoleARN")
	passed := role != ""
	rg.mu.RLock()
	if st := rg.lookup(name); !passed && st != nil {
		role = st.RoleARN
	}
	rg.mu.RUnlock()
	rg.mu.Lock()
	defer rg.mu.Unlock()
	st := rg.lookup(name)
	if st == nil || st.Status == "DELETE_COMPLETE" || st.repeats(token, "DeleteStack") {
		return r.s.write(w, r.c, nil)
	}
	rg.mu.Unlock()
	actor, err := r.serviceRole(role, passed)
	rg.mu.Lock()
	if err != nil {
		return err
	}
	if st.TermProtection {
		return validation("Stack [%s] cannot be deleted while TerminationProtection is enabled", st.Name)
	}
	retain := r.list("RetainResources")
	if len(retain) > 0 && st.Status != "DELETE_FAILED" {
		return validation("Invalid operation on stack [%s]. RetainResources can only be specified when stack is in DELETE_FAILED state", st.ID)
	}
	d := &deleteReq{retain: retain, token: token}
	st.remember(token, "DeleteStack")
	if passed {
		st.RoleARN = role
	}
	st.Actor = &actor
	switch {
	case st.Status == "DELETE_IN_PROGRESS":
	case st.busy:
		if st.deleteAfter == nil {
			st.deleteAfter = d
		}
		if st.Status == "CREATE_IN_PROGRESS" && st.cancel != nil {
			select {
			case <-st.cancel:
			default:
				close(st.cancel)
			}
		}
	default:
		r.s.startDeleteLocked(rg, st, d)
	}
	return r.s.write(w, r.c, nil)
}

// ---- Describe ----

// stackNameArg is the request's StackName, required and authorized for
// action.
func (r *req) stackNameArg(action string) (string, error) {
	name := r.get("StackName")
	if name == "" {
		return "", validation("1 validation error detected: Value null at 'stackName' failed to satisfy constraint: Member must not be null")
	}
	if err := r.authorize(action, r.stackARN(name)); err != nil {
		return "", err
	}
	return name, nil
}

func (r *req) findStack(action string) (*stack, error) {
	name, err := r.stackNameArg(action)
	if err != nil {
		return nil, err
	}
	r.rg.mu.RLock()
	st := r.rg.lookup(name)
	r.rg.mu.RUnlock()
	if st == nil {
		return nil, validation("Stack with id %s does not exist", name)
	}
	return st, nil
}

func page(n int, token string) (start, end int, next string) {
	start, _ = strconv.Atoi(token)
	if start < 0 || start > n {
		start = n
	}
	end = start + pageSize
	if end > n {
		end = n
	}
	if end < n {
		next = strconv.Itoa(end)
	}
	return
}

func (r *req) describeStacks(w http.ResponseWriter) error {
	var stacks []*stack
	if r.get("StackName") != "" {
		st, err := r.findStack("DescribeStacks")
		if err != nil {
			return err
		}
		stacks = []*stack{st}
	} else {
		if err := r.authorize("DescribeStacks", "*"); err != nil {
			return err
		}
		r.rg.mu.RLock()
		stacks = r.rg.liveStacks()
		r.rg.mu.RUnlock()
		for i, j := 0, len(stacks)-1; i < j; i, j = i+1, j-1 {
			stacks[i], stacks[j] = stacks[j], stacks[i]
		}
	}
	start, end, next := page(len(stacks), r.get("NextToken"))
	r.rg.mu.RLock()
	defer r.rg.mu.RUnlock()
	return r.s.write(w, r.c, func(x *xw) {
		x.open("Stacks")
		for _, st := range stacks[start:end] {
			x.open("member")
			writeStack(x, st)
			x.close("member")
		}
		x.close("Stacks")
		x.opt("NextToken", next)
	})
}

func writeStack(x *xw, st *stack) {
	x.elem("StackId", st.ID)
	x.elem("StackName", st.Name)
	x.opt("ChangeSetId", st.ChangeSetID)
	x.opt("Description", st.description())
	writeParams(x, st.Tmpl, st.Params)
	x.time("CreationTime", st.Created)
	x.time("DeletionTime", st.Deleted)
	x.time("LastUpdatedTime", st.Updated)
	x.b.WriteString("<RollbackConfiguration/>")
	x.elem("StackStatus", st.Status)
	x.opt("StackStatusReason", st.Reason)
	x.boolean("DisableRollback", st.DisableRollback)
	x.strList("NotificationARNs", st.Notif)
	if st.Timeout > 0 {
		x.elem("TimeoutInMinutes", strconv.Itoa(st.Timeout))
	}
	x.strList("Capabilities", st.Caps)
	x.open("Outputs")
	for _, o := range st.Outputs {
		x.open("member")
		x.elem("OutputKey", o.Key)
		x.elem("OutputValue", o.Value)
		x.opt("Description", o.Description)
		x.opt("ExportName", o.ExportName)
		x.close("member")
	}
	x.close("Outputs")
	x.opt("RoleARN", st.RoleARN)
	writeTags(x, st.Tags)
	x.boolean("EnableTerminationProtection", st.TermProtection)
	x.opt("ParentId", st.ParentID)
	x.open("DriftInformation")
	x.elem("StackDriftStatus", orDefault(st.DriftStatus, "NOT_CHECKED"))
	x.time("LastCheckTimestamp", st.DriftTime)
	x.close("DriftInformation")
}

// writeParams writes Parameters, NoEcho values masked.
func writeParams(x *xw, t *cfntemplate.Template, params map[string]string) {
	x.open("Parameters")
	if t != nil {
		for _, k := range t.ParamOrder {
			v := params[k]
			if t.Parameters[k].NoEcho {
				v = "****"
			}
			x.open("member")
			x.elem("ParameterKey", k)
			x.elem("ParameterValue", v)
			x.close("member")
		}
	}
	x.close("Parameters")
}

func writeTags(x *xw, tags []kv) {
	x.open("Tags")
	for _, t := range tags {
		x.open("member")
		x.elem("Key", t.Key)
		x.elem("Value", t.Value)
		x.close("member")
	}
	x.close("Tags")
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func (r *req) listStacks(w http.ResponseWriter) error {
	if err := r.authorize("ListStacks", "*"); err != nil {
		return err
	}
	filter := map[string]bool{}
	for _, f := range r.list("StackStatusFilter") {
		filter[f] = true
	}
	r.rg.mu.RLock()
	defer r.rg.mu.RUnlock()
	var stacks []*stack
	for i := len(r.rg.Order) - 1; i >= 0; i-- {
		st := r.rg.Stacks[r.rg.Order[i]]
		if st == nil || (len(filter) > 0 && !filter[st.Status]) {
			continue
		}
		stacks = append(stacks, st)
	}
	start, end, next := page(len(stacks), r.get("NextToken"))
	return r.s.write(w, r.c, func(x *xw) {
		x.open("StackSummaries")
		for _, st := range stacks[start:end] {
			x.open("member")
			x.elem("StackId", st.ID)
			x.elem("StackName", st.Name)
			x.opt("TemplateDescription", st.description())
			x.time("CreationTime", st.Created)
			x.time("LastUpdatedTime", st.Updated)
			x.time("DeletionTime", st.Deleted)
			x.elem("StackStatus", st.Status)
			x.opt("StackStatusReason", st.Reason)
			x.open("DriftInformation")
			x.elem("StackDriftStatus", orDefault(st.DriftStatus, "NOT_CHECKED"))
			x.close("DriftInformation")
			x.close("member")
		}
		x.close("StackSummaries")
		x.opt("NextToken", next)
	})
}

func (r *req) describeStackEvents(w http.ResponseWriter) error {
	st, err := r.findStack("DescribeStackEvents")
	if err != nil {
		return err
	}
	r.rg.mu.RLock()
	defer r.rg.mu.RUnlock()
	n := len(st.Events)
	start, end, next := page(n, r.get("NextToken"))
	return r.s.write(w, r.c, func(x *xw) {
		x.open("StackEvents")
		for i := start; i < end; i++ {
			ev := st.Events[n-1-i]
			x.open("member")
			x.elem("StackId", st.ID)
			x.elem("EventId", ev.ID)
			x.elem("StackName", st.Name)
			x.elem("LogicalResourceId", ev.Logical)
			x.elem("PhysicalResourceId", ev.Physical)
			x.elem("ResourceType", ev.Type)
			x.time("Timestamp", ev.Time)
			x.elem("ResourceStatus", ev.Status)
			x.opt("ResourceStatusReason", ev.Reason)
			x.opt("ResourceProperties", ev.Properties)
			x.opt("ClientRequestToken", ev.Token)
			x.close("member")
		}
		x.close("StackEvents")
		x.opt("NextToken", next)
	})
}

func sortedResources(st *stack) []*resource {
	out := make([]*resource, 0, len(st.Resources))
	for _, r := range st.Resources {
		if r.Status == "DELETE_COMPLETE" && st.Status != "DELETE_COMPLETE" {
			continue
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Logical < out[j].Logical })
	return out
}

func resourceDrift(res *resource) string {
	return orDefault(res.DriftStatus, "NOT_CHECKED")
}

// writeResourceFields writes what the resource descriptions share, the
// time of the last update as element ts.
func writeResourceFields(x *xw, res *resource, ts string) {
	x.elem("LogicalResourceId", res.Logical)
	x.opt("PhysicalResourceId", res.Physical)
	x.elem("ResourceType", res.Type)
	x.time(ts, res.Updated)
	x.elem("ResourceStatus", res.Status)
	x.opt("ResourceStatusReason", res.Reason)
}

// writeDriftStatus writes DriftInformation with the resource's drift status.
func writeDriftStatus(x *xw, res *resource) {
	x.open("DriftInformation")
	x.elem("StackResourceDriftStatus", resourceDrift(res))
	x.close("DriftInformation")
}

func (r *req) describeStackResource(w http.ResponseWriter) error {
	st, err := r.findStack("DescribeStackResource")
	if err != nil {
		return err
	}
	logical := r.get("LogicalResourceId")
	r.rg.mu.RLock()
	defer r.rg.mu.RUnlock()
	res := st.Resources[logical]
	if res == nil {
		return validation("Resource %s does not exist for stack %s", logical, st.Name)
	}
	return r.s.write(w, r.c, func(x *xw) {
		x.open("StackResourceDetail")
		x.elem("StackName", st.Name)
		x.elem("StackId", st.ID)
		writeResourceFields(x, res, "LastUpdatedTimestamp")
		if res.Metadata != nil {
			x.elem("Metadata", cfntemplate.JSON(res.Metadata))
		}
		x.open("DriftInformation")
		x.elem("StackResourceDriftStatus", resourceDrift(res))
		x.time("LastCheckTimestamp", res.DriftTime)
		x.close("DriftInformation")
		x.close("StackResourceDetail")
	})
}

func (r *req) describeStackResources(w http.ResponseWriter) error {
	var stacks []*stack
	physical := r.get("PhysicalResourceId")
	if r.get("StackName") == "" && physical != "" {
		if err := r.authorize("DescribeStackResources", "*"); err != nil {
			return err
		}
		r.rg.mu.RLock()
		for _, st := range r.rg.liveStacks() {
			for _, res := range st.Resources {
				if res.Physical == physical {
					stacks = append(stacks, st)
					break
				}
			}
		}
		r.rg.mu.RUnlock()
		if len(stacks) == 0 {
			return validation("Stack for %s does not exist", physical)
		}
	} else {
		st, err := r.findStack("DescribeStackResources")
		if err != nil {
			return err
		}
		stacks = []*stack{st}
	}
	logical := r.get("LogicalResourceId")
	r.rg.mu.RLock()
	defer r.rg.mu.RUnlock()
	return r.s.write(w, r.c, func(x *xw) {
		x.open("StackResources")
		for _, st := range stacks {
			for _, res := range sortedResources(st) {
				if logical != "" && res.Logical != logical {
					continue
				}
				x.open("member")
				x.elem("StackName", st.Name)
				x.elem("StackId", st.ID)
				writeResourceFields(x, res, "Timestamp")
				writeDriftStatus(x, res)
				x.close("member")
			}
		}
		x.close("StackResources")
	})
}

func (r *req) listStackResources(w http.ResponseWriter) error {
	st, err := r.findStack("ListStackResources")
	if err != nil {
		return err
	}
	r.rg.mu.RLock()
	defer r.rg.mu.RUnlock()
	all := sortedResources(st)
	start, end, next := page(len(all), r.get("NextToken"))
	return r.s.write(w, r.c, func(x *xw) {
		x.open("StackResourceSummaries")
		for _, res := range all[start:end] {
			x.open("member")
			writeResourceFields(x, res, "LastUpdatedTimestamp")
			writeDriftStatus(x, res)
			x.close("member")
		}
		x.close("StackResourceSummaries")
		x.opt("NextToken", next)
	})
}

// ---- templates ----

func (r *req) getTemplate(w http.ResponseWriter) error {
	st, err := r.findStack("GetTemplate")
	if err != nil {
		return err
	}
	body := ""
	r.rg.mu.RLock()
	body = st.Body
	csName := r.get("ChangeSetName")
	r.rg.mu.RUnlock()
	if csName != "" {
		cs, err := r.findChangeSet(csName, st.ID)
		if err != nil {
			return err
		}
		body = cs.Body
	}
	return r.s.write(w, r.c, func(x *xw) {
		x.elem("TemplateBody", body)
		x.strList("StagesAvailable", []string{"Original", "Processed"})
	})
}

func (r *req) summaryTemplate(action string) (*cfntemplate.Template, error) {
	if n := r.get("StackName"); n != "" {
		st, err := r.findStack(action)
		if err != nil {
			return nil, err
		}
		r.rg.mu.RLock()
		defer r.rg.mu.RUnlock()
		if st.Tmpl == nil {
			return nil, validation("Stack with id %s does not exist", n)
		}
		return st.Tmpl, nil
	}
	if err := r.authorize(action, "*"); err != nil {
		return nil, err
	}
	body, err := r.templateSource(nil, platform.Principal{})
	if err != nil {
		return nil, err
	}
	t, err := r.s.parse(body)
	if err != nil {
		return nil, asAPI(err)
	}
	return t, nil
}

func capsReason(t *cfntemplate.Template) (string, string) {
	need, why := requiredCaps(t)
	if need == "" {
		return "", ""
	}
	return need, fmt.Sprintf("The following resource(s) require capabilities: [%s]", strings.Join(typesOf(t, why), ", "))
}

func typesOf(t *cfntemplate.Template, names []string) []string {
	set := map[string]bool{}
	for _, n := range names {
		set[t.Resources[n].Type] = true
	}
	return sortedStrings(set)
}

// writeParamDecls writes a template's parameter declarations; summary adds
// each one's type and constraints (GetTemplateSummary).
func writeParamDecls(x *xw, t *cfntemplate.Template, summary bool) {
	x.open("Parameters")
	for _, k := range t.ParamOrder {
		p := t.Parameters[k]
		x.open("member")
		x.elem("ParameterKey", k)
		if p.HasDefault {
			x.elem("DefaultValue", p.Default)
		}
		if summary {
			x.elem("ParameterType", p.Type)
		}
		x.boolean("NoEcho", p.NoEcho)
		x.opt("Description", p.Description)
		if summary {
			x.open("ParameterConstraints")
			if len(p.AllowedValues) > 0 {
				x.strList("AllowedValues", p.AllowedValues)
			}
			x.close("ParameterConstraints")
		}
		x.close("member")
	}
	x.close("Parameters")
}

func (r *req) getTemplateSummary(w http.ResponseWriter) error {
	t, err := r.summaryTemplate("GetTemplateSummary")
	if err != nil {
		return err
	}
	cap, reason := capsReason(t)
	return r.s.write(w, r.c, func(x *xw) {
		writeParamDecls(x, t, true)
		x.opt("Description", t.Description)
		if cap != "" {
			x.strList("Capabilities", []string{cap})
			x.elem("CapabilitiesReason", reason)
		}
		x.strList("ResourceTypes", dedupe(typesOf(t, t.ResourceOrder)))
		x.opt("Version", t.Version)
		if t.Metadata != nil {
			x.elem("Metadata", cfntemplate.JSON(t.Metadata))
		}
		x.strList("DeclaredTransforms", t.Transforms)
		x.open("ResourceIdentifierSummaries")
		x.close("ResourceIdentifierSummaries")
	})
}

func (r *req) validateTemplate(w http.ResponseWriter) error {
	if err := r.authorize("ValidateTemplate", "*"); err != nil {
		return err
	}
	body, err := r.templateSource(nil, platform.Principal{})
	if err != nil {
		return err
	}
	t, err := r.s.parse(body)
	if err != nil {
		return asAPI(err)
	}
	cap, reason := capsReason(t)
	return r.s.write(w, r.c, func(x *xw) {
		writeParamDecls(x, t, false)
		x.opt("Description", t.Description)
		if cap != "" {
			x.strList("Capabilities", []string{cap})
			x.elem("CapabilitiesReason", reason)
		} else {
			x.strList("Capabilities", nil)
		}
		x.strList("DeclaredTransforms", t.Transforms)
	})
}

// ---- policies and protection ----

func (r *req) setStackPolicy(w http.ResponseWriter) error {
	st, err := r.findStack("SetStackPolicy")
	if err != nil {
		return err
	}
	body := r.get("StackPolicyBody")
	if body == "" && r.get("StackPolicyURL") != "" {
		if body, err = r.fetchTemplate(r.get("StackPolicyURL"), platform.Principal{}); err != nil {
			return err
		}
	}
	if body == "" {
		return validation("Exactly one of StackPolicyBody or StackPolicyURL must be specified.")
	}
	if err := validatePolicy(body); err != nil {
		return err
	}
	r.rg.mu.Lock()
	st.Policy = body
	r.rg.mu.Unlock()
	return r.s.write(w, r.c, nil)
}

func (r *req) getStackPolicy(w http.ResponseWriter) error {
	st, err := r.findStack("GetStackPolicy")
	if err != nil {
		return err
	}
	r.rg.mu.RLock()
	body := st.Policy
	r.rg.mu.RUnlock()
	return r.s.write(w, r.c, func(x *xw) { x.opt("StackPolicyBody", body) })
}

func (r *req) updateTerminationProtection(w http.ResponseWriter) error {
	st, err := r.findStack("UpdateTerminationProtection")
	if err != nil {
		return err
	}
	if !r.f.Has("EnableTerminationProtection") {
		return validation("1 validation error detected: Value null at 'enableTerminationProtection' failed to satisfy constraint: Member must not be null")
	}
	r.rg.mu.Lock()
	if st.Status == "DELETE_COMPLETE" {
		r.rg.mu.Unlock()
		return validation("Stack with id %s does not exist", r.get("StackName"))
	}
	st.TermProtection = r.boolean("EnableTerminationProtection")
	r.rg.mu.Unlock()
	return r.s.write(w, r.c, func(x *xw) { x.elem("StackId", st.ID) })
}

// ---- exports ----

func (r *req) listExports(w http.ResponseWriter) error {
	if err := r.authorize("ListExports", "*"); err != nil {
		return err
	}
	r.rg.mu.RLock()
	defer r.rg.mu.RUnlock()
	names := make([]string, 0, len(r.rg.Exports))
	for n := range r.rg.Exports {
		names = append(names, n)
	}
	sort.Strings(names)
	start, end, next := page(len(names), r.get("NextToken"))
	return r.s.write(w, r.c, func(x *xw) {
		x.open("Exports")
		for _, n := range names[start:end] {
			e := r.rg.Exports[n]
			x.open("member")
			x.elem("ExportingStackId", e.StackID)
			x.elem("Name", e.Name)
			x.elem("Value", e.Value)
			x.close("member")
		}
		x.close("Exports")
		x.opt("NextToken", next)
	})
}

func (r *req) listImports(w http.ResponseWriter) error {
	if err := r.authorize("ListImports", "*"); err != nil {
		return err
	}
	name := r.get("ExportName")
	r.rg.mu.RLock()
	defer r.rg.mu.RUnlock()
	users := importers(r.rg, name, "")
	if len(users) == 0 {
		return validation("Export '%s' is not imported by any stack.", name)
	}
	start, end, next := page(len(users), r.get("NextToken"))
	return r.s.write(w, r.c, func(x *xw) {
		x.strList("Imports", users[start:end])
		x.opt("NextToken", next)
	})
}

// ---- rollback control ----

func (r *req) continueUpdateRollback(w http.ResponseWriter) error {
	st, err := r.findStack("ContinueUpdateRollback")
	if err != nil {
		return err
	}
	rg := r.rg
	rg.mu.Lock()
	defer rg.mu.Unlock()
	if st.Status != "UPDATE_ROLLBACK_FAILED" || st.busy || st.rollback == nil {
		return validation("Stack %s is in %s state and can not continue update rollback.", st.ID, st.Status)
	}
	ur := st.rollback
	st.rollback = nil
	for _, x := range r.list("ResourcesToSkip") {
		ur.skip[x] = true
	}
	ur.r.token = r.get("ClientRequestToken")
	st.Status, st.Reason = "UPDATE_ROLLBACK_IN_PROGRESS", ""
	ur.r.eventLocked(st.Name, st.ID, "AWS::CloudFormation::Stack", "UPDATE_ROLLBACK_IN_PROGRESS", "")
	r.s.startLocked(rg, st, func(cancel <-chan struct{}) { r.s.rollbackUpdate(ur) })
	return r.s.write(w, r.c, func(x *xw) {})
}

func (r *req) cancelUpdateStack(w http.ResponseWriter) error {
	st, err := r.findStack("CancelUpdateStack")
	if err != nil {
		return err
	}
	r.rg.mu.Lock()
	defer r.rg.mu.Unlock()
	if st.Status != "UPDATE_IN_PROGRESS" || st.cancel == nil {
		return validation("CancelUpdateStack cannot be called from current stack status")
	}
	select {
	case <-st.cancel:
	default:
		close(st.cancel)
	}
	return r.s.write(w, r.c, nil)
}

func (r *req) signalResource(w http.ResponseWriter) error {
	st, err := r.findStack("SignalResource")
	if err != nil {
		return err
	}
	logical, id, status := r.get("LogicalResourceId"), r.get("UniqueId"), r.get("Status")
	if status != "SUCCESS" && status != "FAILURE" {
		return validation("1 validation error detected: Value '%s' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [SUCCESS, FAILURE]", status)
	}
	r.rg.mu.Lock()
	defer r.rg.mu.Unlock()
	res := st.Resources[logical]
	if res == nil {
		return validation("Resource %s does not exist for stack %s", logical, st.Name)
	}
	if !strings.HasSuffix(res.Status, "_IN_PROGRESS") {
		return validation("Resource %s is in %s state and can not be signaled", logical, res.Status)
	}
	if res.Signals == nil {
		res.Signals = map[string]string{}
	}
	res.Signals[id] = status + ":" + r.get("Reason")
	return r.s.write(w, r.c, nil)
}
