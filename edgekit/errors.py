"""The edgekit error tree.

Every error a user can cause (bad file, missing tool, board that does not fit)
is an :class:`EdgekitError` carrying a one-line message and an optional hint.
Only :mod:`edgekit.cli` prints them and chooses exit codes.
"""

from __future__ import annotations


class EdgekitError(Exception):
    """Root of all errors edgekit raises on purpose.

    Args:
        message: what failed and why, one line, naming the file/field involved.
        hint: what the user can do about it (optional).
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(EdgekitError):
    """Arguments that do not make sense together (exit code 2)."""


class ModelError(EdgekitError):
    """A model file that is missing, malformed, or of the wrong kind."""


class UnsupportedOpError(ModelError):
    """An operator (or one of its parameters) a runtime cannot execute."""


class BoardError(EdgekitError):
    """An unknown board id or an invalid board profile file."""


class DataError(EdgekitError):
    """Calibration / validation / input data of the wrong shape, dtype or content."""


class ToolMissing(EdgekitError):
    """An external program (compiler, QEMU, flasher) or optional package is not installed."""


class BuildError(EdgekitError):
    """A firmware build failed or its image does not fit the board."""


class DeviceError(EdgekitError):
    """The device (real or emulated) misbehaved: timeout, protocol error, crash."""


class NativeCrash(EdgekitError):
    """A native library (TFLite/TFLM) aborted in the isolated subprocess."""


def signal_name(num: int) -> str:
    """A signal's name (``SIGSEGV``) for a child's negative exit code's number, or ``signal N`` when unknown."""
    import signal

    try:
        return signal.Signals(num).name
    except ValueError:
        return f"signal {num}"
