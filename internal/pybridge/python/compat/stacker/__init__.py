"""Compatibility package shipped inside stacker for Go.

It provides the parts of stacker 1.7's Python API that blueprints, hooks and
lookups import (stacker.blueprints.base.Blueprint, the variable types of
stacker.blueprints.variables.types, stacker.util helpers, the lookup handler
base class), so troposphere blueprints run without the stacker package
installed. It is only on Python's path after every other entry: an
installed stacker (or one in sys_path) is used instead.

Written for stacker for Go from the documented behaviour of stacker 1.7;
it contains no code of stacker itself.
"""

__version__ = "1.7.2"
STACKER_GO_COMPAT = True
