package cloudformation

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/stacker-go/stacker/internal/sandbox/cloudformation/cfntemplate"
	"github.com/stacker-go/stacker/internal/sandbox/platform"
)

// kv is a tag.
type kv struct {
	Key   string `json:"k"`
	Value string `json:"v"`
}

type output struct {
	Key         string `json:"key"`
	Value       string `json:"value"`
	Description string `json:"desc,omitempty"`
	ExportName  string `json:"export,omitempty"`
}

type event struct {
	ID         string    `json:"id"`
	Logical    string    `json:"logical"`
	Physical   string    `json:"physical,omitempty"`
	Type       string    `json:"type"`
	Time       time.Time `json:"time"`
	Status     string    `json:"status"`
	Reason     string    `json:"reason,omitempty"`
	Token      string    `json:"token,omitempty"`
	Properties string    `json:"props,omitempty"`
}

// resource is a deployed resource of a stack.
type resource struct {
	Logical        string         `json:"logical"`
	Type           string         `json:"type"`
	Physical       string         `json:"physical,omitempty"`
	Status         string         `json:"status"`
	Reason         string         `json:"reason,omitempty"`
	Updated        time.Time      `json:"updated"`
	Props          map[string]any `json:"props,omitempty"`
	Attrs          map[string]any `json:"attrs,omitempty"`
	Actual         map[string]any `json:"actual,omitempty"` // drift: set by Tamper
	Gone           bool           `json:"gone,omitempty"`   // drift: deleted behind the stack's back
	DeletionPolicy string         `json:"deletion_policy,omitempty"`
	Metadata       any            `json:"metadata,omitempty"`
	Gen            int            `json:"gen"`
	DriftStatus    string         `json:"drift,omitempty"`
	DriftTime      time.Time      `json:"drift_time,omitempty"`
	// signals received (WaitCondition)
	Signals map[string]string `json:"signals,omitempty"`
}

func (r *resource) clone() *resource {
	c := *r
	return &c
}

// stackState is what an update rollback restores.
type stackState struct {
	Tmpl      *cfntemplate.Template
	Body      string
	Params    map[string]string
	Outputs   []output
	Desc      string
	Tags      []kv
	Caps      []string
	Notif     []string
	RoleARN   string
	Imports   []string
	Resources map[string]*resource
}

type stack struct {
	ID              string                `json:"id"`
	Name            string                `json:"name"`
	Status          string                `json:"status"`
	Reason          string                `json:"reason,omitempty"`
	Created         time.Time             `json:"created"`
	Updated         time.Time             `json:"updated,omitempty"`
	Deleted         time.Time             `json:"deleted,omitempty"`
	Body            string                `json:"body"`
	Tmpl            *cfntemplate.Template `json:"-"`
	Params          map[string]string     `json:"params"`
	Tags            []kv                  `json:"tags,omitempty"`
	Caps            []string              `json:"caps,omitempty"`
	Notif           []string              `json:"notif,omitempty"`
	RoleARN         string                `json:"role,omitempty"`
	Timeout         int                   `json:"timeout,omitempty"`
	DisableRollback bool                  `json:"disable_rollback,omitempty"`
	TermProtection  bool                  `json:"term_protection,omitempty"`
	Policy          string                `json:"policy,omitempty"`
	Outputs         []output              `json:"outputs,omitempty"`
	Resources       map[string]*resource  `json:"resources"`
	Events          []*event              `json:"events"`
	Imports         []string              `json:"imports,omitempty"`
	ChangeSetID     string                `json:"change_set,omitempty"`
	DriftStatus     string                `json:"drift,omitempty"`
	DriftTime       time.Time             `json:"drift_time,omitempty"`
	DriftID         string                `json:"drift_id,omitempty"`
	DriftCount      int                   `json:"drift_count,omitempty"`
	ParentID        string                `json:"parent,omitempty"`
	// Actor is who the stack's operations act as: the session of its
	// service role, or the principal that started the operation.
	Actor *platform.Principal `json:"actor,omitempty"`
	// Tokens are the ClientRequestTokens of the operations the stack
	// accepted, with the action that used each: a call repeating one is a
	// retry and is answered as the first was, without acting again.
	Tokens map[string]string `json:"tokens,omitempty"`

	busy        bool
	done        chan struct{}
	cancel      chan struct{}
	deleteAfter *deleteReq
	rollback    *updateRun // pending update rollback (UPDATE_ROLLBACK_FAILED)
}

type deleteReq struct {
	retain []string
	token  string
}

func (st *stack) description() string {
	if st.Tmpl != nil {
		return st.Tmpl.Description
	}
	return ""
}

func (st *stack) state() *stackState {
	res := make(map[string]*resource, len(st.Resources))
	for k, r := range st.Resources {
		res[k] = r.clone()
	}
	return &stackState{
		Tmpl: st.Tmpl, Body: st.Body, Params: st.Params, Outputs: st.Outputs,
		Tags: st.Tags, Caps: st.Caps, Notif: st.Notif, RoleARN: st.RoleARN, Imports: st.Imports,
		Resources: res,
	}
}

type change struct {
	Action      string   `json:"action"`
	Logical     string   `json:"logical"`
	Physical    string   `json:"physical,omitempty"`
	Type        string   `json:"type"`
	Replacement string   `json:"replacement,omitempty"`
	Scope       []string `json:"scope,omitempty"`
	Details     []detail `json:"details,omitempty"`
}

type detail struct {
	Attribute          string `json:"attribute"`
	Name               string `json:"name,omitempty"`
	RequiresRecreation string `json:"requires_recreation,omitempty"`
	Evaluation         string `json:"evaluation"`
	ChangeSource       string `json:"change_source,omitempty"`
	CausingEntity      string `json:"causing_entity,omitempty"`
}

type changeSet struct {
	ID          string                `json:"id"`
	Name        string                `json:"name"`
	StackID     string                `json:"stack_id"`
	StackName   string                `json:"stack_name"`
	Type        string                `json:"type"`
	Status      string                `json:"status"`
	Reason      string                `json:"reason,omitempty"`
	ExecStatus  string                `json:"exec_status"`
	Created     time.Time             `json:"created"`
	Description string                `json:"description,omitempty"`
	Body        string                `json:"body"`
	Tmpl        *cfntemplate.Template `json:"-"`
	Params      map[string]string     `json:"params"`
	Tags        []kv                  `json:"tags,omitempty"`
	TagsGiven   bool                  `json:"tags_given,omitempty"`
	Caps        []string              `json:"caps,omitempty"`
	Notif       []string              `json:"notif,omitempty"`
	RoleARN     string                `json:"role,omitempty"`
	Changes     []change              `json:"changes,omitempty"`
	Imports     []string              `json:"imports,omitempty"`
	// ExecToken is the ClientRequestToken of the ExecuteChangeSet that ran
	// it: a retry with it succeeds without executing again.
	ExecToken string `json:"exec_token,omitempty"`
}

type export struct {
	StackID string `json:"stack_id"`
	Name    string `json:"name"`
	Value   string `json:"value"`
}

// region is one account+region's CloudFormation state.
type region struct {
	mu         sync.RWMutex
	Account    string                `json:"account"`
	Region     string                `json:"region"`
	Stacks     map[string]*stack     `json:"stacks"` // by id
	Order      []string              `json:"order"`  // stack ids in creation order
	byName     map[string]*stack     // live stacks
	ChangeSets map[string]*changeSet `json:"change_sets"` // by id
	Exports    map[string]*export    `json:"exports"`
	Seq        uint64                `json:"seq"`
}

func newRegion(account, name string) *region {
	return &region{
		Account: account, Region: name,
		Stacks: map[string]*stack{}, byName: map[string]*stack{},
		ChangeSets: map[string]*changeSet{}, Exports: map[string]*export{},
	}
}

// id returns a deterministic UUID-shaped id (region lock held).
func (rg *region) id(kind, name string) string {
	rg.Seq++
	h := sha256.Sum256([]byte(fmt.Sprintf("%s/%s/%s/%s/%d", rg.Account, rg.Region, kind, name, rg.Seq)))
	x := hex.EncodeToString(h[:16])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// lookup finds a stack by name (live only) or by id (any state).
func (rg *region) lookup(nameOrID string) *stack {
	if strings.HasPrefix(nameOrID, "arn:") {
		return rg.Stacks[nameOrID]
	}
	return rg.byName[nameOrID]
}

func (rg *region) liveStacks() []*stack {
	out := make([]*stack, 0, len(rg.byName))
	for _, id := range rg.Order {
		if st := rg.Stacks[id]; st != nil && st.Status != "DELETE_COMPLETE" {
			out = append(out, st)
		}
	}
	return out
}

func sortedStrings(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// tokenRE is CloudFormation's pattern for ClientRequestToken.
var tokenRE = regexp.MustCompile(`^[a-zA-Z0-9][-a-zA-Z0-9]*$`)

// requestToken returns the call's ClientRequestToken, validated as AWS
// does (1 to 128 characters of [a-zA-Z0-9-], not starting with '-').
func (r *req) requestToken() (string, error) {
	t := r.get("ClientRequestToken")
	if t == "" {
		return "", nil
	}
	if len(t) > 128 {
		return "", validation("1 validation error detected: Value '%s' at 'clientRequestToken' failed to satisfy constraint: Member must have length less than or equal to 128", t)
	}
	if !tokenRE.MatchString(t) {
		return "", validation("1 validation error detected: Value '%s' at 'clientRequestToken' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9][-a-zA-Z0-9]*", t)
	}
	return t, nil
}

// repeats reports whether token already started action on the stack: the
// call is a retry of one that took effect (rg.mu held).
func (st *stack) repeats(token, action string) bool {
	return token != "" && st != nil && st.Tokens[token] == action
}

// remember records that token started action on the stack (rg.mu held).
func (st *stack) remember(token, action string) {
	if token == "" {
		return
	}
	if st.Tokens == nil {
		st.Tokens = map[string]string{}
	}
	st.Tokens[token] = action
}
