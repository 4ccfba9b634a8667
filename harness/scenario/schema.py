"""The scenario file format, as pydantic models used only at the YAML edge.

One model per step kind, each with ``extra="forbid"`` and its own expectation model,
so a field that makes no sense for a kind (``must_not_stop`` on a ``say``) is an
error instead of a silently ignored line. Numbers and booleans are strict: YAML
already types them, so a quoted ``"5000"`` or ``1.5`` ms is a mistake worth naming.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import regex
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from harness.records import StepKind

SCENARIO_FORMAT_VERSION = 1
"""The ``schema_version`` a scenario file may declare; absent means this one."""

ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,119}")
"""Scenario ids and tags name folders and report rows: no spaces or slashes (nor ``..``)."""

# Limits: every number and size a scenario sets is bounded, far above any real use, so a
# typo (an extra zero, ``.inf``) is an error naming the field instead of a call that
# never ends or a report that never renders.
MAX_STEP_MS = 3_600_000
"""One hour: the longest wait, silence, timeout or offset a step may ask for."""
MAX_STEPS = 500
MAX_TEXT = 10_000
"""Characters of a description or reference text."""
MAX_KEYWORDS = 50
MAX_KEYWORD = 200
"""Characters of one ``contains`` item (a regex included)."""
MAX_TAGS = 50
MAX_WER = 100.0


def _check_name(name: str) -> str:
    if not ID_PATTERN.fullmatch(name) or ".." in name:
        raise ValueError(
            "must start with a letter or digit and contain only letters, digits, '_', '.', '-'"
            " (no '..', at most 120 characters)"
        )
    return name


_COUNTED_REPEAT = regex.compile(r"\{\s*(\d*)\s*(?:,\s*(\d*)\s*)?\}")
MAX_REPEAT_PRODUCT = 1_000
"""The ``regex`` engine unrolls counted repeats when it compiles: ``a{4294967294}`` or
``(a{100}){100}`` would take gigabytes before any time limit applies. The product of all
counts in a pattern is bounded instead (a vetted subset of the syntax)."""


def _check_repeats(pattern: str) -> None:
    product = 1
    for low, high in _COUNTED_REPEAT.findall(pattern):
        product *= max(1, int(high or low or "0"))
        if product > MAX_REPEAT_PRODUCT:
            raise ValueError(
                f"counted repeats ({{n}}, {{n,m}}) multiply to more than {MAX_REPEAT_PRODUCT} in "
                f"{pattern!r}; use + or * instead"
            )


def _check_keyword(keyword: str) -> str:
    if not keyword.strip():
        raise ValueError("must not be empty")
    if keyword.startswith("re:"):
        _check_repeats(keyword[3:])
        # The regex engine the reply is matched with (harness.asr.text): same syntax, and
        # a time limit on matching, so a catastrophic pattern cannot stall scoring.
        try:
            regex.compile(keyword[3:])
        except (regex.error, RecursionError, OverflowError) as exc:
            raise ValueError(f"invalid regular expression {keyword[3:]!r}: {exc}") from None
    return keyword


PositiveMs = Annotated[StrictInt, Field(gt=0, le=MAX_STEP_MS)]
NonNegativeMs = Annotated[StrictInt, Field(ge=0, le=MAX_STEP_MS)]
PositiveMsFloat = Annotated[StrictFloat, Field(gt=0, le=MAX_STEP_MS, allow_inf_nan=False)]
Text = Annotated[StrictStr, Field(min_length=1, max_length=MAX_TEXT)]
Keyword = Annotated[StrictStr, Field(max_length=MAX_KEYWORD), AfterValidator(_check_keyword)]
"""A word or phrase the reply must contain, or ``re:<regex>``."""
Name = Annotated[StrictStr, AfterValidator(_check_name)]
"""A scenario id or a tag."""


class _Edge(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReplyExpect(_Edge):
    """What the agent's reply to this step must satisfy."""

    within_ms: PositiveMsFloat | None = None
    contains: Annotated[tuple[Keyword, ...], Field(max_length=MAX_KEYWORDS)] = ()
    exact: Text | None = None
    max_wer: Annotated[StrictFloat, Field(ge=0, le=MAX_WER, allow_inf_nan=False)] | None = None

    @model_validator(mode="after")
    def _wer_needs_reference(self) -> ReplyExpect:
        if self.max_wer is not None and self.exact is None:
            raise ValueError(
                "max_wer needs 'exact' (the reference text the WER is computed against)"
            )
        return self

    def checks_reply(self) -> bool:
        return bool(self.within_ms is not None or self.contains or self.exact is not None)


class BargeInExpect(ReplyExpect):
    """The agent must stop (``max_stop_ms``); the reply fields judge its answer to the interruption."""

    max_stop_ms: PositiveMsFloat | None = None


class BackchannelExpect(_Edge):
    must_not_stop: StrictBool = False


class ListenStep(_Edge):
    timeout_ms: PositiveMs | None = None
    reply_quiet_ms: PositiveMs | None = None
    expect: ReplyExpect = ReplyExpect()


class SilenceStep(_Edge):
    duration_ms: PositiveMs


class _Spoken(_Edge):
    utterance: Annotated[StrictStr, Field(min_length=1, max_length=200)]
    """Corpus id."""
    timeout_ms: PositiveMs | None = None
    await_reply: StrictBool = True
    reply_quiet_ms: PositiveMs | None = None
    """The reply is over once the agent has been quiet this long (default 400 ms);
    raise it when replies have long internal pauses (echoes of paused speech)."""

    @field_validator("expect", check_fields=False)
    @classmethod
    def _expectations_need_a_reply(cls, expect: object, info: ValidationInfo) -> object:
        # ``expect`` is declared after ``await_reply``, so its value is known here.
        checks = isinstance(expect, ReplyExpect) and expect.checks_reply()
        if checks and info.data.get("await_reply") is False:
            raise ValueError(
                "within_ms/contains/exact judge the reply, which is not awaited (await_reply: false)"
            )
        return expect


class SayStep(_Spoken):
    expect: ReplyExpect = ReplyExpect()


class BargeInStep(_Spoken):
    after_onset_ms: NonNegativeMs
    """Start this long after the agent's speech onset."""
    expect: BargeInExpect = BargeInExpect()


class BackchannelStep(_Spoken):
    after_onset_ms: NonNegativeMs
    expect: BackchannelExpect = BackchannelExpect()


StepModel = ListenStep | SilenceStep | SayStep | BargeInStep | BackchannelStep

STEP_MODELS: dict[StepKind, type[StepModel]] = {
    StepKind.SAY: SayStep,
    StepKind.LISTEN: ListenStep,
    StepKind.SILENCE: SilenceStep,
    StepKind.BARGE_IN: BargeInStep,
    StepKind.BACKCHANNEL: BackchannelStep,
}

SHORT_FORM_FIELD: dict[StepKind, str] = {
    StepKind.SAY: "utterance",
    StepKind.BARGE_IN: "utterance",
    StepKind.BACKCHANNEL: "utterance",
    StepKind.SILENCE: "duration_ms",
}
"""``say: q_weather`` and ``silence: 500`` stand for a mapping with this one field."""


class ScenarioFile(_Edge):
    """The top level of a scenario file; steps are validated one by one afterwards."""

    schema_version: (
        Annotated[StrictInt, Field(ge=SCENARIO_FORMAT_VERSION, le=SCENARIO_FORMAT_VERSION)] | None
    ) = None
    id: Name
    description: Annotated[StrictStr, Field(max_length=MAX_TEXT)] = ""
    tags: Annotated[tuple[Name, ...], Field(max_length=MAX_TAGS)] = ()
    weight: Annotated[StrictFloat | StrictInt, Field(ge=0, le=1e6, allow_inf_nan=False)] = 1.0
    """Share of a soak's calls (relative to the other scenarios'); 0 leaves it out."""
    steps: Annotated[list[Any], Field(min_length=1, max_length=MAX_STEPS)]
