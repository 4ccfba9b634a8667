"""Scenario YAML -> Scenario records, and the exact error text for each kind of bad file."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from harness.corpus import Corpus
from harness.corpus.defaults import default_script
from harness.corpus.script import load_script
from harness.records import Expectation, FailureKind, Scenario, Step, StepKind
from harness.scenario import ScenarioError, discover_scenarios, load_all, load_scenario

REPO = Path(__file__).resolve().parents[2]
SMOKE = REPO / "suites" / "smoke"


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def error_of(path: Path, corpus: object = None) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, corpus)  # type: ignore[arg-type]
    return info.value


class FakeCorpus:
    """Membership only, like harness.corpus.Corpus."""

    def __init__(self, ids: set[str]) -> None:
        self.ids = ids

    def __contains__(self, item_id: object) -> bool:
        return item_id in self.ids


FULL_EXAMPLE = r"""
id: smoke_hello
description: >
  Greeting, a question, a repeat prompt,
  an interruption and a backchannel.
tags: [smoke, demo]
steps:
  - listen: {timeout_ms: 3000}
  - say: q_weather
  - say: {utterance: repeat_01, timeout_ms: 6000, expect: {within_ms: 1500, exact: "the quick brown fox", max_wer: 0.2, contains: ["sunny", "re:\\d+ degrees"]}}
  - say: {utterance: q_time, await_reply: false}
  - silence: 500
  - barge_in: {utterance: int_wait_stop, after_onset_ms: 800, expect: {max_stop_ms: 1000}}
  - backchannel: {utterance: bc_uh_huh, after_onset_ms: 1000, expect: {must_not_stop: true}}
"""


def test_full_example_becomes_exact_records(tmp_path: Path) -> None:
    path = write(tmp_path, "hello.yaml", FULL_EXAMPLE)
    expected = Scenario(
        id="smoke_hello",
        description="Greeting, a question, a repeat prompt, an interruption and a backchannel.",
        tags=("smoke", "demo"),
        source=str(path),
        steps=(
            Step(index=0, kind=StepKind.LISTEN, timeout_ms=3000),
            Step(index=1, kind=StepKind.SAY, utterance="q_weather"),
            Step(
                index=2,
                kind=StepKind.SAY,
                utterance="repeat_01",
                timeout_ms=6000,
                expect=Expectation(
                    within_ms=1500.0,
                    exact="the quick brown fox",
                    max_wer=0.2,
                    contains=("sunny", r"re:\d+ degrees"),
                ),
            ),
            Step(index=3, kind=StepKind.SAY, utterance="q_time", await_reply=False),
            Step(index=4, kind=StepKind.SILENCE, duration_ms=500),
            Step(
                index=5,
                kind=StepKind.BARGE_IN,
                utterance="int_wait_stop",
                after_onset_ms=800,
                expect=Expectation(max_stop_ms=1000.0),
            ),
            Step(
                index=6,
                kind=StepKind.BACKCHANNEL,
                utterance="bc_uh_huh",
                after_onset_ms=1000,
                expect=Expectation(must_not_stop=True),
            ),
        ),
    )
    assert load_scenario(path) == expected


def test_defaults_come_from_the_records(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "d.yml",
        """
        id: d
        steps:
          - listen:
          - say: {utterance: q_time}
          - silence: {duration_ms: 250}
        """,
    )
    scenario = load_scenario(path)
    assert scenario.steps[0] == Step(index=0, kind=StepKind.LISTEN)
    assert scenario.steps[0].timeout_ms == 5000
    assert scenario.steps[1] == Step(index=1, kind=StepKind.SAY, utterance="q_time")
    assert scenario.steps[1].await_reply is True
    assert scenario.steps[2].duration_ms == 250
    assert scenario.tags == ()
    assert scenario.description == ""


# --------------------------------------------------------------------- bad files

MALFORMED = [
    pytest.param(
        """
        id: x
        steps:
          - say: q_weather
          - say: {utterance: q_time, timeout_ms: soon}
        """,
        "step 1 (say): field 'timeout_ms': Input should be a valid integer, got 'soon' (line 4)",
        id="wrong-type",
    ),
    pytest.param(
        """
        id: x
        steps:
          - say: {utterance: q_time, timeout_ms: 1.5}
        """,
        "step 0 (say): field 'timeout_ms': Input should be a valid integer, got 1.5 (line 3)",
        id="float-for-int",
    ),
    pytest.param(
        """
        id: x
        steps:
          - say: {utterance: q_time, timeout_ms: "5000"}
        """,
        "step 0 (say): field 'timeout_ms': Input should be a valid integer, got '5000' (line 3)",
        id="quoted-number",
    ),
    pytest.param(
        """
        id: x
        steps:
          - say: {utterance: q_time, timeot_ms: 100}
        """,
        "step 0 (say): field 'timeot_ms': unknown field "
        "(allowed: utterance, timeout_ms, await_reply, reply_quiet_ms, expect) (line 3)",
        id="unknown-field",
    ),
    pytest.param(
        """
        id: x
        steps:
          - say: q_time
          - say:
              utterance: q_name
              expect:
                must_not_stop: true
        """,
        "step 1 (say): field 'expect.must_not_stop': unknown field "
        "(allowed: within_ms, contains, exact, max_wer) (line 7)",
        id="expectation-of-another-kind",
    ),
    pytest.param(
        """
        id: x
        steps:
          - say: q_time
          - sing: la la
        """,
        "step 1 (sing): unknown step kind; expected one of: "
        "say, listen, silence, barge_in, backchannel (line 4)",
        id="unknown-step-kind",
    ),
    pytest.param(
        """
        id: x
        steps:
          - say: {timeout_ms: 100}
        """,
        "step 0 (say): field 'utterance': required field is missing (line 3)",
        id="missing-utterance",
    ),
    pytest.param(
        """
        id: x
        steps:
          - say:
        """,
        "step 0 (say): field 'utterance': required field is missing (line 3)",
        id="empty-say",
    ),
    pytest.param(
        """
        id: x
        steps:
          - barge_in: int_wait_stop
        """,
        "step 0 (barge_in): field 'after_onset_ms': required field is missing (line 3)",
        id="barge-in-without-offset",
    ),
    pytest.param(
        """
        id: x
        steps:
          - say: q_time
            timeout_ms: 3000
        """,
        "step 0 (say): expected exactly one step kind per item, got keys 'say', 'timeout_ms'; "
        "put options under the kind, e.g. 'say: {...}' (line 3)",
        id="options-beside-the-kind",
    ),
    pytest.param(
        """
        id: x
        steps:
          - q_time
        """,
        "step 0: expected a mapping like 'say: <utterance id>' "
        "(one of: say, listen, silence, barge_in, backchannel), got a string (line 3)",
        id="step-not-a-mapping",
    ),
    pytest.param(
        """
        id: x
        steps:
          - silence: soon
        """,
        "step 0 (silence): expected a number of ms or a mapping with duration_ms, got a string (line 3)",
        id="silence-not-a-number",
    ),
    pytest.param(
        """
        id: x
        steps:
          - say: {utterance: q_time, expect: {within_ms: -5}}
        """,
        "step 0 (say): field 'expect.within_ms': Input should be greater than 0, got -5 (line 3)",
        id="negative-latency",
    ),
    pytest.param(
        """
        id: x
        steps:
          - say: {utterance: q_time, expect: {contains: ["ok", "re:(unclosed"]}}
        """,
        "step 0 (say): field 'expect.contains[1]': invalid regular expression '(unclosed': "
        "missing ) at position 9 (line 3)",
        id="bad-regex",
    ),
    pytest.param(
        """
        id: x
        steps:
          - say: {utterance: q_time, expect: {max_wer: 0.1}}
        """,
        "step 0 (say): field 'expect': max_wer needs 'exact' "
        "(the reference text the WER is computed against) (line 3)",
        id="wer-without-reference",
    ),
    pytest.param(
        """
        id: x
        steps:
          - say: {utterance: q_time, await_reply: false, expect: {within_ms: 900}}
        """,
        "step 0 (say): field 'expect': within_ms/contains/exact judge the reply, "
        "which is not awaited (await_reply: false) (line 3)",
        id="expectation-without-reply",
    ),
    pytest.param(
        """
        id: x
        steps:
          - say: {utterance: q_time, timeout_ms: 100, timeout_ms: 200}
        """,
        "step 0 (say): field 'timeout_ms': duplicate key 'timeout_ms' (line 3)",
        id="duplicate-key",
    ),
    pytest.param(
        """
        steps:
          - say: q_time
        """,
        "field 'id': required field is missing",
        id="missing-id",
    ),
    pytest.param(
        """
        id: has space
        steps:
          - say: q_time
        """,
        "field 'id': must start with a letter or digit and contain only letters, digits, "
        "'_', '.', '-' (no '..', at most 120 characters) (line 1)",
        id="bad-id",
    ),
    pytest.param(
        """
        id: x
        step:
          - say: q_time
        """,
        "field 'steps': required field is missing\n{path}: "
        "field 'step': unknown field (allowed: schema_version, id, description, tags, weight, steps) (line 2)",
        id="unknown-top-level-field",
    ),
    pytest.param(
        """
        id: x
        steps: []
        """,
        "field 'steps': List should have at least 1 item after validation, not 0 (line 2)",
        id="no-steps",
    ),
    pytest.param(
        """
        - say: q_time
        """,
        "expected a mapping with id, steps (and description, tags) at the top level, "
        "got a list (line 1)",
        id="top-level-list",
    ),
    pytest.param(
        """
        schema_version: 2
        id: x
        steps: [say: q_time]
        """,
        "field 'schema_version': Input should be less than or equal to 1, got 2 (line 1)",
        id="future-version",
    ),
    pytest.param(
        """
        id: x
        steps:
          - say: {utterance: q_time
          - say: q_name
        """,
        "YAML syntax error: while parsing a flow mapping expected ',' or '}', but got ':' "
        "(line 4, column 8)",
        id="yaml-syntax-error",
    ),
    pytest.param("", "file is empty", id="empty-file"),
    pytest.param("# only a comment\n", "file is empty", id="comment-only"),
]


@pytest.mark.parametrize(("text", "expected"), MALFORMED)
def test_malformed_file_names_file_step_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, "suite/bad.yaml", text)
    error = error_of(path)
    assert str(error) == f"{path}: " + expected.replace("{path}", str(path))
    assert error.kind is FailureKind.BAD_SCENARIO
    assert error.to_failure().reason == str(error)


def test_step_and_field_are_attributes_too(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "x.yaml",
        """
        id: x
        steps:
          - say: q_time
          - say: q_name
          - say: {utterance: q_time, timeout_ms: soon}
        """,
    )
    error = error_of(path)
    assert (error.step_index, error.field) == (2, "timeout_ms")
    assert error.problems[0].step_kind == "say"
    assert error.problems[0].line == 5


def test_every_problem_of_a_file_is_reported_in_line_order(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "many.yaml",
        """
        id: many
        descripton: typo
        steps:
          - say: {utterance: q_time, timeout_ms: soon}
          - sing: la
          - say: {utterance: q_name, timeout_ms: 100, timeout_ms: 200}
        """,
    )
    lines = str(error_of(path)).splitlines()
    assert lines == [
        f"{path}: field 'descripton': unknown field "
        "(allowed: schema_version, id, description, tags, weight, steps) (line 2)",
        f"{path}: step 0 (say): field 'timeout_ms': Input should be a valid integer, got 'soon' (line 4)",
        f"{path}: step 1 (sing): unknown step kind; expected one of: "
        "say, listen, silence, barge_in, backchannel (line 5)",
        f"{path}: step 2 (say): field 'timeout_ms': duplicate key 'timeout_ms' (line 6)",
    ]


def test_unreadable_files(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    assert str(error_of(missing)) == f"{missing}: no such file"
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"id: \xff\xfe\n")
    assert str(error_of(binary)).startswith(f"{binary}: not UTF-8 text")


def test_alias_bomb_is_rejected_quickly(tmp_path: Path) -> None:
    """A billion-laughs file must neither hang nor blow up memory."""
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    path = write(tmp_path, "bomb.yaml", "\n".join(["id: bomb", *levels, "steps: [say: *a8]"]))
    error = error_of(path)
    assert "field 'a0': unknown field" in str(error)
    assert "step 0 (say): expected a corpus id or a mapping" in str(error)


# ------------------------------------------------------------------------ corpus


def test_unknown_corpus_ids_are_named(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "c.yaml",
        """
        id: c
        steps:
          - say: q_weather
          - say: q_wether
          - barge_in: {utterance: int_nope, after_onset_ms: 500}
        """,
    )
    corpus = FakeCorpus({"q_weather", "int_wait_stop"})
    error = error_of(path, corpus)
    assert str(error).splitlines() == [
        f"{path}: step 1 (say): field 'utterance': unknown corpus item 'q_wether' (line 4)",
        f"{path}: step 2 (barge_in): field 'utterance': unknown corpus item 'int_nope' (line 5)",
    ]
    assert error.missing_items == ("q_wether", "int_nope")
    assert error.kind is FailureKind.MISSING_CORPUS_ITEM
    # Without a corpus the same file is fine.
    assert load_scenario(path).steps[1].utterance == "q_wether"


def test_real_corpus_class_satisfies_the_protocol(tmp_path: Path) -> None:
    corpus = Corpus(tmp_path, [])
    path = write(tmp_path, "c.yaml", "id: c\nsteps: [say: q_time]\n")
    assert error_of(path, corpus).missing_items == ("q_time",)


# --------------------------------------------------------------------- discovery


def test_discover_is_recursive_sorted_and_skips_hidden(tmp_path: Path) -> None:
    b = write(tmp_path, "suite/b.yaml", "x")
    a = write(tmp_path, "suite/nested/a.yml", "x")
    write(tmp_path, "suite/notes.txt", "x")
    write(tmp_path, "suite/.hidden/h.yaml", "x")
    write(tmp_path, "suite/.h.yaml", "x")
    c = write(tmp_path, "other/c.YAML", "x")
    explicit = write(tmp_path, "explicit.txt", "x")
    missing = tmp_path / "missing.yaml"
    found = discover_scenarios([tmp_path / "suite", c, explicit, missing, b])
    assert found == sorted([b, a, c, explicit, missing])


def test_load_all_keeps_going_past_bad_files(tmp_path: Path) -> None:
    write(tmp_path, "s/a_good.yaml", "id: good\nsteps: [say: q_time]\n")
    write(tmp_path, "s/b_bad.yaml", "id: bad\nsteps: [sing: x]\n")
    write(tmp_path, "s/c_also_good.yaml", "id: also_good\nsteps: [silence: 10]\n")
    write(tmp_path, "s/d_syntax.yaml", "id: [\n")
    scenarios, errors = load_all([tmp_path / "s"])
    assert [s.id for s in scenarios] == ["good", "also_good"]
    assert [e.path.name for e in errors] == ["b_bad.yaml", "d_syntax.yaml"]


def test_duplicate_ids_across_files_name_both(tmp_path: Path) -> None:
    first = write(tmp_path, "s/a.yaml", "id: same\nsteps: [say: q_time]\n")
    second = write(tmp_path, "s/b.yaml", "id: same\nsteps: [say: q_name]\n")
    scenarios, errors = load_all([tmp_path / "s"])
    assert [s.source for s in scenarios] == [str(first)]
    assert [str(e) for e in errors] == [
        f"{second}: field 'id': duplicate scenario id 'same': also defined in {first}"
    ]


def test_load_all_reports_empty_directories_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    scenarios, errors = load_all([tmp_path / "empty", tmp_path / "nope.yaml"])
    assert scenarios == []
    assert [str(e) for e in errors] == [
        f"{tmp_path / 'empty'}: no *.yaml or *.yml scenario files in this directory",
        f"{tmp_path / 'nope.yaml'}: no such file",
    ]


# --------------------------------------------------------------------- the suite

def test_smoke_suite_ids_exist_in_the_builtin_corpus_script() -> None:
    script, _ = load_script(default_script())
    ids = {item.id for item in script.items}
    scenarios, errors = load_all([SMOKE], FakeCorpus(ids))
    assert [str(e) for e in errors] == []
    assert len(scenarios) >= 3
    for scenario in scenarios:
        assert "smoke" in scenario.tags
        # An echo agent answers every turn but never greets: no listen steps.
        assert all(step.kind is not StepKind.LISTEN for step in scenario.steps)
        said = [s for s in scenario.steps if s.kind is StepKind.SAY]
        assert said and all(s.expect.within_ms == 2000 for s in said)


def test_readme_example_is_a_valid_scenario(tmp_path: Path) -> None:
    readme = (REPO / "suites" / "README.md").read_text(encoding="utf-8")
    example = readme.split("```yaml\n", 1)[1].split("```", 1)[0]
    path = write(tmp_path, "example.yaml", example)
    scenario = load_scenario(path)
    assert scenario.id == "smoke_hello"
    assert [s.kind for s in scenario.steps] == [
        StepKind.LISTEN,
        StepKind.SAY,
        StepKind.SAY,
        StepKind.SAY,
        StepKind.SILENCE,
        StepKind.BARGE_IN,
        StepKind.BACKCHANNEL,
    ]
    assert scenario.steps[2].expect.contains == ("fox", r"re:\bbrown\b")


def test_weight_for_soaks(tmp_path: Path) -> None:
    ok = write(tmp_path, "w/ok.yaml", "id: w\nweight: 2.5\nsteps:\n  - silence: 100\n")
    assert load_scenario(ok).weight == 2.5
    assert load_scenario(write(tmp_path, "w/d.yaml", "id: d\nsteps:\n  - silence: 100\n")).weight == 1.0
    bad = write(tmp_path, "w/bad.yaml", "id: b\nweight: -1\nsteps:\n  - silence: 100\n")
    assert "weight" in str(error_of(bad))
