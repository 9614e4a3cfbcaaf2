package ec2

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
)

// Image is an AMI of the seeded catalogue.
type Image struct {
	Name         string
	Owner        string // account id
	OwnerAlias   string // "amazon" or ""
	Architecture string // x86_64, arm64, i386
	Created      string // RFC 3339
	Description  string
	Platform     string // "windows" or ""
	Tags         map[string]string
}

// Amazon's and Canonical's image-owner account ids.
const (
	OwnerAmazon    = "137112412989"
	OwnerCanonical = "099720109477"
	OwnerWindows   = "801119661308"
)

// Catalogue is the image catalogue every region serves (IDs differ per
// region, as on AWS): several releases of the same families, so that
// "newest matching image" lookups have something to choose between.
var Catalogue = []Image{
	{Name: "amzn-ami-hvm-2018.03.0.20230905.0-x86_64-gp2", Owner: OwnerAmazon, OwnerAlias: "amazon", Architecture: "x86_64", Created: "2023-09-05T18:04:51.000Z", Description: "Amazon Linux AMI 2018.03.0.20230905.0 x86_64 HVM gp2"},
	{Name: "amzn-ami-hvm-2018.03.0.20231218.0-x86_64-gp2", Owner: OwnerAmazon, OwnerAlias: "amazon", Architecture: "x86_64", Created: "2023-12-18T20:11:02.000Z", Description: "Amazon Linux AMI 2018.03.0.20231218.0 x86_64 HVM gp2"},
	{Name: "amzn2-ami-hvm-2.0.20231116.0-x86_64-gp2", Owner: OwnerAmazon, OwnerAlias: "amazon", Architecture: "x86_64", Created: "2023-11-16T22:33:12.000Z", Description: "Amazon Linux 2 AMI 2.0.20231116.0 x86_64 HVM gp2"},
	{Name: "amzn2-ami-hvm-2.0.20240109.0-x86_64-gp2", Owner: OwnerAmazon, OwnerAlias: "amazon", Architecture: "x86_64", Created: "2024-01-09T20:46:20.000Z", Description: "Amazon Linux 2 AMI 2.0.20240109.0 x86_64 HVM gp2"},
	{Name: "amzn2-ami-hvm-2.0.20240109.0-arm64-gp2", Owner: OwnerAmazon, OwnerAlias: "amazon", Architecture: "arm64", Created: "2024-01-09T20:46:31.000Z", Description: "Amazon Linux 2 AMI 2.0.20240109.0 arm64 HVM gp2"},
	{Name: "al2023-ami-2023.3.20240108.0-kernel-6.1-x86_64", Owner: OwnerAmazon, OwnerAlias: "amazon", Architecture: "x86_64", Created: "2024-01-08T19:56:32.000Z", Description: "Amazon Linux 2023 AMI 2023.3.20240108.0 x86_64 HVM kernel-6.1", Tags: map[string]string{"os": "al2023", "release": "2023.3"}},
	{Name: "al2023-ami-2023.3.20240108.0-kernel-6.1-arm64", Owner: OwnerAmazon, OwnerAlias: "amazon", Architecture: "arm64", Created: "2024-01-08T19:56:41.000Z", Description: "Amazon Linux 2023 AMI 2023.3.20240108.0 arm64 HVM kernel-6.1", Tags: map[string]string{"os": "al2023", "release": "2023.3"}},
	{Name: "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20231207", Owner: OwnerCanonical, Architecture: "x86_64", Created: "2023-12-07T09:12:18.000Z", Description: "Canonical, Ubuntu, 22.04 LTS, amd64 jammy image build on 2023-12-07", Tags: map[string]string{"os": "ubuntu"}},
	{Name: "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20240111", Owner: OwnerCanonical, Architecture: "x86_64", Created: "2024-01-11T07:31:02.000Z", Description: "Canonical, Ubuntu, 22.04 LTS, amd64 jammy image build on 2024-01-11", Tags: map[string]string{"os": "ubuntu"}},
	{Name: "Windows_Server-2022-English-Full-Base-2024.01.16", Owner: OwnerWindows, OwnerAlias: "amazon", Architecture: "x86_64", Created: "2024-01-16T20:14:11.000Z", Description: "Microsoft Windows Server 2022 Full Locale English AMI provided by Amazon", Platform: "windows"},
}

// ImageID is the image's id in a region.
func ImageID(region string, im Image) string {
	sum := sha256.Sum256([]byte(region + "/" + im.Owner + "/" + im.Name))
	return "ami-" + hex.EncodeToString(sum[:])[:17]
}

func (r *req) describeImages(w http.ResponseWriter) error {
	if err := r.authorize("*"); err != nil {
		return err
	}
	owners, ids, filters := r.list("Owner"), r.list("ImageId"), r.filters()
	for name := range filters {
		if !knownImageFilters[name] && !strings.HasPrefix(name, "tag:") {
			return apiErr(400, "InvalidParameterValue", "The filter '%s' is invalid", name)
		}
	}
	var out []Image
	for _, im := range Catalogue {
		id := ImageID(r.c.Region, im)
		if len(ids) > 0 && !matchAny(ids, id) {
			continue
		}
		if len(owners) > 0 && !r.ownedBy(im, owners) {
			continue
		}
		if !imageMatches(im, id, filters) {
			continue
		}
		out = append(out, im)
	}
	for _, want := range ids {
		ok := false
		for _, im := range out {
			ok = ok || ImageID(r.c.Region, im) == want
		}
		if !ok {
			return apiErr(400, "InvalidAMIID.NotFound", "The image id '[%s]' does not exist", want)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	var b strings.Builder
	b.WriteString("<imagesSet>")
	for _, im := range out {
		id := ImageID(r.c.Region, im)
		b.WriteString("<item>" + el("imageId", id) + el("imageLocation", locationOf(im)) + el("imageState", "available") +
			el("imageOwnerId", im.Owner) + el("creationDate", im.Created) + el("isPublic", "true") + el("architecture", im.Architecture) +
			el("imageType", "machine") + el("name", im.Name) + el("description", im.Description) +
			el("rootDeviceType", "ebs") + el("rootDeviceName", "/dev/xvda") + el("virtualizationType", "hvm") + el("hypervisor", "xen") +
			el("enaSupport", "true") + el("bootMode", "uefi-preferred"))
		if im.OwnerAlias != "" {
			b.WriteString(el("imageOwnerAlias", im.OwnerAlias))
		}
		if im.Platform != "" {
			b.WriteString(el("platform", im.Platform) + el("platformDetails", "Windows"))
		} else {
			b.WriteString(el("platformDetails", "Linux/UNIX"))
		}
		if len(im.Tags) > 0 {
			b.WriteString("<tagSet>")
			for _, k := range slices.Sorted(maps.Keys(im.Tags)) {
				b.WriteString("<item>" + el("key", k) + el("value", im.Tags[k]) + "</item>")
			}
			b.WriteString("</tagSet>")
		}
		b.WriteString("</item>")
	}
	b.WriteString("</imagesSet>")
	return r.write(w, b.String())
}

func locationOf(im Image) string {
	if im.OwnerAlias != "" {
		return im.OwnerAlias + "/" + im.Name
	}
	return im.Owner + "/" + im.Name
}

// ownedBy matches Owner values: account ids, "self" (the caller's
// account), or an alias ("amazon").
func (r *req) ownedBy(im Image, owners []string) bool {
	for _, o := range owners {
		switch {
		case o == im.Owner, o == "self" && im.Owner == r.acct, o != "" && o == im.OwnerAlias:
			return true
		}
	}
	return false
}

var knownImageFilters = map[string]bool{
	"name": true, "architecture": true, "image-id": true, "owner-id": true, "owner-alias": true, "state": true,
	"is-public": true, "image-type": true, "root-device-type": true, "virtualization-type": true,
	"description": true, "platform": true, "tag-key": true,
}

// imageMatches applies DescribeImages filters (values are globs; the
// filter matches when any value does; all filters must match).
func imageMatches(im Image, id string, filters map[string][]string) bool {
	for name, vals := range filters {
		var have []string
		switch {
		case name == "name":
			have = []string{im.Name}
		case name == "architecture":
			have = []string{im.Architecture}
		case name == "image-id":
			have = []string{id}
		case name == "owner-id":
			have = []string{im.Owner}
		case name == "owner-alias":
			have = []string{im.OwnerAlias}
		case name == "state":
			have = []string{"available"}
		case name == "is-public":
			have = []string{"true"}
		case name == "image-type":
			have = []string{"machine"}
		case name == "root-device-type":
			have = []string{"ebs"}
		case name == "virtualization-type":
			have = []string{"hvm"}
		case name == "description":
			have = []string{im.Description}
		case name == "platform":
			have = []string{im.Platform}
		case name == "tag-key":
			have = slices.Sorted(maps.Keys(im.Tags))
		case strings.HasPrefix(name, "tag:"):
			if v, ok := im.Tags[strings.TrimPrefix(name, "tag:")]; ok {
				have = []string{v}
			}
		default:
			return false // an unknown filter matches nothing
		}
		ok := false
		for _, h := range have {
			ok = ok || matchAny(vals, h)
		}
		if !ok {
			return false
		}
	}
	return true
}
