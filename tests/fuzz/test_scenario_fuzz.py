"""Scenario YAML: any text is a Scenario within limits or a ScenarioError, never anything else.

Three sources of input: arbitrary text, scenario-shaped documents whose values are
hostile (huge and non-finite numbers, markup, control characters, deep lists), and
those documents with a YAML tag, anchor or merge key spliced in. The inputs the issue
found are explicit examples. A parsed scenario must respect every limit and serialise
to strict JSON (it is written into each call folder).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import yaml
from fuzz.hostile import hostile_json, hostile_numbers, hostile_scalars, hostile_text, nested
from hypothesis import example, given
from hypothesis import strategies as st

from harness.records import Scenario
from harness.scenario.errors import ScenarioError
from harness.scenario.loader import scenario_from_text
from harness.scenario.schema import MAX_STEP_MS, MAX_STEPS, MAX_WER
from harness.store.layout import is_safe_name
from harness.store.serialize import to_json_obj

SOURCE = Path("fuzz.yaml")

ISSUE_INPUTS = [
    "id: a\x00b\nsteps:\n  - say: q_time\n",
    "id: x\nsteps:\n  - silence: !!int x\n",
    "id: x\nsteps:\n  - say: {utterance: q, await_reply: !!bool x}\n",
    "id: x\ndescription: !!timestamp x\nsteps:\n  - say: q\n",
    "id: x\nsteps:\n  - silence: " + "9" * 5000 + "\n",
    "id: x\nsteps: " + "[" * 500 + "]" * 500 + "\n",
    "id: x\nsteps:\n" + "".join("  " * (i + 1) + "- \n" for i in range(500)),
    "id: a..b\nsteps:\n  - say: q_time\n",
    "id: x\nsteps:\n  - silence: 100000000000\n",
    "id: x\nsteps:\n  - say: {utterance: q, expect: {within_ms: .inf}}\n",
    "id: x\nsteps:\n  - say: {utterance: q, expect: {contains: ['re:(a+)+$']}}\n",
    "a: &a [*a]\n",
    "a: &a ['lol','lol']\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n",
    "!!python/object/apply:os.system ['true']\n",
    "id: x\nsteps: [{say: {utterance: q, expect: {max_wer: .nan, exact: hi}}}]\n",
]

STEP_KINDS = ["say", "listen", "silence", "barge_in", "backchannel", "sing"]
STEP_FIELDS = ["utterance", "timeout_ms", "await_reply", "after_onset_ms", "reply_quiet_ms",
               "duration_ms", "expect", "bogus"]
EXPECT_FIELDS = ["within_ms", "contains", "exact", "max_wer", "max_stop_ms", "must_not_stop"]
REGEXES = ["re:(a+)+$", "re:(a|aa)+$", "re:(", "re:[", "re:\\", "re:(?P<x>a)(?P=x)", "re:" + "(" * 300,
           "re:a{1000000000}", "re:a{4294967294}", "re:(a{100}){100}", "re:(?:a{65535}){65535}",
           "re:(?i)paris", "paris", ""]
IDS = ["ok_id", "a..b", "a b", "-x", "x" * 121, "x" * 120, "café", "a/b", ".x", "x."]

values = st.one_of(hostile_scalars, st.sampled_from(["q_time", "hello"]),
                   st.lists(st.one_of(hostile_text, st.sampled_from(REGEXES)), max_size=4))
expectations = st.dictionaries(st.sampled_from(EXPECT_FIELDS),
                               st.one_of(values, st.lists(st.sampled_from(REGEXES), max_size=3)),
                               max_size=4)
step_bodies = st.one_of(hostile_scalars, st.sampled_from(["q_time"]),
                        st.dictionaries(st.sampled_from(STEP_FIELDS), st.one_of(values, expectations),
                                        max_size=5))
steps = st.one_of(st.dictionaries(st.sampled_from(STEP_KINDS), step_bodies, min_size=1, max_size=2),
                  hostile_scalars)
documents = st.fixed_dictionaries(
    {"id": st.one_of(st.sampled_from(IDS), hostile_text), "steps": st.lists(steps, max_size=4)},
    optional={"description": hostile_scalars, "tags": st.lists(st.one_of(st.sampled_from(IDS), hostile_text),
                                                               max_size=3),
              "schema_version": hostile_numbers, "extra": hostile_json,
              "deep": st.integers(28, 40).map(nested)},
)
# Mostly well-typed documents (so the limits, not the types, are what is tested): each
# value is a valid one most of the time and an edge or hostile one otherwise.
def mostly(valid: st.SearchStrategy[object], edge: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.one_of(valid, valid, valid, valid, valid, valid, edge)


ms = mostly(st.integers(1, 60_000), st.sampled_from([-1, 0, 3_600_000, 3_600_001, 10**11, 2**63]))
ms_float = mostly(st.floats(1, 60_000), st.sampled_from([float("inf"), float("nan"), 1e309, -1.0, 0.0]))
keywords = st.lists(mostly(st.sampled_from(["paris", "re:capital\\s+of", "four"]), st.sampled_from(REGEXES)),
                    max_size=3)
reply_expect = st.fixed_dictionaries({}, optional={
    "within_ms": ms_float, "contains": keywords, "exact": st.text(min_size=1, max_size=30),
    "max_stop_ms": ms_float})
spoken = st.fixed_dictionaries({"utterance": st.sampled_from(["q_time", "q_name"])}, optional={
    "timeout_ms": ms, "reply_quiet_ms": ms, "expect": reply_expect})
typed_steps = st.one_of(
    st.builds(lambda v: {"say": v}, st.one_of(spoken, st.sampled_from(["q_time"]))),
    st.builds(lambda v: {"silence": v}, st.one_of(ms, st.fixed_dictionaries({"duration_ms": ms}))),
    st.builds(lambda v: {"listen": v}, st.fixed_dictionaries({}, optional={"timeout_ms": ms,
                                                                           "expect": reply_expect})),
    st.builds(lambda v, o: {"barge_in": {**v, "after_onset_ms": o}}, spoken, ms),
    st.builds(lambda v, o: {"backchannel": {"utterance": v["utterance"], "after_onset_ms": o}}, spoken, ms),
)
typed_documents = st.fixed_dictionaries(
    {"id": mostly(st.sampled_from(["ok_id", "smoke.1", "a-b_c"]), st.sampled_from(IDS)),
     "steps": st.lists(typed_steps, min_size=1, max_size=3)},
    optional={"tags": st.lists(mostly(st.sampled_from(["smoke", "x1"]), st.sampled_from(IDS)), max_size=2),
              "description": st.text(max_size=30)},
)
SPLICES = ["!!int ", "!!bool ", "!!float ", "!!timestamp ", "!!null ", "!!binary ", "!!set ", "!!omap ",
           "!!pairs ", "!!str ", "!!python/name:os.system ", "&a ", "*a ", "<<: *a\n", "? ", "%TAG ! x\n",
           "--- ", "\t", "{", "[", "'", '"', "\\u0000"]


def _dump(doc: object) -> str:
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def _check(text: str) -> None:
    try:
        scenario = scenario_from_text(text, SOURCE)
    except ScenarioError as exc:
        assert exc.problems and all(p.message for p in exc.problems)
        assert str(SOURCE) in str(exc)
        return
    _check_limits(scenario)


def _check_limits(scenario: Scenario) -> None:
    assert is_safe_name(scenario.id) and all(is_safe_name(t) for t in scenario.tags)
    assert 1 <= len(scenario.steps) <= MAX_STEPS
    for step in scenario.steps:
        for value in (step.duration_ms, step.timeout_ms, step.after_onset_ms, step.reply_quiet_ms):
            assert value is None or 0 <= value <= MAX_STEP_MS
        expect = step.expect
        for number in (expect.within_ms, expect.max_stop_ms):
            assert number is None or (math.isfinite(number) and 0 < number <= MAX_STEP_MS)
        assert expect.max_wer is None or 0 <= expect.max_wer <= MAX_WER
    json.dumps(to_json_obj(scenario), allow_nan=False)  # what scenario.json holds


@st.composite
def scenario_texts(draw: st.DrawFn) -> str:
    """Arbitrary text, a scenario-shaped document, or one with a tag/anchor spliced in."""
    how = draw(st.sampled_from(["text", "document", "typed", "typed", "spliced"]))
    if how == "text":
        return draw(st.text(max_size=300))
    text = _dump(draw(typed_documents if how == "typed" else documents))
    if how == "spliced":
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(SPLICES)) + text[at:]
    return text


@given(scenario_texts())
@example("")
def test_any_scenario_text(text: str) -> None:
    _check(text)


def test_every_input_the_issue_found() -> None:
    for text in ISSUE_INPUTS:
        _check(text)
