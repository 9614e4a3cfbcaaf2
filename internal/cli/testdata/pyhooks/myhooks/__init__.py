"""Python hooks written against stacker's hook signature, for the bridge's
hook fallback tests (no troposphere, no boto3)."""
import os


def version(provider, context, **kwargs):
    # Reads the hook data of an earlier hook and the run's context.
    return {
        "version": kwargs["name"] + "-1.2.3",
        "namespace": context.namespace,
        "fqn": context.get_fqn("app"),
        "region": provider.region,
        "key_set": bool(os.environ.get("AWS_ACCESS_KEY_ID")),
        "earlier": context.hook_data.get("first", {}).get("x"),
    }


def stores(provider, context, **kwargs):
    context.set_hook_data("stored", {"by": "set_hook_data"})
    return True


def falsy(provider, context, **kwargs):
    return None


def raises(provider, context, **kwargs):
    raise ValueError("bad value %s" % kwargs.get("v"))


NOT_CALLABLE = 3
