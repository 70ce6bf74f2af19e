"""AI Estate stack program: validate this stack's config, then build its estate.

`pulumi up` runs this for one stack (`stacks/Pulumi.<stack>.yaml`); `estate preview/check` run
it offline under the Pulumi mock runtime. Config errors stop the program before any resource is
declared, one line per error naming the stack file and key.
"""

import pulumi

from estate.stack.config import ConfigError
from estate.stack.program import build, config_from_pulumi

try:
    # Every rule of `estate validate` that needs no other stack file: under `pulumi up` the
    # platform a BU builds on is judged by its live outputs (components check them).
    _config, _region = config_from_pulumi()
except ConfigError as _error:
    raise pulumi.RunError(str(_error)) from None

build(_config, _region)
