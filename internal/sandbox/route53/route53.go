// Package route53 is the sandbox's Route53: hosted zones (CreateHostedZone,
// GetHostedZone, ListHostedZonesByName, DeleteHostedZone) per account, over
// Route53's REST-XML protocol (/2013-04-01/...). It has the shape of every
// sandbox service: a platform.Service with an action table; as a REST
// service it names each request's operation (platform.Operator).
package route53

import (
	"bytes"
	"crypto/sha256"
	"encoding/xml"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stacker-go/stacker/internal/sandbox/platform"
)

const xmlns = "https://route53.amazonaws.com/doc/2013-04-01/"

// Service implements platform.Service, platform.Operator and platform.Stateful.
type Service struct {
	p     *platform.Platform
	mu    sync.Mutex
	zones map[string]map[string]*Zone // account -> zone id
}

var (
	_ platform.Service  = (*Service)(nil)
	_ platform.Operator = (*Service)(nil)
	_ platform.Stateful = (*Service)(nil)
)

// Zone is a hosted zone.
type Zone struct {
	ID              string    `json:"id"` // without /hostedzone/
	Name            string    `json:"name"`
	CallerReference string    `json:"caller_reference"`
	Comment         string    `json:"comment,omitempty"`
	Private         bool      `json:"private,omitempty"`
	Created         time.Time `json:"created"`
}

// New returns the service.
func New(p *platform.Platform) *Service {
	return &Service{p: p, zones: map[string]map[string]*Zone{}}
}

// Name is "route53".
func (s *Service) Name() string { return "route53" }

// Protocol is REST-XML.
func (s *Service) Protocol() platform.Protocol { return platform.ProtocolRESTXML }

const prefix = "/2013-04-01/"

// Operation names the operation of a request.
func (s *Service) Operation(r *http.Request) string {
	p := strings.TrimPrefix(r.URL.Path, prefix)
	switch {
	case p == "hostedzone" && r.Method == http.MethodPost:
		return "CreateHostedZone"
	case p == "hostedzone" && r.Method == http.MethodGet:
		return "ListHostedZones"
	case p == "hostedzonesbyname" && r.Method == http.MethodGet:
		return "ListHostedZonesByName"
	case strings.HasPrefix(p, "hostedzone/") && !strings.Contains(strings.TrimPrefix(p, "hostedzone/"), "/"):
		switch r.Method {
		case http.MethodGet:
			return "GetHostedZone"
		case http.MethodDelete:
			return "DeleteHostedZone"
		}
	}
	return ""
}

type req struct {
	s    *Service
	c    *platform.Call
	acct string
}

var actions platform.Actions[*req]

func init() {
	actions = platform.Actions[*req]{
		"CreateHostedZone":      (*req).createHostedZone,
		"GetHostedZone":         (*req).getHostedZone,
		"ListHostedZones":       (*req).listHostedZones,
		"ListHostedZonesByName": (*req).listHostedZones,
		"DeleteHostedZone":      (*req).deleteHostedZone,
	}
}

// Serve dispatches through the action table.
func (s *Service) Serve(w http.ResponseWriter, c *platform.Call) error {
	r := &req{s: s, c: c, acct: c.Principal.Account}
	return actions.Serve(r, c.Action, w, func(string) error {
		return apiErr(404, "UnknownOperationException", "The sandbox's Route53 has no operation %s %s", c.HTTP.Method, c.HTTP.URL.Path)
	})
}

// apiErr is an API error of this service.
var apiErr = platform.Errorf

func (r *req) authorize(resource string) error {
	return r.s.p.Authorize(r.c, "route53:"+r.c.Action, resource, func(reason string) error {
		return apiErr(403, "AccessDenied", "%s", reason)
	})
}

func (r *req) write(w http.ResponseWriter, status int, v any) error {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	if err := xml.NewEncoder(&b).Encode(v); err != nil {
		return fmt.Errorf("encode %s response: %w", r.c.Action, err)
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-RequestId", r.c.RequestID)
	w.WriteHeader(status)
	_, err := w.Write(b.Bytes())
	return err
}

type xmlConfig struct {
	Comment     string `xml:"Comment,omitempty"`
	PrivateZone bool   `xml:"PrivateZone"`
}

type xmlZone struct {
	ID                     string    `xml:"Id"`
	Name                   string    `xml:"Name"`
	CallerReference        string    `xml:"CallerReference"`
	Config                 xmlConfig `xml:"Config"`
	ResourceRecordSetCount int       `xml:"ResourceRecordSetCount"`
}

type xmlDelegation struct {
	NameServers []string `xml:"NameServers>NameServer"`
}

func zoneXML(z *Zone) xmlZone {
	return xmlZone{ID: "/hostedzone/" + z.ID, Name: z.Name, CallerReference: z.CallerReference,
		Config: xmlConfig{Comment: z.Comment, PrivateZone: z.Private}, ResourceRecordSetCount: 2}
}

func nameServers(z *Zone) xmlDelegation {
	sum := sha256.Sum256([]byte(z.ID))
	n := int(sum[0])
	return xmlDelegation{NameServers: []string{
		fmt.Sprintf("ns-%d.awsdns-%02d.com", n*4, n%64), fmt.Sprintf("ns-%d.awsdns-%02d.net", n*4+1, (n+1)%64),
		fmt.Sprintf("ns-%d.awsdns-%02d.org", n*4+2, (n+2)%64), fmt.Sprintf("ns-%d.awsdns-%02d.co.uk", n*4+3, (n+3)%64),
	}}
}

// fqdn is a domain name with its trailing dot.
func fqdn(n string) string {
	if n == "" || strings.HasSuffix(n, ".") {
		return n
	}
	return n + "."
}

func (r *req) now() time.Time { return r.s.p.Now() }

func (s *Service) account(acct string) map[string]*Zone {
	m := s.zones[acct]
	if m == nil {
		m = map[string]*Zone{}
		s.zones[acct] = m
	}
	return m
}

type changeInfo struct {
	ID          string `xml:"Id"`
	Status      string `xml:"Status"`
	SubmittedAt string `xml:"SubmittedAt"`
}

func (r *req) createHostedZone(w http.ResponseWriter) error {
	if err := r.authorize("*"); err != nil {
		return err
	}
	var in struct {
		Name             string    `xml:"Name"`
		CallerReference  string    `xml:"CallerReference"`
		HostedZoneConfig xmlConfig `xml:"HostedZoneConfig"`
	}
	if err := xml.Unmarshal(r.c.Body, &in); err != nil {
		return apiErr(400, "InvalidInput", "Could not parse the request body: %v", err)
	}
	name := fqdn(strings.ToLower(in.Name))
	if name == "" || len(name) > 1024 || strings.Contains(name, "..") {
		return apiErr(400, "InvalidDomainName", "%s is not a valid domain name.", in.Name)
	}
	if in.CallerReference == "" {
		return apiErr(400, "InvalidInput", "1 validation error detected: Value null at 'callerReference' failed to satisfy constraint: Member must not be null")
	}
	r.s.mu.Lock()
	m := r.s.account(r.acct)
	for _, z := range m {
		if z.CallerReference == in.CallerReference {
			r.s.mu.Unlock()
			return apiErr(409, "HostedZoneAlreadyExists", "A hosted zone has already been created with the specified caller reference.")
		}
	}
	sum := sha256.Sum256([]byte(r.acct + "/" + name + "/" + in.CallerReference))
	id := "Z" + strings.ToUpper(fmt.Sprintf("%x", sum[:]))[:20]
	z := &Zone{ID: id, Name: name, CallerReference: in.CallerReference, Comment: in.HostedZoneConfig.Comment, Private: in.HostedZoneConfig.PrivateZone, Created: r.now()}
	m[id] = z
	r.s.mu.Unlock()
	w.Header().Set("Location", "https://route53.amazonaws.com"+prefix+"hostedzone/"+id)
	return r.write(w, http.StatusCreated, struct {
		XMLName       xml.Name      `xml:"CreateHostedZoneResponse"`
		Xmlns         string        `xml:"xmlns,attr"`
		HostedZone    xmlZone       `xml:"HostedZone"`
		ChangeInfo    changeInfo    `xml:"ChangeInfo"`
		DelegationSet xmlDelegation `xml:"DelegationSet"`
	}{Xmlns: xmlns, HostedZone: zoneXML(z), DelegationSet: nameServers(z),
		ChangeInfo: changeInfo{ID: "/change/C" + id[1:], Status: "INSYNC", SubmittedAt: z.Created.UTC().Format("2006-01-02T15:04:05.000Z")}})
}

// zoneID is the id in the request path.
func (r *req) zoneID() string {
	p := strings.TrimPrefix(r.c.HTTP.URL.Path, prefix+"hostedzone/")
	return strings.TrimPrefix(p, "/hostedzone/")
}

func (r *req) zone() (*Zone, error) {
	id := r.zoneID()
	if err := r.authorize("arn:aws:route53:::hostedzone/" + id); err != nil {
		return nil, err
	}
	r.s.mu.Lock()
	z := r.s.account(r.acct)[id]
	r.s.mu.Unlock()
	if z == nil {
		return nil, apiErr(404, "NoSuchHostedZone", "No hosted zone found with ID: %s", id)
	}
	return z, nil
}

func (r *req) getHostedZone(w http.ResponseWriter) error {
	z, err := r.zone()
	if err != nil {
		return err
	}
	return r.write(w, 200, struct {
		XMLName       xml.Name      `xml:"GetHostedZoneResponse"`
		Xmlns         string        `xml:"xmlns,attr"`
		HostedZone    xmlZone       `xml:"HostedZone"`
		DelegationSet xmlDelegation `xml:"DelegationSet"`
	}{Xmlns: xmlns, HostedZone: zoneXML(z), DelegationSet: nameServers(z)})
}

func (r *req) deleteHostedZone(w http.ResponseWriter) error {
	z, err := r.zone()
	if err != nil {
		return err
	}
	r.s.mu.Lock()
	delete(r.s.account(r.acct), z.ID)
	r.s.mu.Unlock()
	return r.write(w, 200, struct {
		XMLName    xml.Name   `xml:"DeleteHostedZoneResponse"`
		Xmlns      string     `xml:"xmlns,attr"`
		ChangeInfo changeInfo `xml:"ChangeInfo"`
	}{Xmlns: xmlns, ChangeInfo: changeInfo{ID: "/change/C" + z.ID[1:], Status: "INSYNC", SubmittedAt: r.now().UTC().Format("2006-01-02T15:04:05.000Z")}})
}

// reversed is a domain name's labels in reverse order, the sort key of
// ListHostedZonesByName ("com.example.").
func reversed(n string) string {
	labels := strings.Split(strings.TrimSuffix(n, "."), ".")
	for i, j := 0, len(labels)-1; i < j; i, j = i+1, j-1 {
		labels[i], labels[j] = labels[j], labels[i]
	}
	return strings.Join(labels, ".")
}

// listHostedZones serves ListHostedZones (by id) and ListHostedZonesByName
// (zones sorted by reversed name, starting at dnsname).
func (r *req) listHostedZones(w http.ResponseWriter) error {
	if err := r.authorize("*"); err != nil {
		return err
	}
	q := r.c.HTTP.URL.Query()
	max := 100
	if v := q.Get("maxitems"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return apiErr(400, "InvalidInput", "1 validation error detected: Value '%s' at 'maxItems' failed to satisfy constraint: Member must be a positive integer", v)
		}
		max = n
	}
	byName := r.c.Action == "ListHostedZonesByName"
	dns := fqdn(strings.ToLower(q.Get("dnsname")))
	r.s.mu.Lock()
	var zones []*Zone
	for _, z := range r.s.account(r.acct) {
		zones = append(zones, z)
	}
	r.s.mu.Unlock()
	sort.Slice(zones, func(i, j int) bool {
		if byName {
			a, b := reversed(zones[i].Name), reversed(zones[j].Name)
			if a != b {
				return a < b
			}
		}
		return zones[i].ID < zones[j].ID
	})
	start := 0
	if byName && dns != "" {
		for start < len(zones) && reversed(zones[start].Name) < reversed(dns) {
			start++
		}
	}
	zones = zones[start:]
	truncated := len(zones) > max
	var next *Zone
	if truncated {
		next = zones[max]
		zones = zones[:max]
	}
	out := []xmlZone{}
	for _, z := range zones {
		out = append(out, zoneXML(z))
	}
	if !byName {
		return r.write(w, 200, struct {
			XMLName     xml.Name  `xml:"ListHostedZonesResponse"`
			Xmlns       string    `xml:"xmlns,attr"`
			HostedZones []xmlZone `xml:"HostedZones>HostedZone"`
			IsTruncated bool      `xml:"IsTruncated"`
			MaxItems    string    `xml:"MaxItems"`
		}{Xmlns: xmlns, HostedZones: out, IsTruncated: truncated, MaxItems: strconv.Itoa(max)})
	}
	res := struct {
		XMLName          xml.Name  `xml:"ListHostedZonesByNameResponse"`
		Xmlns            string    `xml:"xmlns,attr"`
		HostedZones      []xmlZone `xml:"HostedZones>HostedZone"`
		DNSName          string    `xml:"DNSName,omitempty"`
		IsTruncated      bool      `xml:"IsTruncated"`
		MaxItems         string    `xml:"MaxItems"`
		NextDNSName      string    `xml:"NextDNSName,omitempty"`
		NextHostedZoneID string    `xml:"NextHostedZoneId,omitempty"`
	}{Xmlns: xmlns, HostedZones: out, DNSName: dns, IsTruncated: truncated, MaxItems: strconv.Itoa(max)}
	if next != nil {
		res.NextDNSName, res.NextHostedZoneID = next.Name, next.ID
	}
	return r.write(w, 200, res)
}

// Snapshot returns the zones as JSON.
func (s *Service) Snapshot() ([]byte, error) { return platform.SnapshotState(&s.mu, s.zones) }

// Restore replaces the zones.
func (s *Service) Restore(data []byte) error {
	return platform.RestoreState(&s.mu, &s.zones, data, "route53 zones")
}

// Reset clears all zones.
func (s *Service) Reset() { platform.ResetState(&s.mu, &s.zones, map[string]map[string]*Zone{}) }
