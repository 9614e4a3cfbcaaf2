"""Helpers of stacker.util that blueprints use."""

import importlib
import os
import re
import sys


def cf_safe_name(name):
    """A CloudFormation logical id from any string: alphanumeric words,
    each capitalized, everything else dropped ("my-bucket_1" -> "MyBucket1")."""
    words = re.split(r"[^0-9a-zA-Z]+", str(name))
    return "".join(w[:1].upper() + w[1:] for w in words if w)


def load_object_from_string(fqcn):
    """Imports "pkg.module.Name" and returns Name."""
    module_path = "__main__"
    object_name = fqcn
    if "." in fqcn:
        module_path, object_name = fqcn.rsplit(".", 1)
        importlib.import_module(module_path)
    return getattr(sys.modules[module_path], object_name)


def get_config_directory():
    """The directory of the config being run (stacker for Go passes it)."""
    return os.environ.get("STACKER_CONFIG_DIR") or os.getcwd()


def read_value_from_path(value):
    """The value itself, or the contents of the file it names with
    file:// (relative to the config's directory)."""
    prefix = "file://"
    if value.startswith(prefix):
        path = value[len(prefix):]
        full = os.path.join(get_config_directory(), path)
        with open(full) as f:
            return f.read()
    return value


def merge_map(a, b):
    """Merges b over a: mappings recursively, lists concatenated, other
    values of b win."""
    if isinstance(a, list) and isinstance(b, list):
        return a + b
    if not isinstance(a, dict) or not isinstance(b, dict):
        return b
    out = dict(a)
    for k, v in b.items():
        out[k] = merge_map(a[k], v) if k in a else v
    return out


def uppercase_first_letter(s):
    return s[:1].upper() + s[1:]


def camel_to_snake(name):
    s1 = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s1).lower()
