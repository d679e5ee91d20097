"""One exception per exit class of the tool.

Every failure carries the tool's one-line `error:` message, its exit code
and its whole stderr. `retryable` is true for the classes after which a
retry is safe and may succeed: storage and registration failures leave
nothing half-published, and their cause (a server, the network) can pass.
"""

from __future__ import annotations

import signal as _signal
from typing import Dict, Optional, Type


class PublishArtifactError(Exception):
    """A run of `publish-artifact` that did not succeed.

    Raised as itself only for an exit code the package does not know (a
    newer binary); otherwise as one of the subclasses below.
    """

    #: The class name the tool's documentation uses.
    kind = "unknown"
    #: A retry can succeed and is safe (nothing was left half-published).
    retryable = False

    def __init__(self, message: str, *, exit_code: Optional[int], stderr: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.stderr = stderr


class UsageError(PublishArtifactError):
    """Exit 2: bad arguments or environment; nothing was read or sent."""

    kind = "usage"


class InputError(PublishArtifactError):
    """Exit 3: the input file or key file is missing, not a regular file, or unreadable."""

    kind = "input"


class StorageError(PublishArtifactError):
    """Exit 4: S3 failed; nothing is left behind in the bucket."""

    kind = "storage"
    retryable = True


class RegistrationError(PublishArtifactError):
    """Exit 5: the admin API refused or failed; the object was removed again."""

    kind = "registration"
    retryable = True


class IntegrityError(PublishArtifactError):
    """Exit 6: an object failed its SHA-256, its padding (wrong key) or its gzip check."""

    kind = "integrity"


class OutputError(PublishArtifactError):
    """Exit 7: the output file could not be written."""

    kind = "output"


class ExistsError(PublishArtifactError):
    """Exit 8: the object key is already published."""

    kind = "exists"


class AttestationError(PublishArtifactError):
    """Exit 9: a provenance, signature or policy check refused the artifact."""

    kind = "attestation"


class InternalError(PublishArtifactError):
    """Exit 70: a bug or an exhausted limit in the sealing component."""

    kind = "internal"


class SignalError(PublishArtifactError):
    """The process was ended by a signal.

    `handled` tells how: True when the tool caught the signal, cleaned up
    and exited with 128 + N; False when the signal killed it outright (as
    SIGKILL does), and whatever it had started may be left behind.
    """

    kind = "signal"

    def __init__(self, message: str, *, exit_code: Optional[int], stderr: str = "",
                 signal: int, handled: bool) -> None:
        super().__init__(message, exit_code=exit_code, stderr=stderr)
        self.signal = signal
        self.handled = handled


BY_EXIT_CODE: Dict[int, Type[PublishArtifactError]] = {
    2: UsageError,
    3: InputError,
    4: StorageError,
    5: RegistrationError,
    6: IntegrityError,
    7: OutputError,
    8: ExistsError,
    9: AttestationError,
    70: InternalError,
}

# Exit codes 129..192 are the shell's and the tool's way to say "ended by
# signal N" (128 + N); higher codes are not signals.
_SIGNAL_EXIT_BASE = 128
_HIGHEST_SIGNAL = 64


def error_line(stderr: str) -> str:
    """The tool's one-line `error: ...` message, without the prefix."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith("error:"):
            return line[len("error:"):].strip()
    return lines[-1] if lines else ""


def _signal_name(number: int) -> str:
    try:
        return _signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def from_exit(returncode: int, stderr: str) -> PublishArtifactError:
    """The exception for a run that ended with `returncode` (not 0)."""
    line = error_line(stderr)
    if returncode < 0 or _SIGNAL_EXIT_BASE < returncode <= _SIGNAL_EXIT_BASE + _HIGHEST_SIGNAL:
        handled = returncode > 0
        number = returncode - _SIGNAL_EXIT_BASE if handled else -returncode
        how = "stopped on" if handled else "killed by"
        message = f"publish-artifact was {how} {_signal_name(number)}"
        if line:
            message += f": {line}"
        return SignalError(message, exit_code=returncode, stderr=stderr,
                           signal=number, handled=handled)
    cls = BY_EXIT_CODE.get(returncode, PublishArtifactError)
    return cls(line or f"publish-artifact exited with {returncode}",
               exit_code=returncode, stderr=stderr)
