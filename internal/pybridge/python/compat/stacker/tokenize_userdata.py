"""cf_tokenize: userdata text with Ref(...) and Fn::GetAtt(...) markers turned
into a list for Fn::Join."""

import re

_FUNCS = ("Ref", "Fn::GetAtt")
_SPLIT = re.compile("((?:%s)\\([^)]+\\))" % "|".join(re.escape(f) for f in _FUNCS))
_CALL = re.compile("^(%s)\\(([^)]+)\\)$" % "|".join(re.escape(f) for f in _FUNCS))


def cf_tokenize(s):
    from troposphere import GetAtt, Ref
    out = []
    for piece in _SPLIT.split(s):
        m = _CALL.match(piece)
        if not m:
            out.append(piece)
            continue
        args = [a.strip("'\" ") for a in m.group(2).split(",")]
        fn = Ref if m.group(1) == "Ref" else GetAtt
        out.append(fn(*args).data)
    return out
