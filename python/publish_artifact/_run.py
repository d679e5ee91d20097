"""Running the binary: the child's environment, its arguments, its outcome.

Secrets travel in the environment only: argv is readable by every user of
the machine (`ps`, /proc) and ends up in logs. `PLUGIN_*` variables are
dropped, because the tool reads its flags from them in a Woodpecker plugin
step, and a leftover one would silently change what gets published.

There is no timeout: a killed publish cannot abort its upload or delete
its object. Every network call of the tool has its own deadline, so a run
always ends.
"""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any, Dict, Mapping, Optional, Sequence

from ._errors import PublishArtifactError, from_exit
from ._find import find_binary

PLUGIN_PREFIX = "PLUGIN_"


def child_environment(env: Optional[Mapping[str, str]],
                      secrets: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """`env` (default: this process's environment) without `PLUGIN_*`, plus `secrets`."""
    base = os.environ if env is None else env
    child = {name: value for name, value in base.items() if not name.startswith(PLUGIN_PREFIX)}
    child.update(secrets or {})
    return child


def run_json(arguments: Sequence[str], env: Optional[Mapping[str, str]],
             secrets: Optional[Mapping[str, str]] = None) -> Dict[str, Any]:
    """Runs the tool with `arguments`; returns the JSON object it printed.

    Raises the PublishArtifactError subclass of its exit code.
    """
    binary = find_binary()
    done = subprocess.run(
        [binary, *arguments],
        env=child_environment(env, secrets),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        encoding="utf-8",
        errors="replace",
        check=False,
    )
    if done.returncode != 0:
        raise from_exit(done.returncode, done.stderr)
    try:
        printed = json.loads(done.stdout)
    except ValueError as err:
        raise PublishArtifactError(
            f"{binary} succeeded but printed no JSON on stdout ({err})",
            exit_code=0, stderr=done.stderr,
        ) from None
    if not isinstance(printed, dict):
        raise PublishArtifactError(f"{binary} printed JSON that is not an object",
                                   exit_code=0, stderr=done.stderr)
    return printed
