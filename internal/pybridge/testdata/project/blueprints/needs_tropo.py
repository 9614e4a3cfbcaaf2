from troposphere import Template  # noqa: F401


class Tropo(object):
    pass
