package lookup

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	"github.com/stacker-go/stacker/internal/target/ec2query"
)

// awsConfig returns the consuming stack's aws.Config for region ("" = the
// stack's region). ok=false with no error means "offline: use a
// placeholder".
func awsConfig(ctx context.Context, env *Env, typ, data, region string) (aws.Config, bool, error) {
	if env.AWS == nil {
		if env.Offline {
			return aws.Config{}, false, nil
		}
		return aws.Config{}, false, fmt.Errorf("%s lookups need AWS credentials, which are not available here", typ)
	}
	cfg, err := env.AWS(ctx, region)
	if err != nil {
		return aws.Config{}, false, fmt.Errorf("credentials for %s lookup: %w", typ, err)
	}
	return cfg, true, nil
}

func placeholder(typ, data string) string { return "<" + typ + " " + data + ">" }

// splitRegion splits "region<sep>rest" when sep occurs.
func splitRegion(data, sep string) (region, rest string) {
	if r, rest, ok := strings.Cut(data, sep); ok {
		return strings.TrimSpace(r), rest
	}
	return "", data
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// ---- xref / rxref -------------------------------------------------------

// xrefHandler reads an output of a stack not managed by this config (xref:
// full CloudFormation name; rxref: name given the namespace) with the
// consuming stack's credentials. It creates no dependency.
type xrefHandler struct{ relative bool }

func (h xrefHandler) typ() string {
	if h.relative {
		return "rxref"
	}
	return "xref"
}

func (h xrefHandler) CheckData(data string) error {
	_, _, err := splitPair(data, h.typ(), "<stack name>::<output name>")
	return err
}

func (h xrefHandler) Handle(ctx context.Context, data string, env *Env) (any, error) {
	stack, name, err := splitPair(data, h.typ(), "<stack name>::<output name>")
	if err != nil {
		return nil, err
	}
	if h.relative {
		if env.FQN == nil {
			return nil, errors.New("rxref needs the config namespace, which is not available here")
		}
		stack = env.FQN(stack)
	}
	cfg, ok, err := awsConfig(ctx, env, h.typ(), data, "")
	if err != nil {
		return nil, err
	}
	if !ok {
		return placeholder(h.typ(), data), nil
	}
	who := env.Target
	if who == "" {
		who = "stack:" + env.Stack
	}
	key := who + "|" + cfg.Region + "|" + stack
	outs, hit := env.Cache.get(key)
	if !hit {
		outs, err = describeOutputs(ctx, cloudformation.NewFromConfig(cfg), stack)
		if err != nil {
			return nil, err
		}
		env.Cache.put(key, outs)
	}
	v, ok := outs[name]
	if !ok {
		return nil, fmt.Errorf("stack %q (region %s) has no output %q (%s)", stack, cfg.Region, name, available(outs))
	}
	return v, nil
}

func describeOutputs(ctx context.Context, c *cloudformation.Client, stack string) (map[string]string, error) {
	out, err := c.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stack)})
	if err != nil {
		if apiCode(err) == "ValidationError" && strings.Contains(err.Error(), "does not exist") {
			return nil, fmt.Errorf("stack %q does not exist", stack)
		}
		return nil, fmt.Errorf("describe stack %q: %w", stack, err)
	}
	if len(out.Stacks) == 0 {
		return nil, fmt.Errorf("stack %q does not exist", stack)
	}
	outs := map[string]string{}
	for _, o := range out.Stacks[0].Outputs {
		outs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	return outs, nil
}

// ---- kms ----------------------------------------------------------------

type kmsHandler struct{}

func (kmsHandler) Handle(ctx context.Context, data string, env *Env) (any, error) {
	value, err := readValue(data, env)
	if err != nil {
		return nil, err
	}
	region, blob := splitRegion(strings.TrimSpace(value), "@")
	cipher, err := base64.StdEncoding.DecodeString(strings.TrimSpace(blob))
	if err != nil {
		return nil, fmt.Errorf("kms: the ciphertext is not valid base64: %w", err)
	}
	cfg, ok, err := awsConfig(ctx, env, "kms", data, region)
	if err != nil {
		return nil, err
	}
	if !ok {
		return placeholder("kms", data), nil
	}
	out, err := kms.NewFromConfig(cfg).Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: cipher})
	if err != nil {
		return nil, fmt.Errorf("kms decrypt (region %s): %w", cfg.Region, err)
	}
	return string(out.Plaintext), nil
}

// ---- ssmstore -----------------------------------------------------------

type ssmHandler struct{}

func (ssmHandler) Handle(ctx context.Context, data string, env *Env) (any, error) {
	value, err := readValue(data, env)
	if err != nil {
		return nil, err
	}
	region, name := splitRegion(strings.TrimSpace(value), "@")
	name = strings.TrimSpace(name)
	cfg, ok, err := awsConfig(ctx, env, "ssmstore", data, region)
	if err != nil {
		return nil, err
	}
	if !ok {
		return placeholder("ssmstore", data), nil
	}
	out, err := ssm.NewFromConfig(cfg).GetParameter(ctx, &ssm.GetParameterInput{
		Name: aws.String(name), WithDecryption: aws.Bool(true),
	})
	if err != nil {
		var nf *ssmtypes.ParameterNotFound
		if errors.As(err, &nf) || apiCode(err) == "ParameterNotFound" {
			return nil, fmt.Errorf("SSMKey %q does not exist in region %s", name, cfg.Region)
		}
		return nil, fmt.Errorf("ssm get parameter %q (region %s): %w", name, cfg.Region, err)
	}
	if out.Parameter == nil {
		return nil, fmt.Errorf("SSMKey %q does not exist in region %s", name, cfg.Region)
	}
	return aws.ToString(out.Parameter.Value), nil
}

// ---- dynamodb -----------------------------------------------------------

type dynamoHandler struct{}

// ddbKey is one step of the attribute path: a name and the dynamodb type
// selected by its [X] suffix (S when none).
type ddbKey struct{ name, typ string }

var ddbTypeRE = regexp.MustCompile(`\[([^\]]+)]`)

type ddbQuery struct {
	region, table, pkName string
	keys                  []ddbKey // keys[0] is the partition key value
}

func parseDynamo(value string) (ddbQuery, error) {
	var q ddbQuery
	info, rest, ok := strings.Cut(value, "@")
	if !ok {
		//lint:ignore ST1005 stacker 1.7's exact message
		return q, errors.New("Please make sure to include a tablename")
	}
	if r, t, ok := strings.Cut(info, ":"); ok {
		q.region, q.table = r, t
	} else {
		q.table = info
	}
	if q.table == "" {
		//lint:ignore ST1005 stacker 1.7's exact message
		return q, errors.New("Please make sure to include a dynamodb table name")
	}
	pk, path, ok := strings.Cut(rest, ":")
	if !ok || pk == "" || path == "" {
		return q, fmt.Errorf("dynamodb value must be [region:]Table@PartitionKeyName:PartitionKeyValue.attribute[...] (got %q)", value)
	}
	q.pkName = pk
	for _, k := range strings.Split(path, ".") {
		t := "S"
		if m := ddbTypeRE.FindStringSubmatch(k); m != nil {
			switch m[1] {
			case "M", "S", "N", "L":
				t = m[1]
				k = strings.Replace(k, m[0], "", 1)
			default:
				//lint:ignore ST1005 stacker 1.7's exact message
				return q, fmt.Errorf("Stacker does not support looking up the datatype: %s", m[1])
			}
		}
		q.keys = append(q.keys, ddbKey{name: k, typ: t})
	}
	if len(q.keys) < 2 {
		return q, fmt.Errorf("dynamodb value names no attribute to read after the partition key value (got %q)", value)
	}
	return q, nil
}

func (dynamoHandler) CheckData(data string) error {
	if strings.HasPrefix(data, "file://") {
		return nil
	}
	_, err := parseDynamo(strings.TrimSpace(data))
	return err
}

func (dynamoHandler) Handle(ctx context.Context, data string, env *Env) (any, error) {
	value, err := readValue(data, env)
	if err != nil {
		return nil, err
	}
	q, err := parseDynamo(strings.TrimSpace(value))
	if err != nil {
		return nil, err
	}
	cfg, ok, err := awsConfig(ctx, env, "dynamodb", data, q.region)
	if err != nil {
		return nil, err
	}
	if !ok {
		return placeholder("dynamodb", data), nil
	}
	out, err := dynamodb.NewFromConfig(cfg).GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(q.table),
		Key:       map[string]ddbtypes.AttributeValue{q.pkName: &ddbtypes.AttributeValueMemberS{Value: q.keys[0].name}},
	})
	if err != nil {
		switch apiCode(err) {
		case "ResourceNotFoundException":
			//lint:ignore ST1005 stacker 1.7's exact message
			return nil, fmt.Errorf("Cannot find the dynamodb table: %s", q.table)
		case "ValidationException":
			//lint:ignore ST1005 stacker 1.7's exact message
			return nil, fmt.Errorf("No dynamodb record matched the partition key: %s", q.pkName)
		}
		return nil, fmt.Errorf("dynamodb get item from %s: %w", q.table, err)
	}
	if len(out.Item) == 0 {
		//lint:ignore ST1005 stacker 1.7's exact message
		return nil, fmt.Errorf("The dynamodb record could not be found using the following key: {%q: %q}", q.pkName, q.keys[0].name)
	}
	return ddbValue(out.Item, q.keys[1:])
}

// ddbValue follows keys through nested maps; the last key's type picks
// the result: S string, N number, L list.
func ddbValue(item map[string]ddbtypes.AttributeValue, keys []ddbKey) (any, error) {
	m := item
	for i, k := range keys {
		av, ok := m[k.name]
		if !ok {
			return nil, fmt.Errorf("dynamodb record has no attribute %q", k.name)
		}
		if i < len(keys)-1 {
			mm, ok := av.(*ddbtypes.AttributeValueMemberM)
			if !ok {
				return nil, fmt.Errorf("dynamodb attribute %q is not a map (mark maps with [M])", k.name)
			}
			m = mm.Value
			continue
		}
		return ddbAttr(av, k)
	}
	return nil, errors.New("dynamodb: no attribute to read")
}

func ddbAttr(av ddbtypes.AttributeValue, k ddbKey) (any, error) {
	switch k.typ {
	case "N":
		n, ok := av.(*ddbtypes.AttributeValueMemberN)
		if !ok {
			return nil, fmt.Errorf("dynamodb attribute %q is not a number", k.name)
		}
		if i, err := strconv.Atoi(n.Value); err == nil {
			return i, nil
		}
		f, err := strconv.ParseFloat(n.Value, 64)
		if err != nil {
			return nil, fmt.Errorf("dynamodb attribute %q: bad number %q", k.name, n.Value)
		}
		return f, nil
	case "L":
		l, ok := av.(*ddbtypes.AttributeValueMemberL)
		if !ok {
			return nil, fmt.Errorf("dynamodb attribute %q is not a list", k.name)
		}
		out := make([]any, 0, len(l.Value))
		for _, e := range l.Value {
			v, err := ddbPlain(e)
			if err != nil {
				return nil, fmt.Errorf("dynamodb attribute %q: %w", k.name, err)
			}
			out = append(out, v)
		}
		return out, nil
	case "M":
		v, err := ddbPlain(av)
		if err != nil {
			return nil, fmt.Errorf("dynamodb attribute %q: %w", k.name, err)
		}
		return v, nil
	default:
		s, ok := av.(*ddbtypes.AttributeValueMemberS)
		if !ok {
			return nil, fmt.Errorf("dynamodb attribute %q is not a string (add [N], [L] or [M])", k.name)
		}
		return s.Value, nil
	}
}

// ddbPlain converts an attribute value to plain Go values.
func ddbPlain(av ddbtypes.AttributeValue) (any, error) {
	switch t := av.(type) {
	case *ddbtypes.AttributeValueMemberS:
		return t.Value, nil
	case *ddbtypes.AttributeValueMemberN:
		if i, err := strconv.Atoi(t.Value); err == nil {
			return i, nil
		}
		return strconv.ParseFloat(t.Value, 64)
	case *ddbtypes.AttributeValueMemberBOOL:
		return t.Value, nil
	case *ddbtypes.AttributeValueMemberNULL:
		return nil, nil
	case *ddbtypes.AttributeValueMemberSS:
		out := make([]any, len(t.Value))
		for i, s := range t.Value {
			out[i] = s
		}
		return out, nil
	case *ddbtypes.AttributeValueMemberL:
		out := make([]any, 0, len(t.Value))
		for _, e := range t.Value {
			v, err := ddbPlain(e)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case *ddbtypes.AttributeValueMemberM:
		out := make(map[string]any, len(t.Value))
		for k, e := range t.Value {
			v, err := ddbPlain(e)
			if err != nil {
				return nil, err
			}
			out[k] = v
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported dynamodb value %T", av)
}

// ---- ami ----------------------------------------------------------------

type amiHandler struct{}

// amiArgRE is stacker's ([0-9a-zA-z_-]+:[^\s$]+), A-z range included.
var amiArgRE = regexp.MustCompile(`([0-9a-zA-z_-]+:[^\s$]+)`)

type amiQuery struct {
	region    string
	owners    []string
	nameRE    *regexp.Regexp
	nameRaw   string
	execUsers []string
	filters   []ec2query.Filter
}

func parseAMI(value string) (amiQuery, error) {
	var q amiQuery
	q.region, value = splitRegion(value, "@")
	for _, m := range amiArgRE.FindAllString(value, -1) {
		k, v, _ := strings.Cut(m, ":")
		switch k {
		case "owners":
			q.owners = strings.Split(v, ",")
		case "name_regex":
			q.nameRaw = v
		case "executable_users":
			q.execUsers = strings.Split(v, ",")
		default:
			q.filters = append(q.filters, ec2query.Filter{Name: k, Values: strings.Split(v, ",")})
		}
	}
	if len(q.owners) == 0 {
		return q, errors.New("'owners' value required when using ami")
	}
	if q.nameRaw == "" {
		return q, errors.New("'name_regex' value required when using ami")
	}
	re, err := regexp.Compile("^(?:" + q.nameRaw + ")$")
	if err != nil {
		return q, fmt.Errorf("ami name_regex %q: %w", q.nameRaw, err)
	}
	q.nameRE = re
	return q, nil
}

func (amiHandler) CheckData(data string) error {
	if strings.HasPrefix(data, "file://") {
		return nil
	}
	_, err := parseAMI(data)
	return err
}

func (amiHandler) Handle(ctx context.Context, data string, env *Env) (any, error) {
	value, err := readValue(data, env)
	if err != nil {
		return nil, err
	}
	q, err := parseAMI(strings.TrimSpace(value))
	if err != nil {
		return nil, err
	}
	cfg, ok, err := awsConfig(ctx, env, "ami", data, q.region)
	if err != nil {
		return nil, err
	}
	if !ok {
		return placeholder("ami", data), nil
	}
	in := &ec2query.DescribeImagesInput{Owners: q.owners, ExecutableUsers: q.execUsers, Filters: q.filters}
	images, err := ec2query.NewFromConfig(cfg).AllImages(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("describe images (region %s): %w", cfg.Region, err)
	}
	// Newest first; CreationDate is ISO 8601, so text order is time order.
	sort.SliceStable(images, func(i, j int) bool { return images[i].CreationDate > images[j].CreationDate })
	for _, im := range images {
		if q.nameRE.MatchString(im.Name) {
			return im.ImageID, nil
		}
	}
	//lint:ignore ST1005 stacker 1.7's exact message
	return nil, fmt.Errorf("Unable to find ec2 image with search string: %s", strings.TrimSpace(value))
}
