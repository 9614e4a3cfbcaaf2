import json

import awacs_not_installed_here  # noqa: F401  (line 3)


class Thing(object):
    pass
