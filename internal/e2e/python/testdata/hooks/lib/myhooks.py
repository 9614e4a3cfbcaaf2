"""Python hooks with stacker's signature (duck-typed: no boto3 needed)."""
import os


def version(provider, context, **kwargs):
    return {
        "version": "%s-%s" % (kwargs["name"], context.environment.get("release", "?")),
        "region": provider.region,
        "has_credentials": "yes" if os.environ.get("AWS_ACCESS_KEY_ID") else "no",
    }


def after(provider, context, **kwargs):
    # post_build sees what pre_build stored.
    with open(kwargs["marker"], "w") as f:
        f.write(context.hook_data["ver"]["version"])
    return True


def broken(provider, context, **kwargs):
    return {"x": 1}["y"]
