"""The Python side of stacker's bridge (internal/pybridge).

The Go process starts this script once per run and talks to it with one JSON
object per line: a request on our stdin, its answer on our stdout. Before
anything else the script moves those two pipes to private file descriptors
and points the standard ones elsewhere, so a blueprint that prints or reads
stdin cannot corrupt the protocol: print() goes to stderr, input() sees EOF.

Requests carry an "op":

  render  import a blueprint class and render one stack's template
  hook    call a hook function (stacker's fn(context=, provider=, **args))
  lookup  call a custom lookup handler (new style class or old style function)
  check   import class paths and report the ones that do not import

Answers are {"ok": true, "result": ...} or {"ok": false, "error": {...}}
where the error names the exception, its message, the file:line of the
frame in the user's code and the whole traceback.

This file is part of stacker for Go; it is written against stacker 1.7's
documented blueprint contract and does not contain stacker's code.
"""

import importlib
import json
import logging
import os
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
COMPAT = os.path.join(HERE, "compat")

# ---- protocol pipes ------------------------------------------------------

_proto_in = os.fdopen(os.dup(0), "r", encoding="utf-8", newline="\n")
_proto_out = os.fdopen(os.dup(1), "w", encoding="utf-8", newline="\n")
_devnull = os.open(os.devnull, os.O_RDONLY)
os.dup2(_devnull, 0)
os.close(_devnull)
os.dup2(2, 1)  # user output goes to stderr
sys.stdin = open(os.devnull, "r")
sys.stdout = sys.stderr

# The script's own directory must not shadow user modules.
if sys.path and os.path.abspath(sys.path[0] or ".") == HERE:
    del sys.path[0]

VERBOSE = os.environ.get("STACKER_BRIDGE_VERBOSE") == "1"
logging.basicConfig(
    stream=sys.stderr,
    level=logging.DEBUG if VERBOSE else logging.INFO,
    format="%(levelname)s %(name)s: %(message)s" if VERBOSE else "%(message)s",
)
for noisy in ("botocore", "boto3", "urllib3", "s3transfer"):
    logging.getLogger(noisy).setLevel(logging.WARNING)
log = logging.getLogger("stacker.bridge")

_user_dirs = []  # sys_path entries and package source paths, for error frames


def _add_paths(paths):
    """Appends directories to sys.path, as stacker did for sys_path and
    package_sources; the compatibility package always stays last so that
    a real stacker package anywhere on the path wins."""
    changed = False
    for p in paths or []:
        p = os.path.abspath(p)
        if p not in _user_dirs:
            _user_dirs.append(p)
        if p not in sys.path:
            sys.path.append(p)
            changed = True
    if COMPAT in sys.path and sys.path[-1] != COMPAT:
        sys.path.remove(COMPAT)
        changed = True
    if COMPAT not in sys.path:
        sys.path.append(COMPAT)
        changed = True
    if changed:
        importlib.invalidate_caches()


# ---- errors --------------------------------------------------------------


class BridgeError(Exception):
    """An error the bridge itself found (not an exception of user code)."""

    def __init__(self, kind, message, **extra):
        Exception.__init__(self, message)
        self.kind = kind
        self.extra = extra


def _is_internal(filename):
    f = os.path.abspath(filename)
    return f.startswith(HERE + os.sep)


def _is_library(filename):
    f = os.path.abspath(filename)
    if f.startswith("<"):
        return True
    for d in _user_dirs:
        if f.startswith(d + os.sep):
            return False
    return ("site-packages" in f or "dist-packages" in f
            or f.startswith(os.path.abspath(sys.prefix) + os.sep)
            or f.startswith(os.path.abspath(sys.base_prefix) + os.sep))


def _user_frame(tb_frames):
    """The frame of the user's code closest to where the exception was
    raised: the deepest one under a sys_path or package source directory,
    else the deepest one that is neither the bridge nor a library."""
    for f in reversed(tb_frames):
        fa = os.path.abspath(f.filename)
        for d in _user_dirs:
            if fa.startswith(d + os.sep):
                return f
    for f in reversed(tb_frames):
        if not _is_internal(f.filename) and not _is_library(f.filename):
            return f
    for f in reversed(tb_frames):
        if not _is_internal(f.filename):
            return f
    return None


def _error(exc, kind="exception"):
    tb = traceback.extract_tb(exc.__traceback__)
    # A SyntaxError's own position is in the user's file, not in a frame.
    frame_file, frame_line = "", 0
    if isinstance(exc, SyntaxError) and exc.filename:
        frame_file, frame_line = exc.filename, exc.lineno or 0
    else:
        f = _user_frame(tb)
        if f is not None:
            frame_file, frame_line = f.filename, f.lineno
    out = {
        "kind": getattr(exc, "kind", kind),
        "type": type(exc).__name__,
        "message": str(exc),
        "file": frame_file,
        "line": frame_line,
        "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
    }
    out.update(getattr(exc, "extra", {}) or {})
    return out


# ---- importing -----------------------------------------------------------


def _missing_module(exc):
    name = getattr(exc, "name", None)
    if name:
        return name
    msg = str(exc)
    if "'" in msg:
        return msg.split("'")[1]
    return ""


def load_object(path, what):
    """Imports module.attr named by a dotted path, with one error kind per
    way it can fail."""
    if "." not in path:
        raise BridgeError("not_found", "%s %r is not a dotted path (module.Name)" % (what, path))
    module_name, attr = path.rsplit(".", 1)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        missing = _missing_module(exc)
        if missing == "troposphere" or missing.startswith("troposphere."):
            raise BridgeError("missing_troposphere",
                              "Python package troposphere is not installed (%s imports it)" % module_name,
                              module=missing, cause=_error(exc))
        if missing and (module_name == missing or module_name.startswith(missing + ".")):
            raise BridgeError("module_not_found",
                              "module %s not found on Python's path" % missing,
                              module=missing, sys_path=list(sys.path))
        err = _error(exc)
        raise BridgeError("import_error",
                          "importing %s failed: %s: %s" % (module_name, type(exc).__name__, exc),
                          module=missing, cause=err)
    except Exception as exc:  # an error at import time in the user's code
        err = _error(exc)
        raise BridgeError("import_error",
                          "importing %s failed: %s: %s" % (module_name, type(exc).__name__, exc),
                          cause=err)
    try:
        return getattr(module, attr)
    except AttributeError:
        names = sorted(n for n in dir(module) if not n.startswith("_"))
        raise BridgeError("not_found", "module %s has no %s %r" % (module_name, what, attr),
                          names=names, file=getattr(module, "__file__", "") or "")


def stacker_flavour():
    """Where `stacker` comes from: the compatibility package shipped in the
    binary, or a real installation (its path)."""
    try:
        import stacker  # noqa
    except Exception as exc:  # a real stacker that does not import
        return "broken: %s: %s" % (type(exc).__name__, exc)
    f = os.path.abspath(getattr(stacker, "__file__", "") or "")
    if f.startswith(COMPAT + os.sep):
        return "compat"
    return os.path.dirname(f)


def troposphere_version():
    try:
        import troposphere
    except Exception:
        return None
    return getattr(troposphere, "__version__", "unknown")


# ---- the context and provider stacker hands to user code -----------------


class Context(object):
    """What stacker's Context offers blueprints, hooks and lookups: the
    namespace, environment, mappings, hook data and the FQN rule."""

    def __init__(self, d):
        d = d or {}
        self.namespace = d.get("namespace", "")
        self.namespace_delimiter = d.get("namespace_delimiter", "-")
        self.environment = d.get("environment") or {}
        self.mappings = d.get("mappings") or {}
        self.hook_data = d.get("hook_data") or {}
        self.bucket_name = d.get("bucket_name") or None
        self.bucket_region = d.get("bucket_region") or None
        self.template_indent = d.get("template_indent") or 4
        self.tags = d.get("tags") or {}
        self.config_path = d.get("config_path", "")
        self.config_dir = d.get("config_dir", "")
        self.stack_names = d.get("stack_names") or []
        self.cache_dir = d.get("cache_dir", "")
        self.force_stacks = []
        self.stack_names_selected = []

    @property
    def _base_fqn(self):
        return self.namespace.replace(".", "-").lower()

    def get_fqn(self, name=None):
        base = self._base_fqn
        if not name:
            return base
        if not base:
            return name
        prefix = base + self.namespace_delimiter
        if name.startswith(prefix):
            return name
        return prefix + name

    def set_hook_data(self, key, data):
        if key in self.hook_data:
            raise KeyError("Hook data for key %s already exists, each hook "
                           "must have a unique data_key." % key)
        self.hook_data[key] = data


class Provider(object):
    """The provider-like argument of hooks and lookups: a region and a
    boto3 session for the target's credentials (handed over in this
    process's environment for the duration of the call)."""

    def __init__(self, d):
        d = d or {}
        self.region = d.get("region") or None
        self.profile = None
        self._session = None

    @property
    def session(self):
        if self._session is None:
            import boto3
            self._session = boto3.Session(region_name=self.region)
        return self._session

    def get_session(self, region=None, profile=None):
        import boto3
        return boto3.Session(region_name=region or self.region)


class _AWSEnv(object):
    """Puts the target's credentials into os.environ for one call and
    restores the environment afterwards."""

    KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
            "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
            "AWS_ENDPOINT_URL")

    def __init__(self, env):
        self.env = env or {}
        self.saved = {}

    def __enter__(self):
        if not self.env:
            return self
        for k in self.KEYS:
            self.saved[k] = os.environ.pop(k, None)
        for k, v in self.env.items():
            os.environ[k] = v
        return self

    def __exit__(self, *exc):
        if not self.env:
            return False
        for k in set(self.KEYS) | set(self.env):
            os.environ.pop(k, None)
        for k, v in self.saved.items():
            if v is not None:
                os.environ[k] = v
        return False


# ---- values crossing the bridge ------------------------------------------


class ResolvedVariable(object):
    """A variable whose lookups the Go side has resolved: stacker's
    resolve_variables reads .name, .value and .resolved."""

    resolved = True

    def __init__(self, name, value):
        self.name = name
        self.value = value

    def dependencies(self):
        return set()

    def __repr__(self):
        return "Variable<%s=%r>" % (self.name, self.value)


def _helper_from_dict(value):
    """A CloudFormation intrinsic written as a dict ({"Ref": x},
    {"Fn::Join": [...]}) becomes the troposphere object stacker's lookups
    return (Ref, Join, Base64...), so it can be assigned to troposphere
    properties."""
    import troposphere
    if isinstance(value, list):
        return [_helper_from_dict(v) for v in value]
    if not (isinstance(value, dict) and len(value) == 1):
        if isinstance(value, dict):
            return dict((k, _helper_from_dict(v)) for k, v in value.items())
        return value
    (k, v), = value.items()
    if k == "Ref" and isinstance(v, str):
        return troposphere.Ref(v)
    if k == "Fn::Join" and isinstance(v, list) and len(v) == 2:
        return troposphere.Join(v[0], _helper_from_dict(v[1]))
    if k == "Fn::Base64":
        return troposphere.Base64(_helper_from_dict(v))
    if k == "Fn::GetAtt" and isinstance(v, list) and len(v) == 2:
        return troposphere.GetAtt(v[0], v[1])
    if k == "Fn::Sub":
        return troposphere.Sub(*v) if isinstance(v, list) else troposphere.Sub(v)
    if k.startswith("Fn::") or k == "Condition":
        return troposphere.GenericHelperFn(value)
    return value


def _adapt_variables(bp, variables):
    """Variables whose declared type is a troposphere helper (AWSHelperFn)
    get intrinsic dicts turned into troposphere objects; variables whose
    declared type is a troposphere property class (awslambda.Code, the type
    of stacker_blueprints' aws_lambda.Function Code) get a mapping turned
    into that object with from_dict, as stacker's hooks handed such objects
    over through hook data; everything else is passed as the plain JSON
    value stacker's config would give."""
    try:
        defined = bp.defined_variables()
    except Exception:
        return variables
    try:
        import troposphere
    except Exception:
        return variables
    out = dict(variables)
    for name, value in variables.items():
        t = (defined.get(name) or {}).get("type")
        if isinstance(t, type) and issubclass(t, troposphere.AWSHelperFn) and isinstance(value, (dict, list)):
            out[name] = _helper_from_dict(value)
        elif isinstance(t, type) and issubclass(t, troposphere.AWSProperty) and isinstance(value, dict):
            out[name] = t.from_dict(None, _helper_from_dict(value))
    return out


def _jsonable(v):
    """Turns a hook's or lookup's return value into JSON: troposphere
    objects through to_dict(), sets as lists, anything else as its str()."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, dict):
        return dict((str(k), _jsonable(x)) for k, x in v.items())
    if isinstance(v, (list, tuple, set, frozenset)):
        return [_jsonable(x) for x in v]
    if hasattr(v, "to_dict"):
        try:
            return _jsonable(v.to_dict())
        except Exception:
            pass
    if hasattr(v, "data") and isinstance(getattr(v, "data"), dict):
        return _jsonable(v.data)
    return str(v)


# ---- operations ----------------------------------------------------------

_classes = {}


def op_render(req):
    class_path = req["class_path"]
    cls = _classes.get(class_path)
    if cls is None:
        cls = load_object(class_path, "class")
        if not isinstance(cls, type):
            raise BridgeError("not_a_blueprint", "%s is a %s, not a blueprint class" % (class_path, type(cls).__name__))
        if not (hasattr(cls, "rendered") or hasattr(cls, "render_template")):
            raise BridgeError("not_a_blueprint",
                              'Stack class %s does not have a "rendered" attribute.' % class_path)
        _classes[class_path] = cls
    context = Context(req.get("context"))
    bp = cls(name=req["name"], context=context, mappings=context.mappings or None,
             description=req.get("description") or None)
    variables = _adapt_variables(bp, req.get("variables") or {})
    provided = [ResolvedVariable(k, v) for k, v in variables.items()]
    bp.resolve_variables(provided)
    if hasattr(bp, "render_template"):
        rendered = bp.render_template()
        if isinstance(rendered, tuple):
            rendered = rendered[1]
    else:
        rendered = bp.rendered
    if isinstance(rendered, bytes):
        rendered = rendered.decode("utf-8")
    if not isinstance(rendered, str):
        raise BridgeError("bad_result", "%s rendered a %s, not a template string" % (class_path, type(rendered).__name__))
    params = {}
    if hasattr(bp, "get_parameter_values"):
        params = bp.get_parameter_values() or {}
    defined = []
    if hasattr(bp, "defined_variables"):
        try:
            defined = sorted(bp.defined_variables().keys())
        except Exception:
            defined = []
    change_set = False
    try:
        change_set = bool(bp.requires_change_set)
    except Exception:
        pass
    return {
        "template": rendered,
        "parameters": _jsonable(params),
        "defined_variables": defined,
        "requires_change_set": change_set,
    }


def op_hook(req):
    fn = load_object(req["path"], "function")
    if not callable(fn):
        raise BridgeError("not_callable", "%s is a %s, not a function" % (req["path"], type(fn).__name__))
    context = Context(req.get("context"))
    before = set(context.hook_data)
    provider = Provider(req.get("provider"))
    with _AWSEnv(req.get("aws_env")):
        result = fn(context=context, provider=provider, **(req.get("args") or {}))
    # Data the hook stored itself with context.set_hook_data.
    stored = dict((k, v) for k, v in context.hook_data.items() if k not in before)
    return {"value": _jsonable(result), "set_hook_data": _jsonable(stored)}


def op_lookup(req):
    h = load_object(req["path"], "lookup handler")
    context = Context(req.get("context"))
    provider = Provider(req.get("provider"))
    value = req.get("value", "")
    with _AWSEnv(req.get("aws_env")):
        if isinstance(h, type):
            if not hasattr(h, "handle"):
                raise BridgeError("not_callable", "lookup class %s has no handle() classmethod" % req["path"])
            result = h.handle(value, context=context, provider=provider)
        elif callable(h):
            result = h(value, context=context, provider=provider)
        else:
            raise BridgeError("not_callable", "%s is a %s, not a lookup handler" % (req["path"], type(h).__name__))
    return {"value": _jsonable(result)}


def op_lookup_dependencies(req):
    h = load_object(req["path"], "lookup handler")
    deps = []
    if isinstance(h, type) and hasattr(h, "dependencies"):
        deps = sorted(h.dependencies(req.get("value", "")) or [])
    return {"dependencies": deps}


def op_check(req):
    """Imports each path (a blueprint class, or with "what": "function" a
    hook function) and reports the ones that do not import, or that do not
    name a callable."""
    problems = {}
    what = req.get("what") or "class"
    for path in req.get("class_paths") or []:
        try:
            obj = load_object(path, what)
            if what == "function" and not callable(obj):
                raise BridgeError("not_callable", "%s is a %s, not a function" % (path, type(obj).__name__))
        except BridgeError as exc:
            problems[path] = _error(exc)
        except Exception as exc:
            problems[path] = _error(exc)
    return {"problems": problems}


OPS = {
    "render": op_render,
    "hook": op_hook,
    "lookup": op_lookup,
    "lookup_dependencies": op_lookup_dependencies,
    "check": op_check,
}


def _send(obj):
    _proto_out.write(json.dumps(obj, separators=(",", ":")) + "\n")
    _proto_out.flush()


def main():
    _add_paths(json.loads(os.environ.get("STACKER_BRIDGE_PATHS", "[]")))
    _send({
        "hello": 1,
        "python": "%d.%d.%d" % sys.version_info[:3],
        "executable": sys.executable,
        "stacker": stacker_flavour(),
        "troposphere": troposphere_version(),
    })
    for line in _proto_in:
        line = line.strip()
        if not line:
            continue
        rid = None
        try:
            req = json.loads(line)
            rid = req.get("id")
            _add_paths(req.get("sys_path"))
            op = OPS.get(req.get("op"))
            if op is None:
                raise BridgeError("protocol", "unknown op %r" % req.get("op"))
            result = op(req)
            _send({"id": rid, "ok": True, "result": result})
        except BridgeError as exc:
            err = _error(exc, exc.kind)
            cause = exc.extra.get("cause") if exc.extra else None
            if cause:
                err["file"], err["line"] = cause.get("file", ""), cause.get("line", 0)
                err["traceback"] = cause.get("traceback", "")
                err["type"] = cause.get("type", "")
            _send({"id": rid, "ok": False, "error": err})
        except BaseException as exc:  # user code may raise SystemExit too
            try:
                _send({"id": rid, "ok": False, "error": _error(exc)})
            except Exception:
                return 1
            if isinstance(exc, KeyboardInterrupt):
                return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
