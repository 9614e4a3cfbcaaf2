"""Custom lookup handlers: a new-style class and an old-style function."""


class Upper(object):
    @classmethod
    def handle(cls, value, context, provider):
        return "%s-%s" % (context.namespace, value.upper())


def handler(value, context=None, provider=None):
    return {"mock": value, "list": [1, 2.5, "x"]}


class Boom(object):
    @classmethod
    def handle(cls, value, context, provider):
        return {}[value]
