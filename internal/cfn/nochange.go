package cfn

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/stacker-go/stacker/internal/engine"
	"github.com/stacker-go/stacker/internal/privfile"
	"gopkg.in/yaml.v3"
)

// No-change detection. A rebuild where nothing changed would otherwise
// make one UpdateStack per stack only to hear "No updates are to be
// performed", and mutating calls have a low budget. So the provider keeps,
// per stack, a record of what this tool last deployed to it: the stack's
// id, its last-change time as CloudFormation reports it, and a sha256
// digest of everything a submission sends. A stack whose id, last-change
// time and submission digest all match the record is skipped without any
// write. Anything changed out of band (a console update, a build from
// another machine) moves the last-change time, so the stack is submitted
// as usual and CloudFormation decides.
//
// Only digests are stored: parameter values (NoEcho secrets among them)
// never reach the disk.

// Records is where the deploy records of one target (account, region) are
// kept: one JSON file per stack in Dir, 0600 in a 0700 directory, written
// atomically.
type Records struct {
	Dir     string
	Account string
	Region  string

	// warned makes a directory that cannot be written one warning per
	// target, not one per stack.
	warned sync.Once
}

// recordVersion changes when the digest's inputs or the file's fields do;
// a record of another version never matches.
const recordVersion = 1

// deployRecord is one record file.
type deployRecord struct {
	Version    int       `json:"version"`
	Account    string    `json:"account"`
	Region     string    `json:"region"`
	Stack      string    `json:"stack"`
	StackID    string    `json:"stack_id"`
	LastChange time.Time `json:"last_change"`
	// Digest is the sha256 of what was sent (submissionDigest).
	Digest   string    `json:"digest"`
	Recorded time.Time `json:"recorded"`
}

// recordName limits the parts of a record's file name to what account ids,
// regions and stack names are made of.
var recordName = regexp.MustCompile(`^[A-Za-z0-9-]+$`)

// path is the record file of a stack, or "" when the target or the name
// cannot name one.
func (r *Records) path(fqn string) string {
	if r == nil || r.Dir == "" || !recordName.MatchString(r.Account) || !recordName.MatchString(r.Region) || !recordName.MatchString(fqn) {
		return ""
	}
	return filepath.Join(r.Dir, r.Account+"_"+r.Region+"_"+fqn+".json")
}

// load returns the stack's record; false when there is none usable.
func (r *Records) load(fqn string) (deployRecord, bool) {
	var rec deployRecord
	path := r.path(fqn)
	if path == "" {
		return rec, false
	}
	b, err := os.ReadFile(path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			slog.Debug(fmt.Sprintf("stack %s: deploy record not read: %v", fqn, err))
		}
		return rec, false
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		slog.Debug(fmt.Sprintf("stack %s: deploy record %s is not valid, ignored: %v", fqn, path, err))
		return rec, false
	}
	if rec.Version != recordVersion || rec.Account != r.Account || rec.Region != r.Region || rec.Stack != fqn {
		return rec, false
	}
	return rec, true
}

// save writes the stack's record atomically (temp file + rename).
func (r *Records) save(rec deployRecord) error {
	path := r.path(rec.Stack)
	if path == "" {
		return nil
	}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	if err := privfile.Write(r.Dir, filepath.Base(path), append(b, '\n')); err != nil {
		return fmt.Errorf("write deploy record: %w", err)
	}
	return nil
}

// ClearRecords removes every deploy record file from dir and returns how
// many it removed (stacker cache clear).
func ClearRecords(dir string) (int, error) {
	n, err := privfile.Clear(dir)
	if err != nil {
		return n, fmt.Errorf("clear deploy records %s: %w", dir, err)
	}
	return n, nil
}

// recordable is the stack states a record is kept for and trusted in.
func recordable(status string) bool {
	return status == "CREATE_COMPLETE" || status == "UPDATE_COMPLETE"
}

// skipUnchanged decides, before any write, whether an existing stack can
// be left alone: it is CREATE_COMPLETE or UPDATE_COMPLETE, its termination
// protection is as configured, its template is eligible, and its record
// matches its id, its last-change time and the digest of what would be
// sent. The reason to submit anyway is logged with -v.
func (p *Provider) skipUnchanged(s *LaunchSpec, st *Stack, req *Request, params []types.Parameter) (Outcome, bool) {
	if p.records == nil || st == nil {
		return Outcome{}, false
	}
	why := func() string {
		if !recordable(st.Status) {
			return "state " + st.Status
		}
		if st.TerminationProtection != s.TerminationProtection {
			return "termination protection differs"
		}
		if reason := ineligible(req); reason != "" {
			return reason
		}
		digest, ok := submissionDigest(s, req, params)
		if !ok {
			return "template body unknown"
		}
		rec, ok := p.records.load(s.FQN)
		switch {
		case !ok:
			return "no deploy record"
		case rec.StackID != st.ID:
			return "the stack was re-created since the last deploy"
		case st.LastChange().IsZero() || !rec.LastChange.Equal(st.LastChange()):
			return "the stack changed since the last deploy"
		case rec.Digest != digest:
			return "what is sent changed"
		}
		return ""
	}()
	if why != "" {
		slog.Debug(fmt.Sprintf("stack %s: submitted (%s)", s.FQN, why))
		return Outcome{}, false
	}
	slog.Debug(fmt.Sprintf("stack %s: unchanged since the last deploy (%s), not submitted", s.FQN, st.LastChange().UTC().Format(time.RFC3339)))
	return Outcome{Status: engine.Status{State: engine.Skipped, Reason: ReasonNoChange}, Outputs: st.Outputs}, true
}

// remember records what was sent to a stack that CloudFormation reports
// as matching it: st is the stack after a create or update ended
// CREATE_COMPLETE or UPDATE_COMPLETE, or as described when UpdateStack
// answered "No updates are to be performed". The parameters are digested
// as an update of st would send them (UsePreviousValue where the config
// gives no value), which is what the next build compares. A record that
// cannot be written is logged and costs one UpdateStack next time.
func (p *Provider) remember(s *LaunchSpec, st *Stack, req *Request) {
	if p.records == nil || st == nil || !recordable(st.Status) || st.LastChange().IsZero() || ineligible(req) != "" {
		return
	}
	params, err := BuildParameters(req.Declared, req.Values, st)
	if err != nil {
		return
	}
	digest, ok := submissionDigest(s, req, params)
	if !ok {
		return
	}
	rec := deployRecord{Version: recordVersion, Account: p.records.Account, Region: p.records.Region, Stack: s.FQN,
		StackID: st.ID, LastChange: st.LastChange().UTC(), Digest: digest, Recorded: p.now().UTC()}
	if err := p.records.save(rec); err != nil {
		p.records.warned.Do(func() {
			slog.Warn("deploy records not written: the next build submits these stacks again", "stack", s.FQN, "error", err)
		})
		slog.Debug(fmt.Sprintf("stack %s: deploy record not written: %v", s.FQN, err))
	}
}

// submissionDigest is the sha256 of everything a create or update of the
// stack sends: the template body (the body a TemplateURL points at), the
// parameters as sent (UsePreviousValue markers included), tags,
// capabilities, role, notification ARNs, stack policy and termination
// protection. False when the template body is not known.
func submissionDigest(s *LaunchSpec, req *Request, params []types.Parameter) (string, bool) {
	tpl := req.TemplateSHA256
	if !req.noted {
		if req.TemplateURL != "" {
			return "", false
		}
		sum := sha256.Sum256([]byte(req.TemplateBody))
		tpl = hex.EncodeToString(sum[:])
	}
	h := sha256.New()
	field := func(h hash.Hash, parts ...string) {
		for _, v := range parts {
			var n [8]byte
			binary.BigEndian.PutUint64(n[:], uint64(len(v)))
			h.Write(n[:])
			h.Write([]byte(v))
		}
	}
	field(h, fmt.Sprintf("stacker-deploy-record-v%d", recordVersion), "template", tpl)
	for _, prm := range params {
		if aws.ToBool(prm.UsePreviousValue) {
			field(h, "parameter-previous", aws.ToString(prm.ParameterKey))
		} else {
			field(h, "parameter", aws.ToString(prm.ParameterKey), aws.ToString(prm.ParameterValue))
		}
	}
	keys := make([]string, 0, len(s.Tags))
	for k := range s.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		field(h, "tag", k, s.Tags[k])
	}
	for _, c := range Capabilities {
		field(h, "capability", string(c))
	}
	field(h, "role", s.RoleARN)
	for _, a := range s.NotificationARNs {
		field(h, "notification", a)
	}
	field(h, "policy", req.StackPolicy, "termination-protection", fmt.Sprint(s.TerminationProtection))
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), true
}

// NoteTemplate records the facts no-change detection needs of the body
// the request's template is (also when TemplateURL is sent, whose body the
// request does not keep): its sha256 and whether it is eligible.
func (r *Request) NoteTemplate(body []byte) {
	sum := sha256.Sum256(body)
	r.TemplateSHA256 = hex.EncodeToString(sum[:])
	r.ineligible = templateIneligible(string(body))
	r.noted = true
}

// ineligible says why a request must always be submitted, or "": a
// Transform (macros expand server-side), a nested stack (its template may
// have changed at its URL), a dynamic reference ({{resolve:...}}) or an
// AWS::SSM::Parameter::Value<...> parameter (CloudFormation resolves those
// again on every update), or a template that cannot be read or is not
// known.
func ineligible(req *Request) string {
	for _, d := range req.Declared {
		if strings.HasPrefix(d.Type, ssmParameterType) {
			return "parameter " + d.Name + " is of type " + d.Type
		}
	}
	for _, v := range req.Values {
		if strings.Contains(v, dynamicRef) {
			return "a parameter value holds a dynamic reference"
		}
	}
	switch {
	case req.noted:
		return req.ineligible
	case req.TemplateURL != "":
		return "template body unknown"
	}
	return templateIneligible(req.TemplateBody)
}

const (
	ssmParameterType = "AWS::SSM::Parameter::Value<"
	dynamicRef       = "{{resolve:"
)

func templateIneligible(body string) string {
	if strings.Contains(body, dynamicRef) {
		return "the template has a dynamic reference ({{resolve:...}})"
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(body), &doc); err != nil {
		return "the template could not be read"
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return "the template could not be read"
	}
	// Anything the walk below could miss makes the template ineligible:
	// YAML aliases and merge keys (CloudFormation takes neither), escaped
	// text (a scalar's value is read unescaped), any depth.
	if why := scanNodes(doc.Content[0], 0); why != "" {
		return why
	}
	top := doc.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i].Value, top.Content[i+1]
		switch k {
		case "Transform":
			return "the template has a Transform"
		case "Resources":
			if v.Kind != yaml.MappingNode {
				continue
			}
			for j := 1; j < len(v.Content); j += 2 {
				if t := mapValue(v.Content[j], "Type"); t == "AWS::CloudFormation::Stack" || t == "AWS::Serverless::Application" {
					return "the template has a nested stack (" + v.Content[j-1].Value + ")"
				}
			}
		case "Parameters":
			if v.Kind != yaml.MappingNode {
				continue
			}
			for j := 1; j < len(v.Content); j += 2 {
				if t := mapValue(v.Content[j], "Type"); strings.HasPrefix(t, ssmParameterType) {
					return "parameter " + v.Content[j-1].Value + " is of type " + t
				}
			}
		}
	}
	return ""
}

// mapValue is the scalar value of key in a mapping node, or "".
func mapValue(n *yaml.Node, key string) string {
	if n.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key && n.Content[i+1].Kind == yaml.ScalarNode {
			return n.Content[i+1].Value
		}
	}
	return ""
}

// maxTemplateDepth bounds the walk of a template; deeper templates are
// always submitted.
const maxTemplateDepth = 100

// scanNodes finds, anywhere in a template, what makes it ineligible: an
// Fn::Transform (or !Transform), a dynamic reference in a value, a YAML
// alias or merge key (the walk would not see what they bring in).
func scanNodes(n *yaml.Node, depth int) string {
	if depth > maxTemplateDepth {
		return "the template is nested too deeply to be checked"
	}
	switch {
	case n.Kind == yaml.AliasNode || n.Tag == "!!merge":
		return "the template uses YAML aliases or merge keys"
	case n.Tag == "!Transform" || (n.Kind == yaml.ScalarNode && n.Value == "Fn::Transform"):
		return "the template has a Fn::Transform"
	case n.Kind == yaml.ScalarNode && strings.Contains(n.Value, dynamicRef):
		return "the template has a dynamic reference ({{resolve:...}})"
	}
	for _, c := range n.Content {
		if why := scanNodes(c, depth+1); why != "" {
			return why
		}
	}
	return ""
}
