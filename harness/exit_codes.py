"""The one table of exit codes every command returns (documented in the README for CI)."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    """Every call completed, every expectation held, the gate (if any) passed."""
    FAILURES = 1
    """The run finished, but some call failed, some expectation did not hold, or some
    call was disturbed by the harness itself (its numbers are not counted)."""
    USAGE = 2
    """Bad invocation or unreadable input: nothing ran (or nothing was changed)."""
    GATE_FAILED = 3
    """An SLO verdict failed or a metric regressed against the baseline; wins over 1."""


EXIT_OK = ExitCode.OK
EXIT_FAILURES = ExitCode.FAILURES
EXIT_USAGE = ExitCode.USAGE
EXIT_GATE_FAILED = ExitCode.GATE_FAILED
