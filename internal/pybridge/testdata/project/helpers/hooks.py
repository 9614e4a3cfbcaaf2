"""Hooks written against stacker's hook contract: fn(context, provider, **kwargs)."""

import os
import subprocess
import time


def record(context, provider, **kwargs):
    return {
        "region": provider.region,
        "namespace": context.namespace,
        "has_key": os.environ.get("AWS_ACCESS_KEY_ID") == "AKIDBRIDGETEST",
        "args": kwargs,
    }


def store(context, provider, **kwargs):
    context.set_hook_data("stored", {"x": 1})
    return True


def falsy(context, provider, **kwargs):
    return False


def fail(context, provider, **kwargs):
    raise RuntimeError("hook broke on %s" % kwargs.get("what"))


def hang(context, provider, **kwargs):
    child = subprocess.Popen(["sleep", "300"])
    with open(kwargs["pidfile"], "w") as f:
        f.write("%d %d" % (os.getpid(), child.pid))
    time.sleep(300)
