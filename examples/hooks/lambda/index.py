def handler(event, context):
    return {"greeting": "hello"}
