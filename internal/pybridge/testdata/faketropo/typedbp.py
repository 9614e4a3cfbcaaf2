"""A blueprint whose variables are typed with troposphere classes, as
stacker_blueprints.aws_lambda.Function's Code is (awslambda.Code)."""
import json

import troposphere


class Typed(object):
    VARIABLES = {
        "Code": {"type": troposphere.Code},
        "Name": {"type": troposphere.AWSHelperFn},
    }

    def __init__(self, name, context, mappings=None, description=None):
        self.name = name

    def defined_variables(self):
        return self.VARIABLES

    def resolve_variables(self, provided):
        self.vars = {}
        for v in provided:
            t = self.VARIABLES[v.name]["type"]
            if not isinstance(v.value, t):
                raise ValueError("Value for variable %s must be of type %s. Actual type: %s." % (v.name, t, type(v.value)))
            self.vars[v.name] = v.value

    def render_template(self):
        return "v", json.dumps({"Resources": {"Fn": {"Type": "AWS::Lambda::Function", "Properties": {
            "Code": self.vars["Code"], "FunctionName": self.vars["Name"]}}}}, sort_keys=True, default=lambda o: o.to_dict())
