"""A blueprint written against stacker's contract without troposphere."""

import json


class App(object):
    def __init__(self, name, context, mappings=None, description=None):
        self.name = name
        self.context = context
        self.mappings = mappings or {}
        self.description = description
        self.values = {}

    def resolve_variables(self, provided_variables):
        for v in provided_variables:
            self.values[v.name] = v.value

    def defined_variables(self):
        return dict((k, {}) for k in ("InstanceType", "Subnets", "Count", "Enabled", "Extra", "Env"))

    def get_parameter_values(self):
        return {"InstanceType": self.values["InstanceType"], "Subnets": self.values["Subnets"]}

    def render_template(self):
        t = {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Description": self.description,
            "Mappings": self.mappings,
            "Parameters": {
                "InstanceType": {"Type": "String"},
                "Subnets": {"Type": "List<AWS::EC2::Subnet::Id>"},
            },
            "Resources": {
                "Handle%d" % i: {"Type": "AWS::CloudFormation::WaitConditionHandle"}
                for i in range(self.values["Count"])
            },
            "Outputs": {
                "Extra": {"Value": json.dumps(self.values["Extra"], sort_keys=True)},
                "Fqn": {"Value": self.context.get_fqn(self.name)},
                "Env": {"Value": self.values["Env"]},
                "Enabled": {"Value": str(self.values["Enabled"])},
            },
        }
        return "version", json.dumps(t, indent=self.context.template_indent, sort_keys=True)


class Broken(App):
    def render_template(self):
        return {}["no such key"]


class Sleepy(App):
    def render_template(self):
        import os
        import time
        with open(os.environ["SLEEPY_PIDFILE"], "w") as f:
            f.write(str(os.getpid()))
        time.sleep(300)
