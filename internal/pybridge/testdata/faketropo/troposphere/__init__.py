"""A stand-in for the few troposphere names the bridge uses, so a test can
check how variables typed with troposphere classes are handed over without
troposphere installed. It is not troposphere."""


class AWSHelperFn(object):
    def __init__(self, data=None):
        self.data = data

    def to_dict(self):
        return self.data


class Ref(AWSHelperFn):
    def __init__(self, name):
        AWSHelperFn.__init__(self, {"Ref": name})


class Join(AWSHelperFn):
    def __init__(self, sep, values):
        AWSHelperFn.__init__(self, {"Fn::Join": [sep, values]})


class Base64(AWSHelperFn):
    def __init__(self, v):
        AWSHelperFn.__init__(self, {"Fn::Base64": v})


class GetAtt(AWSHelperFn):
    def __init__(self, r, a):
        AWSHelperFn.__init__(self, {"Fn::GetAtt": [r, a]})


class Sub(AWSHelperFn):
    def __init__(self, *a):
        AWSHelperFn.__init__(self, {"Fn::Sub": list(a) if len(a) > 1 else a[0]})


class GenericHelperFn(AWSHelperFn):
    pass


class AWSProperty(object):
    props = {}

    def __init__(self, title=None, **kwargs):
        self.title = title
        self.properties = kwargs

    @classmethod
    def from_dict(cls, title, d):
        return cls(title, **d)

    def to_dict(self):
        return dict(self.properties)


class Code(AWSProperty):
    """Like troposphere.awslambda.Code."""
