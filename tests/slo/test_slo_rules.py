"""SLO file parsing: valid files become rules; every mistake names the file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.slo.rules import Direction, SloError, load_slo_file, parse_slo


def test_parses_rules_filters_and_regression_policy() -> None:
    slo = parse_slo(
        """
        schema_version = 1
        [defaults]
        min_samples = 7
        [[slo]]
        metric = "turn_latency_ms"
        stat = "p95"
        max = 800
        by = ["endpoint"]
        [[slo]]
        name = "cutoff at 700 ms pauses"
        metric = "cutoff_pause_700ms"
        stat = "rate"
        max = 0.05
        min_samples = 20
        where = { suite = "endpointing", tags = ["pauses"], turn = [1, 2] }
        [[slo]]
        metric = "pesq_wb"
        stat = "p50"
        min = 3.5
        [regression]
        alpha = 0.01
        [regression.metrics."*pesq*"]
        direction = "higher"
        abs_tolerance = 0.2
        """,
        "x.toml",
    )
    latency, cutoff, pesq = slo.rules
    assert (latency.op, latency.threshold, latency.min_samples, latency.by) == ("<=", 800.0, 7, ("endpoint",))
    assert latency.name == "turn_latency_ms p95 <= 800"
    assert cutoff.name == "cutoff at 700 ms pauses"
    assert cutoff.where == {"suite": "endpointing", "tags": ("pauses",), "turn": (1, 2)}
    assert cutoff.min_samples == 20
    assert (pesq.op, pesq.threshold) == (">=", 3.5)
    assert slo.regression.alpha == 0.01
    assert slo.regression.metrics["*pesq*"].direction is Direction.HIGHER


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('[[slo]]\nmetric = "x"\nmaxx = 3\nmax = 1\n', "slo rule 0 (x): field 'maxx'"),
        ('[[slo]]\nmetric = "x"\n', "exactly one of 'max'"),
        ('[[slo]]\nmetric = "x"\nmax = 1\nmin = 0\n', "exactly one of 'max'"),
        ('[[slo]]\nmetric = "x"\nstat = "p101"\nmax = 1\n', "unknown stat 'p101'"),
        ('[[slo]]\nmetric = "x"\nmax = 1\nwhere = { colour = "red" }\n', "unknown filter field"),
        ('[[slo]]\nmetric = "x"\nmax = 1\nby = ["tags"]\n', "cannot group by"),
        ('[[slo]\nmetric = "x"\n', "TOML syntax error"),
        ("schema_version = 2\n", "field 'schema_version'"),
        ('[regression]\nalpha = 2\n', "field 'regression.alpha'"),
    ],
)
def test_bad_files_name_file_and_field(text: str, needle: str) -> None:
    with pytest.raises(SloError) as err:
        parse_slo(text, "bad.toml")
    assert str(err.value).startswith("bad.toml: ")
    assert needle in str(err.value)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SloError, match=r"nope\.toml: cannot read SLO file"):
        load_slo_file(tmp_path / "nope.toml")


def test_shipped_example_parses() -> None:
    slo = load_slo_file(Path("ci/slo.toml"))
    assert any(r.metric == "turn_latency_ms" for r in slo.rules)
