"""`python -m publish_artifact ...` runs the CLI with the same arguments."""

import os
import subprocess
import sys

from ._find import BinaryNotFoundError, find_binary


def main() -> int:
    try:
        binary = find_binary()
    except BinaryNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 127  # what a shell exits with for a command it cannot find
    if os.name == "posix":
        # Become the tool: its exit code and signals are the caller's directly.
        os.execv(binary, [binary, *sys.argv[1:]])
    return subprocess.run([binary, *sys.argv[1:]], check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
