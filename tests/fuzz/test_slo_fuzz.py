"""SLO TOML: any text is an SloFile within limits or an SloError; a parsed file gates quickly.

A parsed file is evaluated against a small run, so a threshold that parses but cannot
be judged (NaN made every verdict fail) or a setting that makes gating unbounded
would show here.
"""

from __future__ import annotations

import math
from pathlib import Path

from fuzz import toml_text
from fuzz.hostile import hostile_numbers, hostile_scalars, hostile_text, nested
from hypothesis import example, given
from hypothesis import strategies as st
from slo.synth_runs import latency_measurements

from harness.records import VerdictStatus
from harness.slo.data import RunData
from harness.slo.evaluate import evaluate
from harness.slo.rules import MAX_RESAMPLES, SloError, parse_slo

RUN = RunData(path=Path("run"), measurements=tuple(latency_measurements([float(v) for v in range(100, 400, 10)])))

ISSUE_INPUTS = [
    "[regression]\nn_resamples = 30000000\n",
    '[[slo]]\nmetric = "turn_latency_ms"\nmax = nan\n',
    "a = " + "[" * 1200 + "]" * 1200 + "\n",
    "a = " + "[" * 500 + "]" * 500 + "\n",
    "a." * 600 + "b = 1\n",
    "[defaults]\nmin_samples = " + "9" * 5000 + "\n",
    '[[slo]]\nmetric = "x\\u0000"\nmax = 1\n',
]

STATS = ["p50", "p95", "p99", "p999", "p0", "p100", "p101", "max", "min", "mean", "rate", "pNaN", "", "p-1"]
FIELDS = ["schema_version", "defaults", "slo", "regression", "bogus"]
RULE_FIELDS = ["name", "metric", "stat", "max", "min", "min_samples", "by", "where", "extra"]
REGRESSION_FIELDS = ["alpha", "min_samples", "n_resamples", "by", "metrics"]

values = st.one_of(hostile_scalars, st.lists(hostile_scalars, max_size=3))
rules = st.dictionaries(
    st.sampled_from(RULE_FIELDS),
    st.one_of(values, st.sampled_from(STATS), st.sampled_from(["turn_latency_ms", "turn_*", "[", "*"]),
              st.dictionaries(st.sampled_from(["metric", "turn", "suite", "tags", "x"]), values, max_size=2)),
    max_size=6,
)
regression = st.dictionaries(
    st.sampled_from(REGRESSION_FIELDS),
    st.one_of(values, st.dictionaries(hostile_text, st.dictionaries(
        st.sampled_from(["direction", "stat", "abs_tolerance", "rel_tolerance"]),
        st.one_of(values, st.sampled_from(["lower", "higher", "none"]))), max_size=2)),
    max_size=4,
)
documents = st.fixed_dictionaries({}, optional={
    "schema_version": hostile_numbers,
    "defaults": st.dictionaries(st.sampled_from(["min_samples", "x"]), hostile_numbers, max_size=2),
    "slo": st.lists(rules, max_size=3),
    "regression": regression,
    "deep": st.integers(30, 40).map(nested),
})


# Mostly well-typed files (so the limits, not the types, are what is tested): each value
# is a valid one most of the time and an edge or hostile one otherwise.
def mostly(valid: st.SearchStrategy[object], edge: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.one_of(valid, valid, valid, valid, valid, valid, edge)


numbers = mostly(st.floats(0.01, 1e6), st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                                                  st.sampled_from([30_000_000, 100_001, -1, 1e309])))
typed_rules = st.fixed_dictionaries(
    {"metric": st.sampled_from(["turn_latency_ms", "turn_*", "nope"]),
     "max": numbers},
    optional={"stat": mostly(st.sampled_from(["p50", "p95", "max", "mean"]), st.sampled_from(STATS)),
              "min_samples": mostly(st.integers(1, 50), st.integers(-1, 10**9)),
              "by": st.lists(mostly(st.just("endpoint"), st.sampled_from(["tags", "x"])), max_size=1)})
typed_documents = st.fixed_dictionaries({"slo": st.lists(typed_rules, max_size=3)}, optional={
    "regression": st.fixed_dictionaries({}, optional={
        "alpha": mostly(st.floats(0.001, 0.5), st.floats(allow_nan=True, allow_infinity=True)),
        "n_resamples": mostly(st.integers(100, 5000), st.sampled_from([30_000_000, 100_000, 100_001, 99])),
        "metrics": st.dictionaries(st.sampled_from(["turn_latency_ms", "*"]), st.fixed_dictionaries({}, optional={
            "abs_tolerance": numbers, "rel_tolerance": numbers,
            "direction": mostly(st.just("lower"), st.just("up"))}), max_size=2)})})


@st.composite
def slo_texts(draw: st.DrawFn) -> str:
    how = draw(st.sampled_from(["text", "document", "typed", "typed"]))
    if how == "text":
        return draw(st.text(max_size=300))
    return toml_text.document(draw(typed_documents if how == "typed" else documents))


def _check(text: str) -> None:
    try:
        slo = parse_slo(text, "fuzz.toml")
    except SloError as exc:
        assert str(exc).startswith("fuzz.toml: ")
        return
    assert slo.regression.n_resamples <= MAX_RESAMPLES and math.isfinite(slo.regression.alpha)
    for rule in slo.rules:
        assert math.isfinite(rule.threshold)
    for policy in slo.regression.metrics.values():
        for tolerance in (policy.abs_tolerance, policy.rel_tolerance):
            assert tolerance is None or math.isfinite(tolerance)
    for verdict in evaluate(slo, RUN):
        assert verdict.status in VerdictStatus


@given(slo_texts())
@example("")
@example('[[slo]]\nmetric = "turn_latency_ms"\nmax = 1e309\n')
def test_any_slo_text(text: str) -> None:
    _check(text)


def test_every_input_the_issue_found() -> None:
    for text in ISSUE_INPUTS:
        _check(text)
