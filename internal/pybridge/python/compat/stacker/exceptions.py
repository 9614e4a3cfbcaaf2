"""Exceptions blueprints raise or catch, with stacker 1.7's messages."""


class StackerError(Exception):
    pass


class VariableTypeRequired(StackerError):
    def __init__(self, blueprint_name, variable_name, *args, **kwargs):
        msg = 'Variable "%s" in blueprint "%s" does not have a type' % (variable_name, blueprint_name)
        super(VariableTypeRequired, self).__init__(msg, *args, **kwargs)


class MissingVariable(StackerError):
    def __init__(self, blueprint_name, variable_name, *args, **kwargs):
        msg = 'Variable "%s" in blueprint "%s" is missing' % (variable_name, blueprint_name)
        super(MissingVariable, self).__init__(msg, *args, **kwargs)


class UnresolvedVariable(StackerError):
    def __init__(self, blueprint_name, variable, *args, **kwargs):
        name = getattr(variable, "name", variable)
        msg = 'Variable "%s" in blueprint "%s" hasn\'t been resolved' % (name, blueprint_name)
        super(UnresolvedVariable, self).__init__(msg, *args, **kwargs)


class UnresolvedVariables(StackerError):
    def __init__(self, blueprint_name, *args, **kwargs):
        msg = 'Blueprint: "%s" hasn\'t resolved it\'s variables' % blueprint_name
        super(UnresolvedVariables, self).__init__(msg, *args, **kwargs)


class ValidatorError(StackerError):
    def __init__(self, variable, validator, value, exception=None):
        self.variable = variable
        self.validator = validator
        self.value = value
        self.exception = exception
        msg = "Validator '%s' failed for variable '%s' with value '%s'" % (validator, variable, value)
        if exception:
            msg += ": %s: %s" % (exception.__class__.__name__, exception)
        self.message = msg
        super(ValidatorError, self).__init__(msg)

    def __str__(self):
        return self.message


class InvalidUserdataPlaceholder(StackerError):
    def __init__(self, blueprint_name, exception_message, *args, **kwargs):
        msg = ("%s. Could not parse userdata in blueprint \"%s\". Make sure to "
               "escape all $ symbols with a $$." % (exception_message, blueprint_name))
        super(InvalidUserdataPlaceholder, self).__init__(msg, *args, **kwargs)


class ImproperlyConfigured(StackerError):
    def __init__(self, cls, error, *args, **kwargs):
        msg = "Class \"%s\" is improperly configured: %s" % (cls, error)
        super(ImproperlyConfigured, self).__init__(msg, *args, **kwargs)


class InvalidConfig(StackerError):
    def __init__(self, errors):
        self.errors = errors
        super(InvalidConfig, self).__init__(errors)


class FailedVariableLookup(StackerError):
    def __init__(self, variable_name, lookup, error, *args, **kwargs):
        self.lookup = lookup
        self.error = error
        msg = "Couldn't resolve lookup in variable `%s`, lookup: ${%s}: (%s) %s" % (
            variable_name, lookup, type(error), error)
        super(FailedVariableLookup, self).__init__(msg, *args, **kwargs)
