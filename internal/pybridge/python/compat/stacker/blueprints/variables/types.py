"""Variable types for blueprint VARIABLES: CloudFormation parameter types
(CFNType instances, whose variables become template Parameters) and
TroposphereType (values built into troposphere objects)."""


class TroposphereType(object):
    """A variable whose value is turned into a troposphere object with the
    type's from_dict. Resources take {title: properties} (one entry unless
    many); property types take a dict, or a list of dicts when many.
    optional lets None or an empty value through as None; validate checks
    the created objects' required properties."""

    def __init__(self, defined_type, many=False, optional=False, validate=True):
        if not hasattr(defined_type, "from_dict"):
            raise ValueError("Type must have `from_dict` attribute")
        self._type = defined_type
        self._many = many
        self._optional = optional
        self._validate = validate

    @property
    def resource_name(self):
        return getattr(self._type, "resource_name", None) or self._type.__name__

    def create(self, value):
        if self._optional and (value is None or len(value) == 0):
            return None
        build = self._type.from_dict
        if hasattr(self._type, "resource_type"):
            if not isinstance(value, dict):
                raise ValueError("Resources must be specified as a dict of title to parameters")
            if len(value) > 1 and not self._many:
                raise ValueError("Only one resource can be provided for this TroposphereType variable")
            objs = [build(title, props) for title, props in value.items()]
        elif self._many:
            objs = [build(None, props) for props in value]
        elif isinstance(value, dict):
            objs = [build(None, value)]
        else:
            raise ValueError("TroposphereType for a single non-resource"
                             "type must be specified as a dict of parameters")
        if self._validate:
            for o in objs:
                o._validate_props()
        if self._many:
            return objs
        return objs[0]


class CFNType(object):
    """A CloudFormation parameter type: a variable of this type becomes a
    Parameter of the template and its value is sent as that parameter."""

    def __init__(self, parameter_type):
        self.parameter_type = parameter_type

    def __repr__(self):
        return "CFNType(%r)" % self.parameter_type


CFNString = CFNType("String")
CFNNumber = CFNType("Number")
CFNNumberList = CFNType("List<Number>")
CFNCommaDelimitedList = CFNType("CommaDelimitedList")

# AWS-specific types: EC2<Name> is AWS::EC2::..., with a List<> variant
# (except the key pair), and SSM parameter-value wrappers of each.
_AWS_TYPES = [
    ("EC2AvailabilityZoneName", "AWS::EC2::AvailabilityZone::Name", True),
    ("EC2ImageId", "AWS::EC2::Image::Id", True),
    ("EC2InstanceId", "AWS::EC2::Instance::Id", True),
    ("EC2KeyPairKeyName", "AWS::EC2::KeyPair::KeyName", False),
    ("EC2SecurityGroupGroupName", "AWS::EC2::SecurityGroup::GroupName", True),
    ("EC2SecurityGroupId", "AWS::EC2::SecurityGroup::Id", True),
    ("EC2SubnetId", "AWS::EC2::Subnet::Id", True),
    ("EC2VolumeId", "AWS::EC2::Volume::Id", True),
    ("EC2VPCId", "AWS::EC2::VPC::Id", True),
    ("Route53HostedZoneId", "AWS::Route53::HostedZone::Id", True),
]

_g = globals()
for _name, _cfn, _has_list in _AWS_TYPES:
    _g[_name] = CFNType(_cfn)
    if _has_list:
        _g[_name + "List"] = CFNType("List<%s>" % _cfn)

SSMParameterName = CFNType("AWS::SSM::Parameter::Name")
SSMParameterValueString = CFNType("AWS::SSM::Parameter::Value<String>")
SSMParameterValueStringList = CFNType("AWS::SSM::Parameter::Value<List<String>>")
SSMParameterValueCommaDelimitedList = CFNType("AWS::SSM::Parameter::Value<CommaDelimitedList>")
for _name, _cfn, _has_list in _AWS_TYPES:
    _g["SSMParameterValue" + _name] = CFNType("AWS::SSM::Parameter::Value<%s>" % _cfn)
for _name, _cfn, _has_list in _AWS_TYPES:
    if _has_list:
        _g["SSMParameterValue" + _name + "List"] = CFNType("AWS::SSM::Parameter::Value<List<%s>>" % _cfn)
del _g, _name, _cfn, _has_list
