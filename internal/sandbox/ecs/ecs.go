// Package ecs is the sandbox's ECS: clusters (CreateCluster,
// DescribeClusters, ListClusters, DeleteCluster) per account and region,
// over AWS's JSON 1.1 protocol (X-Amz-Target
// AmazonEC2ContainerServiceV20141113.<Action>). It has the shape of every
// sandbox service: a platform.Service with an action table.
package ecs

import (
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/stacker-go/stacker/internal/sandbox/platform"
)

// Service implements platform.Service and platform.Stateful.
type Service struct {
	p        *platform.Platform
	mu       sync.Mutex
	clusters map[string]map[string]*Cluster // "account/region" -> name
}

var (
	_ platform.Service  = (*Service)(nil)
	_ platform.Stateful = (*Service)(nil)
)

// Cluster is an ECS cluster.
type Cluster struct {
	Name string            `json:"name"`
	ARN  string            `json:"arn"`
	Tags map[string]string `json:"tags,omitempty"`
}

// New returns the service.
func New(p *platform.Platform) *Service {
	return &Service{p: p, clusters: map[string]map[string]*Cluster{}}
}

// Name is "ecs".
func (s *Service) Name() string { return "ecs" }

// Protocol is JSON 1.1.
func (s *Service) Protocol() platform.Protocol { return platform.ProtocolJSON }

type req struct {
	s    *Service
	c    *platform.Call
	acct string
}

var actions platform.Actions[*req]

func init() {
	actions = platform.Actions[*req]{
		"CreateCluster":    (*req).createCluster,
		"DescribeClusters": (*req).describeClusters,
		"ListClusters":     (*req).listClusters,
		"DeleteCluster":    (*req).deleteCluster,
	}
}

// Serve dispatches through the action table.
func (s *Service) Serve(w http.ResponseWriter, c *platform.Call) error {
	r := &req{s: s, c: c, acct: c.Principal.Account}
	return actions.Serve(r, c.Action, w, func(action string) error {
		return apiErr(400, "InvalidAction", "The action %s is not valid for this web service.", action)
	})
}

// apiErr is an API error of this service.
var apiErr = platform.Errorf

func (r *req) decode(v any) error { return platform.DecodeJSON(r.c, v) }

func (r *req) write(w http.ResponseWriter, v any) error { return platform.WriteJSON(w, r.c, v) }

func (r *req) arn(name string) string {
	return platform.ARN(r.c, "ecs", r.acct, "cluster/"+name)
}

func (r *req) authorize(resource string) error {
	return r.s.p.Authorize(r.c, "ecs:"+r.c.Action, resource, func(reason string) error {
		return apiErr(400, "AccessDeniedException", "%s", reason)
	})
}

func (s *Service) region(acct, region string) map[string]*Cluster {
	k := acct + "/" + region
	m := s.clusters[k]
	if m == nil {
		m = map[string]*Cluster{}
		s.clusters[k] = m
	}
	return m
}

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,255}$`)

func view(c *Cluster) map[string]any {
	tags := []map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(c.Tags)) {
		tags = append(tags, map[string]string{"key": k, "value": c.Tags[k]})
	}
	return map[string]any{
		"clusterArn": c.ARN, "clusterName": c.Name, "status": "ACTIVE",
		"registeredContainerInstancesCount": 0, "runningTasksCount": 0, "pendingTasksCount": 0, "activeServicesCount": 0,
		"statistics": []any{}, "tags": tags, "settings": []map[string]string{{"name": "containerInsights", "value": "disabled"}},
		"capacityProviders": []string{}, "defaultCapacityProviderStrategy": []any{},
	}
}

// nameOf accepts a cluster name or ARN.
func nameOf(ref string) string {
	if i := strings.LastIndex(ref, ":cluster/"); i >= 0 {
		return ref[i+len(":cluster/"):]
	}
	return ref
}

func (r *req) createCluster(w http.ResponseWriter) error {
	var in struct {
		ClusterName string `json:"clusterName"`
		Tags        []struct {
			Key   string `json:"key"`
			Value string `json:"value"`
		} `json:"tags"`
	}
	if err := r.decode(&in); err != nil {
		return err
	}
	if in.ClusterName == "" {
		in.ClusterName = "default"
	}
	if !nameRE.MatchString(in.ClusterName) {
		return apiErr(400, "InvalidParameterException", "Cluster name must be 1-255 characters long and can contain only letters, numbers, underscores and hyphens.")
	}
	if err := r.authorize(r.arn(in.ClusterName)); err != nil {
		return err
	}
	r.s.mu.Lock()
	m := r.s.region(r.acct, r.c.Region)
	c := m[in.ClusterName]
	if c == nil { // creating an existing cluster returns it, as on AWS
		c = &Cluster{Name: in.ClusterName, ARN: r.arn(in.ClusterName), Tags: map[string]string{}}
		for _, t := range in.Tags {
			c.Tags[t.Key] = t.Value
		}
		m[in.ClusterName] = c
	}
	out := view(c)
	r.s.mu.Unlock()
	return r.write(w, map[string]any{"cluster": out})
}

func (r *req) describeClusters(w http.ResponseWriter) error {
	var in struct {
		Clusters []string `json:"clusters"`
	}
	if err := r.decode(&in); err != nil {
		return err
	}
	if len(in.Clusters) == 0 {
		in.Clusters = []string{"default"}
	}
	if err := r.authorize("*"); err != nil {
		return err
	}
	clusters, failures := []map[string]any{}, []map[string]string{}
	r.s.mu.Lock()
	m := r.s.region(r.acct, r.c.Region)
	for _, ref := range in.Clusters {
		if c := m[nameOf(ref)]; c != nil {
			clusters = append(clusters, view(c))
		} else {
			failures = append(failures, map[string]string{"arn": r.arn(nameOf(ref)), "reason": "MISSING"})
		}
	}
	r.s.mu.Unlock()
	return r.write(w, map[string]any{"clusters": clusters, "failures": failures})
}

func (r *req) listClusters(w http.ResponseWriter) error {
	if err := r.authorize("*"); err != nil {
		return err
	}
	arns := []string{}
	r.s.mu.Lock()
	m := r.s.region(r.acct, r.c.Region)
	for _, n := range slices.Sorted(maps.Keys(m)) {
		arns = append(arns, m[n].ARN)
	}
	r.s.mu.Unlock()
	return r.write(w, map[string]any{"clusterArns": arns})
}

func (r *req) deleteCluster(w http.ResponseWriter) error {
	var in struct {
		Cluster string `json:"cluster"`
	}
	if err := r.decode(&in); err != nil {
		return err
	}
	name := nameOf(in.Cluster)
	if err := r.authorize(r.arn(name)); err != nil {
		return err
	}
	r.s.mu.Lock()
	m := r.s.region(r.acct, r.c.Region)
	c := m[name]
	delete(m, name)
	r.s.mu.Unlock()
	if c == nil {
		return apiErr(400, "ClusterNotFoundException", "Cluster not found.")
	}
	out := view(c)
	out["status"] = "INACTIVE"
	return r.write(w, map[string]any{"cluster": out})
}

// Snapshot returns the clusters as JSON.
func (s *Service) Snapshot() ([]byte, error) { return platform.SnapshotState(&s.mu, s.clusters) }

// Restore replaces the clusters.
func (s *Service) Restore(data []byte) error {
	return platform.RestoreState(&s.mu, &s.clusters, data, "ecs clusters")
}

// Reset clears all clusters.
func (s *Service) Reset() { platform.ResetState(&s.mu, &s.clusters, map[string]map[string]*Cluster{}) }
