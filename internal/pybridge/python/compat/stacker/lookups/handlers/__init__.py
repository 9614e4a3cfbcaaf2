"""Base class of new-style lookup handlers."""


class LookupHandler(object):
    @classmethod
    def handle(cls, value, context, provider):
        raise NotImplementedError()

    @classmethod
    def dependencies(cls, lookup_data):
        return set()
