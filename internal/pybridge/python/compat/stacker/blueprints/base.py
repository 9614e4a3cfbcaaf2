"""stacker.blueprints.base for troposphere blueprints.

Blueprint(name, context, mappings=None, description=None) is the class user
blueprints subclass: they declare VARIABLES and implement create_template(),
filling self.template (a troposphere Template). render_template() imports the
config's mappings, calls create_template(), sets the stack's description,
adds one Parameter per variable of a CFNType and renders JSON with the
context's template_indent; it returns (version, json) where version is the
first 8 hex digits of the MD5 of the JSON, as stacker 1.7 does.
"""

import copy
import hashlib
import logging
import string

from troposphere import Output, Parameter, Ref, Template

from ..exceptions import (
    InvalidUserdataPlaceholder,
    MissingVariable,
    UnresolvedVariable,
    UnresolvedVariables,
    ValidatorError,
    VariableTypeRequired,
)
from ..util import read_value_from_path
from ..variables import Variable
from .variables.types import CFNType, TroposphereType

logger = logging.getLogger(__name__)

# Variable definition keys copied onto the CloudFormation Parameter of a
# CFNType variable, with the Parameter attribute each one sets.
PARAMETER_PROPERTIES = {
    "default": "Default",
    "description": "Description",
    "no_echo": "NoEcho",
    "allowed_values": "AllowedValues",
    "allowed_pattern": "AllowedPattern",
    "max_length": "MaxLength",
    "min_length": "MinLength",
    "max_value": "MaxValue",
    "min_value": "MinValue",
    "constraint_description": "ConstraintDescription",
}


class CFNParameter(object):
    """A value to send as a CloudFormation parameter: strings and lists as
    given, ints as their decimal string, bools as "true"/"false"."""

    def __init__(self, name, value):
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, int):
            value = str(value)
        elif not isinstance(value, (str, list)):
            raise ValueError("CFNParameter (%s) value must be one of %s got: %s"
                             % (name, "str, int, bool, or list", value))
        self.name = name
        self.value = value

    def __repr__(self):
        return "CFNParameter({}: {})".format(self.name, self.value)

    def to_parameter_value(self):
        return self.value

    @property
    def ref(self):
        return Ref(self.name)


def build_parameter(name, properties):
    """A troposphere Parameter of properties["type"] with the variable's
    CloudFormation keys (see PARAMETER_PROPERTIES)."""
    param = Parameter(name, Type=properties.get("type"))
    for key, attr in PARAMETER_PROPERTIES.items():
        if key in properties:
            setattr(param, attr, properties[key])
    return param


def validate_variable_type(var_name, var_type, value):
    """CFNType values become CFNParameter, TroposphereType values are
    created, and any other type is a strict isinstance check."""
    if isinstance(var_type, CFNType):
        return CFNParameter(name=var_name, value=value)
    if isinstance(var_type, TroposphereType):
        try:
            return var_type.create(value)
        except Exception as exc:
            raise ValidatorError(var_name, "%s.create" % var_type.resource_name, value, exc)
    if not isinstance(value, var_type):
        raise ValueError("Value for variable %s must be of type %s. Actual type: %s."
                         % (var_name, var_type, type(value)))
    return value


def validate_allowed_values(allowed_values, value):
    """allowed_values is checked here for non-CloudFormation variables only;
    for CFNParameter values CloudFormation checks the Parameter's
    AllowedValues."""
    if not allowed_values or isinstance(value, CFNParameter):
        return True
    return value in allowed_values


def resolve_variable(var_name, var_def, provided_variable, blueprint_name):
    """The value of one variable: the provided one or the default, through
    the validator, the type check and allowed_values."""
    if "type" not in var_def:
        raise VariableTypeRequired(blueprint_name, var_name)
    var_type = var_def["type"]
    if provided_variable:
        if not provided_variable.resolved:
            raise UnresolvedVariable(blueprint_name, provided_variable)
        value = provided_variable.value
    elif "default" in var_def:
        value = var_def["default"]
    else:
        raise MissingVariable(blueprint_name, var_name)

    validator = var_def.get("validator")
    if validator is not None:
        try:
            value = validator(value)
        except Exception as exc:
            raise ValidatorError(var_name, getattr(validator, "__name__", repr(validator)), value, exc)

    value = validate_variable_type(var_name, var_type, value)

    allowed = var_def.get("allowed_values")
    if not validate_allowed_values(allowed, value):
        raise ValueError("Invalid value passed to '%s' in blueprint: %s. Got: '%s', expected one of %s"
                         % (var_name, blueprint_name, value, allowed))
    return value


def parse_user_data(variables, raw_user_data, blueprint_name):
    """raw_user_data as a string.Template over the variables (CFNParameter
    values by their parameter value)."""
    values = {}
    for k, v in variables.items():
        values[k] = v.to_parameter_value() if type(v) is CFNParameter else v
    try:
        return string.Template(raw_user_data).substitute(values)
    except ValueError as exc:
        raise InvalidUserdataPlaceholder(blueprint_name, exc.args[0])
    except KeyError as exc:
        raise MissingVariable(blueprint_name, exc)


class Blueprint(object):
    """Base class of troposphere blueprints (see the module comment)."""

    def __init__(self, name, context, mappings=None, description=None):
        self.name = name
        self.context = context
        self.mappings = mappings
        self.outputs = {}
        self.description = description
        self.resolved_variables = None
        self.reset_template()
        if hasattr(self, "PARAMETERS") or hasattr(self, "LOCAL_PARAMETERS"):
            raise AttributeError(
                "DEPRECATION WARNING: Blueprint %s uses deprecated PARAMETERS or "
                "LOCAL_PARAMETERS, rather than VARIABLES. Please update your "
                "blueprints. See https://stacker.readthedocs.io/en/latest/"
                "blueprints.html#variables for aditional information." % name)

    # -- variables --------------------------------------------------------

    def defined_variables(self):
        return copy.deepcopy(getattr(self, "VARIABLES", {}))

    def resolve_variables(self, provided_variables):
        provided = dict((v.name, v) for v in provided_variables)
        self.resolved_variables = {}
        for name, definition in self.defined_variables().items():
            self.resolved_variables[name] = resolve_variable(
                name, definition, provided.get(name), self.name)

    def get_variables(self):
        if self.resolved_variables is None:
            raise UnresolvedVariables(self.name)
        return self.resolved_variables

    def get_cfn_parameters(self):
        return dict((k, v.to_parameter_value()) for k, v in self.get_variables().items()
                    if hasattr(v, "to_parameter_value"))

    def get_parameter_values(self):
        return self.get_cfn_parameters()

    def get_parameter_definitions(self):
        out = {}
        for name, attrs in self.defined_variables().items():
            t = attrs.get("type")
            if isinstance(t, CFNType):
                d = copy.deepcopy(attrs)
                d["type"] = t.parameter_type
                out[name] = d
        return out

    def get_required_parameter_definitions(self):
        return dict((k, v) for k, v in self.get_parameter_definitions().items()
                    if "Default" not in v)

    def get_output_definitions(self):
        return dict((k, o.to_dict()) for k, o in self.template.outputs.items())

    # -- template ---------------------------------------------------------

    def reset_template(self):
        self.template = Template()
        self._rendered = None
        self._version = None

    def import_mappings(self):
        for name, mapping in (self.mappings or {}).items():
            logger.debug("Adding mapping %s.", name)
            self.template.add_mapping(name, mapping)

    def setup_parameters(self):
        for name, attrs in self.get_parameter_definitions().items():
            self.template.add_parameter(build_parameter(name, attrs))

    def set_template_description(self, description):
        t = self.template
        if hasattr(t, "set_description"):
            t.set_description(description)
        else:
            t.add_description(description)

    def add_output(self, name, value):
        self.template.add_output(Output(name, Value=value))

    def create_template(self):
        raise NotImplementedError

    def render_template(self):
        self.import_mappings()
        self.create_template()
        if self.description:
            self.set_template_description(self.description)
        self.setup_parameters()
        indent = getattr(self.context, "template_indent", 4)
        rendered = self.template.to_json(indent=indent)
        return hashlib.md5(rendered.encode()).hexdigest()[:8], rendered

    @property
    def rendered(self):
        if not self._rendered:
            self._version, self._rendered = self.render_template()
        return self._rendered

    @property
    def version(self):
        if not self._version:
            self._version, self._rendered = self.render_template()
        return self._version

    @property
    def requires_change_set(self):
        return getattr(self.template, "transform", None) is not None

    def to_json(self, variables=None):
        """A standalone render: variables as given, CloudFormation
        parameters not given get 'unused_value'."""
        variables = variables or {}
        provided = [Variable(k, v) for k, v in variables.items()]
        for name in self.get_parameter_definitions():
            if name not in variables:
                provided.append(Variable(name, "unused_value"))
        self.resolve_variables(provided)
        return self.render_template()[1]

    def read_user_data(self, user_data_path):
        raw = read_value_from_path(user_data_path)
        return parse_user_data(self.get_variables(), raw, self.name)
