"""The errors sinefit reports to people, each with the exit code the CLI uses.

Anything raised as an :class:`InputError` is the user's input being refused
(exit code 2); any other :class:`SinefitError` is a runtime failure (exit 1).
Messages are one line and name the culprit: the option, the file and line,
the character of an expression.
"""

from __future__ import annotations


class SinefitError(Exception):
    """A failure sinefit explains in one line."""

    exit_code = 1


class InputError(SinefitError, ValueError):
    """Bad input: an option, a target expression, a data, config or model file."""

    exit_code = 2


class Interrupted(SinefitError):
    """The user asked sinefit to stop (Ctrl-C, SIGTERM) before there was anything to keep."""

    exit_code = 130
