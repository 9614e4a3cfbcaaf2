package ec2query

import (
	"context"
	"encoding/base64"
	"net/url"
	"strconv"
)

// Error codes EC2 answers that callers branch on.
const (
	CodeKeyPairNotFound  = "InvalidKeyPair.NotFound"
	CodeKeyPairDuplicate = "InvalidKeyPair.Duplicate"
)

// Filter is one EC2 filter: a name and the values any of which match.
type Filter struct {
	Name   string
	Values []string
}

// Tag is an EC2 resource tag.
type Tag struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

// listParams adds a flattened EC2 list: name.1, name.2, ...
func listParams(form url.Values, name string, values []string) {
	for i, v := range values {
		form.Set(name+"."+strconv.Itoa(i+1), v)
	}
}

func filterParams(form url.Values, filters []Filter) {
	for i, f := range filters {
		p := "Filter." + strconv.Itoa(i+1)
		form.Set(p+".Name", f.Name)
		listParams(form, p+".Value", f.Values)
	}
}

func setIf(form url.Values, name, value string) {
	if value != "" {
		form.Set(name, value)
	}
}

// ---- DescribeImages ------------------------------------------------------

// DescribeImagesInput selects images; empty fields are not sent.
type DescribeImagesInput struct {
	ImageIDs          []string
	Owners            []string // account ids, "self", "amazon", "aws-marketplace"
	ExecutableUsers   []string // account ids, "self", "all"
	Filters           []Filter
	IncludeDeprecated bool
	MaxResults        int
	NextToken         string
}

func (in *DescribeImagesInput) params(form url.Values) {
	listParams(form, "ImageId", in.ImageIDs)
	listParams(form, "Owner", in.Owners)
	listParams(form, "ExecutableBy", in.ExecutableUsers)
	filterParams(form, in.Filters)
	if in.IncludeDeprecated {
		form.Set("IncludeDeprecated", "true")
	}
	if in.MaxResults > 0 {
		form.Set("MaxResults", strconv.Itoa(in.MaxResults))
	}
	setIf(form, "NextToken", in.NextToken)
}

// Image is the part of an EC2 image description the tool reads.
type Image struct {
	ImageID            string `xml:"imageId"`
	Name               string `xml:"name"`
	Description        string `xml:"description"`
	CreationDate       string `xml:"creationDate"` // ISO 8601: text order is time order
	State              string `xml:"imageState"`
	OwnerID            string `xml:"imageOwnerId"`
	OwnerAlias         string `xml:"imageOwnerAlias"`
	Public             bool   `xml:"isPublic"`
	Architecture       string `xml:"architecture"`
	ImageType          string `xml:"imageType"`
	ImageLocation      string `xml:"imageLocation"`
	PlatformDetails    string `xml:"platformDetails"`
	RootDeviceType     string `xml:"rootDeviceType"`
	RootDeviceName     string `xml:"rootDeviceName"`
	VirtualizationType string `xml:"virtualizationType"`
	DeprecationTime    string `xml:"deprecationTime"`
	Tags               []Tag  `xml:"tagSet>item"`
}

// DescribeImagesOutput is one page of images; NextToken is "" on the last.
type DescribeImagesOutput struct {
	Images    []Image `xml:"imagesSet>item"`
	NextToken string  `xml:"nextToken"`
	RequestID string  `xml:"requestId"`
}

// DescribeImages returns one page of the images in selects.
func (c *Client) DescribeImages(ctx context.Context, in *DescribeImagesInput) (*DescribeImagesOutput, error) {
	if in == nil {
		in = &DescribeImagesInput{}
	}
	out, err := c.invoke(ctx, "DescribeImages", in, decodeInto[DescribeImagesOutput])
	if err != nil {
		return nil, err
	}
	return out.(*DescribeImagesOutput), nil
}

// AllImages follows NextToken and returns every image in selects.
func (c *Client) AllImages(ctx context.Context, in *DescribeImagesInput) ([]Image, error) {
	page := DescribeImagesInput{}
	if in != nil {
		page = *in
	}
	var images []Image
	for {
		out, err := c.DescribeImages(ctx, &page)
		if err != nil {
			return nil, err
		}
		images = append(images, out.Images...)
		if out.NextToken == "" || out.NextToken == page.NextToken {
			return images, nil
		}
		page.NextToken = out.NextToken
	}
}

// ---- key pairs ----------------------------------------------------------

// KeyPair describes one key pair (DescribeKeyPairs).
type KeyPair struct {
	KeyPairID   string `xml:"keyPairId"`
	KeyName     string `xml:"keyName"`
	Fingerprint string `xml:"keyFingerprint"`
	KeyType     string `xml:"keyType"`
	PublicKey   string `xml:"publicKey"`
	CreateTime  string `xml:"createTime"`
	Tags        []Tag  `xml:"tagSet>item"`
}

// DescribeKeyPairsInput selects key pairs; an unknown name in KeyNames is
// an InvalidKeyPair.NotFound error, as in EC2.
type DescribeKeyPairsInput struct {
	KeyNames         []string
	KeyPairIDs       []string
	Filters          []Filter
	IncludePublicKey bool
}

func (in *DescribeKeyPairsInput) params(form url.Values) {
	listParams(form, "KeyName", in.KeyNames)
	listParams(form, "KeyPairId", in.KeyPairIDs)
	filterParams(form, in.Filters)
	if in.IncludePublicKey {
		form.Set("IncludePublicKey", "true")
	}
}

// DescribeKeyPairsOutput lists the key pairs found.
type DescribeKeyPairsOutput struct {
	KeyPairs  []KeyPair `xml:"keySet>item"`
	RequestID string    `xml:"requestId"`
}

// DescribeKeyPairs describes key pairs.
func (c *Client) DescribeKeyPairs(ctx context.Context, in *DescribeKeyPairsInput) (*DescribeKeyPairsOutput, error) {
	if in == nil {
		in = &DescribeKeyPairsInput{}
	}
	out, err := c.invoke(ctx, "DescribeKeyPairs", in, decodeInto[DescribeKeyPairsOutput])
	if err != nil {
		return nil, err
	}
	return out.(*DescribeKeyPairsOutput), nil
}

// ImportKeyPairInput imports a public key (OpenSSH, PEM or DER text as
// read from a .pub file); the client base64-encodes it for the wire.
type ImportKeyPairInput struct {
	KeyName           string
	PublicKeyMaterial []byte
}

func (in *ImportKeyPairInput) params(form url.Values) {
	form.Set("KeyName", in.KeyName)
	form.Set("PublicKeyMaterial", base64.StdEncoding.EncodeToString(in.PublicKeyMaterial))
}

// ImportKeyPairOutput describes the imported key pair.
type ImportKeyPairOutput struct {
	KeyName     string `xml:"keyName"`
	Fingerprint string `xml:"keyFingerprint"`
	KeyPairID   string `xml:"keyPairId"`
	RequestID   string `xml:"requestId"`
}

// ImportKeyPair imports a public key as a new key pair.
func (c *Client) ImportKeyPair(ctx context.Context, in *ImportKeyPairInput) (*ImportKeyPairOutput, error) {
	out, err := c.invoke(ctx, "ImportKeyPair", in, decodeInto[ImportKeyPairOutput])
	if err != nil {
		return nil, err
	}
	return out.(*ImportKeyPairOutput), nil
}

// CreateKeyPairInput creates a key pair whose private key EC2 returns once.
type CreateKeyPairInput struct {
	KeyName   string
	KeyType   string // "rsa" (EC2's default) or "ed25519"
	KeyFormat string // "pem" (EC2's default) or "ppk"
}

func (in *CreateKeyPairInput) params(form url.Values) {
	form.Set("KeyName", in.KeyName)
	setIf(form, "KeyType", in.KeyType)
	setIf(form, "KeyFormat", in.KeyFormat)
}

// CreateKeyPairOutput holds the new key pair and its private key.
// KeyMaterial is a secret: String and GoString leave it out, so the
// output can be logged with %v.
type CreateKeyPairOutput struct {
	KeyName     string `xml:"keyName"`
	Fingerprint string `xml:"keyFingerprint"`
	KeyMaterial string `xml:"keyMaterial"`
	KeyPairID   string `xml:"keyPairId"`
	RequestID   string `xml:"requestId"`
}

func (o CreateKeyPairOutput) String() string {
	return "{KeyName:" + o.KeyName + " Fingerprint:" + o.Fingerprint + " KeyPairID:" + o.KeyPairID + " KeyMaterial:<redacted>}"
}

// GoString keeps the key material out of %#v too.
func (o CreateKeyPairOutput) GoString() string { return "ec2query.CreateKeyPairOutput" + o.String() }

// CreateKeyPair creates a key pair.
func (c *Client) CreateKeyPair(ctx context.Context, in *CreateKeyPairInput) (*CreateKeyPairOutput, error) {
	out, err := c.invoke(ctx, "CreateKeyPair", in, decodeInto[CreateKeyPairOutput])
	if err != nil {
		return nil, err
	}
	return out.(*CreateKeyPairOutput), nil
}

// DeleteKeyPairInput names the key pair to delete (by name or id).
type DeleteKeyPairInput struct {
	KeyName   string
	KeyPairID string
}

func (in *DeleteKeyPairInput) params(form url.Values) {
	setIf(form, "KeyName", in.KeyName)
	setIf(form, "KeyPairId", in.KeyPairID)
}

// DeleteKeyPairOutput is EC2's answer; deleting a missing key pair succeeds.
type DeleteKeyPairOutput struct {
	Return    bool   `xml:"return"`
	KeyPairID string `xml:"keyPairId"`
	RequestID string `xml:"requestId"`
}

// DeleteKeyPair deletes a key pair.
func (c *Client) DeleteKeyPair(ctx context.Context, in *DeleteKeyPairInput) (*DeleteKeyPairOutput, error) {
	out, err := c.invoke(ctx, "DeleteKeyPair", in, decodeInto[DeleteKeyPairOutput])
	if err != nil {
		return nil, err
	}
	return out.(*DeleteKeyPairOutput), nil
}
