package config

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/stacker-go/stacker/internal/lookup"
)

// Keys of each part of the config, in documentation order.
var (
	topKeys = []string{"namespace", "namespace_delimiter", "stacker_bucket", "stacker_bucket_region",
		"stacker_cache_dir", "sys_path", "package_sources", "service_role", "pre_build", "post_build",
		"pre_destroy", "post_destroy", "tags", "template_indent", "mappings", "lookups", "targets",
		"stacks", "log_formats", "accounts", "python"}
	stackKeys = []string{"name", "stack_name", "class_path", "template_path", "description", "variables",
		"parameters", "requires", "required_by", "locked", "enabled", "protected", "profile", "region",
		"stack_policy_path", "tags", "in_progress_behavior", "notification_arns",
		"termination_protection", "service_role", "account_id"}
	hookKeys   = []string{"path", "required", "enabled", "data_key", "args"}
	targetKeys = []string{"name", "requires", "required_by"}
)

// varRef remembers where a stack variable came from, for lookup checks.
type varRef struct {
	stack *Stack
	name  string
	node  *yaml.Node
}

// config decodes the top-level mapping into cfg and validates it.
func (d *decoder) config(cfg *Config, root *yaml.Node) {
	cfg.NamespaceDelimiter = "-"
	cfg.TemplateIndent = 4
	var (
		haveNamespace bool
		lookupNodes   = map[string]*yaml.Node{}
		vars          []varRef
	)
	for _, p := range d.pairs(root, 0) {
		v := p.v
		switch p.key {
		case "namespace":
			if isNull(v) {
				d.errorf(v, `namespace: this field is required (use namespace: "" for no prefix)`)
				continue
			}
			cfg.Namespace, haveNamespace = d.str(v, p.key)
		case "namespace_delimiter":
			if s, ok := d.str(v, p.key); ok {
				cfg.NamespaceDelimiter = s
			}
		case "stacker_bucket":
			if s, ok := d.str(v, p.key); ok {
				cfg.StackerBucket = &s
			}
		case "stacker_bucket_region":
			cfg.StackerBucketRegion, _ = d.str(v, p.key)
		case "stacker_cache_dir":
			cfg.StackerCacheDir, _ = d.str(v, p.key)
		case "sys_path":
			cfg.SysPath, _ = d.str(v, p.key)
		case "service_role":
			cfg.ServiceRole, _ = d.str(v, p.key)
		case "package_sources":
			cfg.PackageSources = d.packageSources(v)
		case "python":
			if s, ok := d.str(v, p.key); ok {
				if strings.TrimSpace(s) == "" {
					d.errorf(v, "python: expected an interpreter (a command on PATH or a path), got an empty string")
				}
				cfg.Python, cfg.PythonPos = s, d.pos(deref(v))
			}
		case "pre_build":
			cfg.PreBuild = d.hooks(v, p.key)
		case "post_build":
			cfg.PostBuild = d.hooks(v, p.key)
		case "pre_destroy":
			cfg.PreDestroy = d.hooks(v, p.key)
		case "post_destroy":
			cfg.PostDestroy = d.hooks(v, p.key)
		case "tags":
			cfg.Tags = d.strMap(v, p.key)
			if cfg.Tags == nil && !isNull(v) {
				cfg.Tags = map[string]string{}
			}
			if isNull(v) {
				cfg.Tags = nil
			}
		case "template_indent":
			cfg.TemplateIndent = d.integer(v, p.key, 4)
		case "mappings":
			cfg.Mappings = d.mappings(v)
		case "lookups":
			cfg.Lookups = d.strMap(v, p.key)
			for _, lp := range d.pairs(v, 0) {
				lookupNodes[lp.key] = lp.v
			}
		case "targets":
			cfg.Targets = d.targets(v)
		case "stacks":
			cfg.Stacks, vars = d.stacks(v)
		case "log_formats":
			cfg.LogFormats = d.strMap(v, p.key)
			for _, lp := range d.pairs(v, 0) {
				switch lp.key {
				case "info", "color", "debug":
				default:
					d.unknownKey(lp, "log_formats: ", []string{"info", "color", "debug"}, false)
				}
			}
		case "accounts":
			d.accounts(cfg, v)
		default:
			// A key whose value only carries an anchor is a place to keep
			// YAML anchors; anything else is probably a typo.
			if deref(v) == v && v.Anchor != "" {
				continue
			}
			d.unknownKey(p, "", topKeys, true)
		}
	}
	if !haveNamespace {
		if ns, ok := cfg.Environment["namespace"]; ok && !d.hasKey(root, "namespace") {
			cfg.Namespace = fmt.Sprint(ns)
			d.warnf(root, "DEPRECATION WARNING: specifying namespace in the environment is deprecated; set namespace in the config")
		} else if !d.hasKey(root, "namespace") {
			d.errorf(root, `namespace: this field is required (use namespace: "" for no prefix)`)
		}
	}

	// Stack and target names: unique, and not shared between the two.
	cfg.index = make(map[string]int, len(cfg.Stacks))
	for i, st := range cfg.Stacks {
		if st.Name == "" {
			continue
		}
		if first, dup := cfg.index[st.Name]; dup {
			d.errs.add(st.Pos, "Duplicate stack %s found at index %d.", st.Name, first)
			continue
		}
		cfg.index[st.Name] = i
	}
	targetNames := map[string]bool{}
	for _, t := range cfg.Targets {
		if _, clash := cfg.index[t.Name]; clash {
			d.errs.add(t.Pos, "target %q has the same name as a stack", t.Name)
		}
		if targetNames[t.Name] {
			d.errs.add(t.Pos, "duplicate target %q", t.Name)
		}
		targetNames[t.Name] = true
	}

	// Lookups: custom handlers first, then every ${...} in variables.
	reg := lookup.NewRegistry()
	for _, name := range slices.Sorted(maps.Keys(cfg.Lookups)) {
		if err := useLookup(reg, name, cfg.Lookups[name]); err != nil {
			n := lookupNodes[name]
			if n == nil {
				n = root
			}
			d.errorf(n, "lookups: %s: %v", name, err)
		}
	}
	reg.SetEnvironment(cfg.Environment, cfg.Dir)
	cfg.lookups = reg
	for _, vr := range vars {
		d.checkLookups(cfg, reg, vr, targetNames)
	}
}

func (d *decoder) hasKey(m *yaml.Node, key string) bool {
	for _, p := range d.pairs(m, 0) {
		if p.key == key {
			return true
		}
	}
	return false
}

// ---- stacks -------------------------------------------------------------

// stacks decodes the list form, or the mapping form (key = name, document
// order kept).
func (d *decoder) stacks(n *yaml.Node) ([]*Stack, []varRef) {
	n = deref(n)
	var (
		out  []*Stack
		vars []varRef
	)
	switch n.Kind {
	case yaml.SequenceNode:
		out = make([]*Stack, 0, len(n.Content))
		for i, c := range n.Content {
			st, vr := d.stack(c, c, "", fmt.Sprintf("stacks[%d]", i))
			if st != nil {
				out = append(out, st)
				vars = append(vars, vr...)
			}
		}
	case yaml.MappingNode:
		ps := d.pairs(n, 0)
		out = make([]*Stack, 0, len(ps))
		for _, p := range ps {
			st, vr := d.stack(p.v, p.k, p.key, fmt.Sprintf("stack %q", p.key))
			if st != nil {
				st.Pos = d.pos(p.k)
				out = append(out, st)
				vars = append(vars, vr...)
			}
		}
	case yaml.ScalarNode:
		if isNull(n) {
			return nil, nil
		}
		fallthrough
	default:
		d.errorf(n, "stacks: expected a list (or mapping) of stacks, got %s", show(n))
	}
	return out, vars
}

func (d *decoder) stack(n, at *yaml.Node, keyName, label string) (*Stack, []varRef) {
	m := deref(n)
	if m.Kind != yaml.MappingNode {
		if isNull(m) && keyName != "" {
			d.errorf(n, "%s: class_path or template_path is required.", label)
			return nil, nil
		}
		d.errorf(n, "%s: expected a mapping of stack keys, got %s", label, show(n))
		return nil, nil
	}
	st := &Stack{Enabled: true, Pos: d.pos(at)}
	var (
		vars         []varRef
		nameNode     *yaml.Node
		paramsNode   *yaml.Node
		classNode    *yaml.Node
		templateNode *yaml.Node
		// A misspelt class_path already has its own error.
		misspeltSource bool
	)
	ps := d.pairs(m, 0)
	// Name first, so messages can say which stack.
	for _, p := range ps {
		if p.key == "name" {
			nameNode = p.v
			st.Name, _ = d.str(p.v, "name")
		}
	}
	if keyName != "" {
		if nameNode != nil && st.Name != keyName {
			d.errorf(nameNode, "%s: name %q differs from its key %q in the stacks mapping", label, st.Name, keyName)
		}
		st.Name = keyName
	}
	if st.Name != "" {
		label = fmt.Sprintf("stack %q", st.Name)
	}
	where := label + ": "
	for _, p := range ps {
		v := p.v
		switch p.key {
		case "name":
		case "stack_name":
			st.StackName, _ = d.str(v, where+p.key)
		case "class_path":
			st.ClassPath, _ = d.str(v, where+p.key)
			if st.ClassPath != "" {
				classNode = p.k
			}
		case "template_path":
			st.TemplatePath, _ = d.str(v, where+p.key)
			if st.TemplatePath != "" {
				templateNode = p.k
			}
		case "description":
			st.Description, _ = d.str(v, where+p.key)
		case "variables":
			vm := deref(v)
			if isNull(vm) {
				continue
			}
			if vm.Kind != yaml.MappingNode {
				d.errorf(v, "%svariables: expected a mapping, got %s", where, show(v))
				continue
			}
			vps := d.pairs(vm, 0)
			st.Variables = make(map[string]any, len(vps))
			st.VariablePos = make(map[string]Pos, len(vps))
			for _, vp := range vps {
				st.Variables[vp.key] = d.value(vp.v, 0)
				st.VariablePos[vp.key] = d.pos(vp.v)
				vars = append(vars, varRef{stack: st, name: vp.key, node: vp.v})
			}
		case "parameters":
			if !isEmpty(v) {
				paramsNode = p.k
			}
		case "requires":
			st.Requires = d.strList(v, where+p.key)
		case "required_by":
			st.RequiredBy = d.strList(v, where+p.key)
		case "locked":
			st.Locked = d.boolean(v, where+p.key, false)
		case "enabled":
			st.Enabled = d.boolean(v, where+p.key, true)
		case "protected":
			st.Protected = d.boolean(v, where+p.key, false)
		case "termination_protection":
			st.TerminationProtection = d.boolean(v, where+p.key, false)
		case "profile":
			st.Profile, _ = d.str(v, where+p.key)
			st.ProfilePos = d.pos(p.k)
		case "region":
			st.Region, _ = d.str(v, where+p.key)
		case "stack_policy_path":
			st.StackPolicyPath, _ = d.str(v, where+p.key)
		case "tags":
			st.Tags = d.strMap(v, where+p.key)
		case "in_progress_behavior":
			st.InProgressBehavior, _ = d.str(v, where+p.key)
			if st.InProgressBehavior != "" && st.InProgressBehavior != "wait" && st.InProgressBehavior != "fail" {
				d.errorf(v, `%sin_progress_behavior: must be "wait" (the default) or "fail", got %q`, where, st.InProgressBehavior)
			}
		case "notification_arns":
			st.NotificationARNs = d.strList(v, where+p.key)
		case "service_role":
			st.ServiceRole, _ = d.str(v, where+p.key)
		case "account_id":
			st.AccountID = d.accountID(v, where+p.key)
		default:
			d.unknownKey(p, where, stackKeys, false)
			if sug := suggestKey(p.key, stackKeys); sug == "class_path" || sug == "template_path" {
				misspeltSource = true
			}
		}
	}
	if st.Name == "" {
		if nameNode != nil {
			d.errorf(nameNode, "%s: name: this field is required.", label)
		} else {
			d.errorf(at, "%s: name: this field is required.", label)
		}
	}
	if paramsNode != nil {
		d.errorf(paramsNode, "DEPRECATION: Stack definition %s contains deprecated 'parameters', rather than 'variables'. You are required to update your config. See https://stacker.readthedocs.io/en/latest/config.html#variables for additional information.", st.Name)
	}
	switch {
	case classNode != nil && templateNode != nil:
		d.errorf(templateNode, "%stemplate_path cannot be present when class_path is provided.", where)
	case classNode == nil && templateNode == nil && !st.Locked && !misspeltSource:
		d.errorf(at, "%sclass_path or template_path is required.", where)
	}
	return st, vars
}

func isEmpty(n *yaml.Node) bool {
	n = deref(n)
	switch n.Kind {
	case yaml.ScalarNode:
		return n.ShortTag() == "!!null" || n.Value == ""
	case yaml.MappingNode, yaml.SequenceNode:
		return len(n.Content) == 0
	}
	return false
}

// checkLookups validates every ${...} in one variable: known types (with
// suggestions), handler syntax, and output lookups naming stacks of this
// config.
func (d *decoder) checkLookups(cfg *Config, reg lookupChecker, vr varRef, targets map[string]bool) {
	var seen map[*yaml.Node]bool // aliased nodes already checked
	var walk func(n *yaml.Node, path string, depth int)
	walk = func(n *yaml.Node, path string, depth int) {
		if n.Kind == yaml.AliasNode {
			n = deref(n)
			if seen == nil {
				seen = map[*yaml.Node]bool{}
			}
			if seen[n] {
				return
			}
			seen[n] = true
		}
		if depth > maxDepth {
			return
		}
		switch n.Kind {
		case yaml.ScalarNode:
			if !strings.Contains(n.Value, "${") || n.ShortTag() != "!!str" {
				return
			}
			deps, err := reg.CheckString(n.Value)
			where := func() string { return fmt.Sprintf("stack %q: variable %s: ", vr.stack.Name, path) }
			if err != nil {
				d.errorf(n, "%s%v", where(), err)
				return
			}
			for _, dep := range deps {
				if cfg.Stack(dep) != nil {
					continue
				}
				if targets[dep] {
					d.errorf(n, "%soutput lookup names %q, which is a target, not a stack (targets have no outputs)", where(), dep)
					continue
				}
				msg := fmt.Sprintf("%soutput lookup names stack %q, which is not in this config", where(), dep)
				if sug := suggestKey(dep, stackNames(cfg)); sug != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", sug)
				}
				d.errorf(n, "%s; use xref or rxref for stacks managed elsewhere", msg)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, path+"["+strconv.Itoa(i)+"]", depth+1)
			}
		case yaml.MappingNode:
			for _, p := range d.pairs(n, 0) {
				walk(p.v, path+"."+p.key, depth+1)
			}
		}
	}
	walk(vr.node, strconv.Quote(vr.name), 0)
}

type lookupChecker interface {
	CheckString(s string) ([]string, error)
}

func stackNames(cfg *Config) []string {
	names := make([]string, len(cfg.Stacks))
	for i, s := range cfg.Stacks {
		names[i] = s.Name
	}
	return names
}

// ---- hooks, targets, mappings, accounts, package sources ---------------

func (d *decoder) hooks(n *yaml.Node, key string) []Hook {
	n = deref(n)
	var out []Hook
	switch n.Kind {
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if h, ok := d.hook(c, fmt.Sprintf("%s[%d]", key, i)); ok {
				out = append(out, h)
			}
		}
	case yaml.MappingNode:
		for _, p := range d.pairs(n, 0) {
			if h, ok := d.hook(p.v, fmt.Sprintf("%s %q", key, p.key)); ok {
				out = append(out, h)
			}
		}
	default:
		if !isNull(n) {
			d.errorf(n, "%s: expected a list (or mapping) of hooks, got %s", key, show(n))
		}
	}
	return out
}

func (d *decoder) hook(n *yaml.Node, label string) (Hook, bool) {
	h := Hook{Required: true, Enabled: true, Pos: d.pos(n)}
	m := deref(n)
	if m.Kind != yaml.MappingNode {
		d.errorf(n, "%s: expected a mapping of hook keys, got %s", label, show(n))
		return h, false
	}
	where := label + ": "
	for _, p := range d.pairs(m, 0) {
		switch p.key {
		case "path":
			h.Path, _ = d.str(p.v, where+p.key)
		case "required":
			h.Required = d.boolean(p.v, where+p.key, true)
		case "enabled":
			h.Enabled = d.boolean(p.v, where+p.key, true)
		case "data_key":
			h.DataKey, _ = d.str(p.v, where+p.key)
		case "args":
			h.Args = d.anyMap(p.v, where+p.key)
			for _, a := range d.pairs(p.v, 0) {
				if h.ArgPos == nil {
					h.ArgPos = map[string]Pos{}
				}
				h.ArgPos[a.key] = d.pos(a.k)
			}
		default:
			d.unknownKey(p, where, hookKeys, false)
		}
	}
	if h.Path == "" {
		d.errorf(n, "%spath: this field is required.", where)
	}
	return h, true
}

func (d *decoder) targets(n *yaml.Node) []Target {
	n = deref(n)
	var out []Target
	one := func(c *yaml.Node, keyName, label string) {
		m := deref(c)
		if m.Kind != yaml.MappingNode {
			if keyName != "" && isNull(m) {
				out = append(out, Target{Name: keyName, Pos: d.pos(c)})
				return
			}
			d.errorf(c, "%s: expected a mapping with name, requires, required_by; got %s", label, show(c))
			return
		}
		t := Target{Name: keyName, Pos: d.pos(c)}
		ps := d.pairs(m, 0)
		for _, p := range ps {
			if p.key == "name" {
				name, _ := d.str(p.v, label+": name")
				if keyName != "" && name != keyName {
					d.errorf(p.v, "%s: name %q differs from its key %q in the targets mapping", label, name, keyName)
				}
				t.Name = name
			}
		}
		if t.Name != "" {
			label = fmt.Sprintf("target %q", t.Name)
		}
		where := label + ": "
		for _, p := range ps {
			switch p.key {
			case "name":
			case "requires":
				t.Requires = d.strList(p.v, where+p.key)
			case "required_by":
				t.RequiredBy = d.strList(p.v, where+p.key)
			default:
				d.unknownKey(p, where, targetKeys, false)
			}
		}
		if t.Name == "" {
			d.errorf(c, "%sname: this field is required.", where)
			return
		}
		out = append(out, t)
	}
	switch n.Kind {
	case yaml.SequenceNode:
		for i, c := range n.Content {
			one(c, "", fmt.Sprintf("targets[%d]", i))
		}
	case yaml.MappingNode:
		for _, p := range d.pairs(n, 0) {
			one(p.v, p.key, fmt.Sprintf("target %q", p.key))
		}
	default:
		if !isNull(n) {
			d.errorf(n, "targets: expected a list of targets, got %s", show(n))
		}
	}
	return out
}

// mappings decodes CloudFormation Mappings: map -> map -> map -> value.
func (d *decoder) mappings(n *yaml.Node) map[string]map[string]map[string]any {
	n = deref(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "mappings: expected a mapping, got %s", show(n))
		return nil
	}
	out := map[string]map[string]map[string]any{}
	for _, p1 := range d.pairs(n, 0) {
		m1 := deref(p1.v)
		if m1.Kind != yaml.MappingNode {
			d.errorf(p1.v, "mappings.%s: expected a mapping of keys to mappings, got %s", p1.key, show(p1.v))
			continue
		}
		out[p1.key] = map[string]map[string]any{}
		for _, p2 := range d.pairs(m1, 0) {
			m2 := deref(p2.v)
			if m2.Kind != yaml.MappingNode {
				d.errorf(p2.v, "mappings.%s.%s: expected a mapping of names to values, got %s", p1.key, p2.key, show(p2.v))
				continue
			}
			out[p1.key][p2.key], _ = d.value(m2, 0).(map[string]any)
		}
	}
	return out
}

func (d *decoder) accounts(cfg *Config, n *yaml.Node) {
	n = deref(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "accounts: expected a mapping of profile names to 12-digit account ids, got %s", show(n))
		return
	}
	cfg.Accounts = map[string]string{}
	for _, p := range d.pairs(n, 0) {
		if id := d.accountID(p.v, "accounts."+p.key); id != "" {
			cfg.Accounts[p.key] = id
		}
	}
}

// packageSources decodes package_sources (stacker §2.5): local, s3 and git
// lists with their required keys, and at most one of commit, tag, branch.
func (d *decoder) packageSources(n *yaml.Node) *PackageSources {
	n = deref(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "package_sources: expected a mapping with local, s3 or git, got %s", show(n))
		return nil
	}
	out := &PackageSources{Pos: d.pos(n)}
	kinds := map[string]struct{ keys, required []string }{
		"local": {[]string{"source", "paths", "configs"}, []string{"source"}},
		"git":   {[]string{"uri", "tag", "branch", "commit", "paths", "configs"}, []string{"uri"}},
		"s3":    {[]string{"bucket", "key", "use_latest", "requester_pays", "paths", "configs"}, []string{"bucket", "key"}},
	}
	for _, p := range d.pairs(n, 0) {
		kind, ok := kinds[p.key]
		if !ok {
			d.unknownKey(p, "package_sources: ", []string{"local", "s3", "git"}, false)
			continue
		}
		list := deref(p.v)
		if list.Kind != yaml.SequenceNode {
			d.errorf(p.v, "package_sources.%s: expected a list, got %s", p.key, show(p.v))
			continue
		}
		for i, src := range list.Content {
			where := fmt.Sprintf("package_sources.%s[%d]: ", p.key, i)
			sm := deref(src)
			if sm.Kind != yaml.MappingNode {
				d.errorf(src, "%sexpected a mapping, got %s", where, show(src))
				continue
			}
			have := map[string]bool{}
			vals := map[string]string{}
			var paths, configs []string
			useLatest, requesterPays := true, false
			for _, sp := range d.pairs(sm, 0) {
				have[sp.key] = true
				switch {
				case !contains(kind.keys, sp.key):
					d.unknownKey(sp, where, kind.keys, false)
				case sp.key == "paths":
					paths = d.strList(sp.v, where+"paths")
				case sp.key == "configs":
					configs = d.strList(sp.v, where+"configs")
					if len(configs) > 0 {
						d.warnf(sp.k, "%sconfigs: remote configs are not merged into this config (only paths are used)", where)
					}
				case sp.key == "use_latest":
					useLatest = d.boolean(sp.v, where+"use_latest", true)
				case sp.key == "requester_pays":
					requesterPays = d.boolean(sp.v, where+"requester_pays", false)
				default:
					vals[sp.key], _ = d.str(sp.v, where+sp.key)
				}
			}
			for _, r := range kind.required {
				if !have[r] {
					d.errorf(src, "%s%s: this field is required.", where, r)
				}
			}
			pos := d.pos(sm)
			switch p.key {
			case "local":
				out.Local = append(out.Local, LocalSource{Source: vals["source"], Paths: paths, Configs: configs, Pos: pos})
			case "git":
				refs := 0
				for _, r := range []string{"tag", "branch", "commit"} {
					if have[r] {
						refs++
					}
				}
				if refs > 1 {
					d.errorf(src, "%sconflicting revisions: give at most one of commit, tag, branch", where)
				}
				out.Git = append(out.Git, GitSource{URI: vals["uri"], Tag: vals["tag"], Branch: vals["branch"], Commit: vals["commit"],
					Paths: paths, Configs: configs, Pos: pos})
			case "s3":
				out.S3 = append(out.S3, S3Source{Bucket: vals["bucket"], Key: vals["key"], UseLatest: useLatest,
					RequesterPays: requesterPays, Paths: paths, Configs: configs, Pos: pos})
			}
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
