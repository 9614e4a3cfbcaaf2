class Shout(object):
    @classmethod
    def handle(cls, value, context, provider):
        return value.upper()


def legacy_handler(value, context=None, provider=None):
    return {"from": "legacy", "value": value, "namespace": context.namespace}
