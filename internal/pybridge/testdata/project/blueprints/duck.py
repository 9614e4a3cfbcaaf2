"""Blueprints written against stacker's duck-typed contract (no troposphere):
constructed with name, context, mappings, description; given resolved
variables through resolve_variables; rendered with render_template()."""

import json
import os


class Echo(object):
    """Renders a template whose Metadata records everything it received."""

    def __init__(self, name, context, mappings=None, description=None):
        self.name = name
        self.context = context
        self.mappings = mappings
        self.description = description
        self.variables = None

    def resolve_variables(self, provided_variables):
        self.variables = dict((v.name, v.value) for v in provided_variables)

    def defined_variables(self):
        return {"Param1": {}, "Names": {}}

    def get_parameter_values(self):
        return dict((k, v) for k, v in self.variables.items() if k in ("Param1", "Names"))

    def render_template(self):
        t = {
            "Parameters": {"Param1": {"Type": "String"}, "Names": {"Type": "CommaDelimitedList"}},
            "Resources": {"Dummy": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
            "Outputs": {"DummyId": {"Value": "dummy-1234"}},
            "Metadata": {
                "Name": self.name,
                "Variables": self.variables,
                "Types": dict((k, type(v).__name__) for k, v in self.variables.items()),
                "Namespace": self.context.namespace,
                "FQN": self.context.get_fqn(self.name),
                "Environment": self.context.environment,
                "HookData": self.context.hook_data,
                "Mappings": self.mappings,
                "Pid": os.getpid(),
            },
        }
        if self.description:
            t["Description"] = self.description
        body = json.dumps(t, indent=self.context.template_indent, sort_keys=True)
        return "00000000", body


class Broken(object):
    def __init__(self, name, context, mappings=None, description=None):
        self.name = name

    def resolve_variables(self, provided_variables):
        pass

    def render_template(self):
        cidr = "10.0.0.0/33"
        raise ValueError("bad cidr %s" % cidr)  # the frame the error names


class Chatty(Echo):
    """Prints on stdout: the protocol must survive it."""

    def render_template(self):
        print("hello from a blueprint")
        print('{"ok": true, "result": "not the protocol"}')
        return Echo.render_template(self)


NOT_A_CLASS = 3
