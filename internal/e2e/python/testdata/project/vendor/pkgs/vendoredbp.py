import json


class Queue(object):
    def __init__(self, name, context, mappings=None, description=None):
        self.name = name

    def resolve_variables(self, provided_variables):
        self.queue = dict((v.name, v.value) for v in provided_variables)["QueueName"]

    def render_template(self):
        return "v", json.dumps({"Resources": {"Queue": {"Type": "AWS::SQS::Queue",
                                "Properties": {"QueueName": self.queue}}}}, indent=4)
