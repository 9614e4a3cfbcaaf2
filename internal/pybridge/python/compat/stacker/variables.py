"""stacker.variables.Variable for code that builds variables itself.

Under stacker for Go, lookups are resolved before Python sees a value, so a
Variable here is always resolved and its value is used as given."""


class Variable(object):
    def __init__(self, name, value):
        self.name = name
        self._value = value

    @property
    def value(self):
        return self._value

    @property
    def resolved(self):
        return True

    def resolve(self, context, provider):
        return None

    def dependencies(self):
        return set()

    def __repr__(self):
        return "Variable<%s=%r>" % (self.name, self._value)
