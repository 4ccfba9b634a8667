"""Scenario YAML -> ``harness.records.Scenario``, with errors an author can act on.

Validation happens in layers so each message can say where it is: the YAML itself
(syntax, duplicate keys), the top-level fields, then each step against the model of
its kind, then (given a corpus) every utterance id. A file's problems are collected and
raised together; ``load_all`` turns each bad file into an error value so one broken
file never hides the results of the others.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from harness.records import Expectation, Scenario, Step, StepKind
from harness.scenario.errors import Problem, ScenarioError
from harness.scenario.schema import (
    SHORT_FORM_FIELD,
    STEP_MODELS,
    BackchannelExpect,
    BackchannelStep,
    BargeInExpect,
    BargeInStep,
    ListenStep,
    ReplyExpect,
    SayStep,
    ScenarioFile,
    SilenceStep,
    StepModel,
)
from harness.scenario.yaml_source import Loc, YamlDocument, YamlReadError, parse_yaml, read_yaml

SCENARIO_SUFFIXES = (".yaml", ".yml")


class CorpusLike(Protocol):
    """All the loader needs of ``harness.corpus.Corpus``: membership of an utterance id."""

    def __contains__(self, item_id: str, /) -> bool: ...


# ---------------------------------------------------------------------- discovery


def discover_scenarios(paths: Sequence[Path]) -> list[Path]:
    """Scenario files named by ``paths`` (files as given, directories searched recursively).

    Sorted and de-duplicated. A path that does not exist is kept, so that loading it
    reports "no such file" instead of it silently dropping out of the run. Hidden files
    and folders inside a directory (``.git``, editor backups) are skipped.
    """
    found: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found.update(_scenario_files_under(path))
        else:
            found.add(path)
    return sorted(found)


def _scenario_files_under(root: Path) -> list[Path]:
    return [
        p
        for p in root.rglob("*")
        if p.suffix.lower() in SCENARIO_SUFFIXES
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    ]


# -------------------------------------------------------------------------- loading


def load_scenario(path: Path, corpus: CorpusLike | None = None) -> Scenario:
    """Load and validate one file; raise ``ScenarioError`` listing every problem in it."""
    try:
        doc = read_yaml(path)
    except YamlReadError as exc:
        raise ScenarioError(path, [exc.problem]) from None
    return _from_document(doc, path, corpus)


def scenario_from_text(text: str, path: Path, corpus: CorpusLike | None = None) -> Scenario:
    """``load_scenario`` of text already read (``path`` names it in messages)."""
    try:
        doc = parse_yaml(text)
    except YamlReadError as exc:
        raise ScenarioError(path, [exc.problem]) from None
    return _from_document(doc, path, corpus)


def _from_document(doc: YamlDocument, path: Path, corpus: CorpusLike | None) -> Scenario:
    problems = [
        _problem_at(doc, loc, f"duplicate key {loc[-1]!r}", line) for loc, line in doc.duplicates
    ]
    if not isinstance(doc.data, dict):
        problems.append(
            Problem(
                message=f"expected a mapping with id, steps (and description, tags) at the top level, got {_kind_of(doc.data)}",
                line=1,
            )
        )
        raise ScenarioError(path, problems)

    top: ScenarioFile | None = None
    try:
        top = ScenarioFile.model_validate(doc.data)
        raw_steps: object = top.steps
    except ValidationError as exc:
        # Keep going: a typo in the description should not hide the steps' problems.
        problems.extend(_from_validation(doc, (), exc, ScenarioFile))
        raw_steps = doc.data.get("steps")

    steps: list[Step] = []
    for index, raw in enumerate(raw_steps if isinstance(raw_steps, list) else []):
        step, step_problems = _load_step(doc, index, raw, corpus)
        problems.extend(step_problems)
        if step is not None:
            steps.append(step)

    if problems or top is None:
        raise ScenarioError(path, sorted(problems, key=lambda p: p.line or 0))
    return Scenario(
        id=top.id,
        steps=tuple(steps),
        tags=top.tags,
        description=top.description.strip(),
        source=str(path),
        weight=float(top.weight),
    )


def load_all(
    paths: Sequence[Path], corpus: CorpusLike | None = None
) -> tuple[list[Scenario], list[ScenarioError]]:
    """Every scenario under ``paths``; bad files come back as errors beside the good ones.

    A scenario id used by two files is an error naming both; the first file (in sorted
    order) keeps the id. A directory with no scenario files is an error too, since a
    suite that silently runs nothing passes CI.
    """
    errors: list[ScenarioError] = []
    for path in paths:
        if path.is_dir() and not _scenario_files_under(path):
            errors.append(
                ScenarioError(
                    path, [Problem(message="no *.yaml or *.yml scenario files in this directory")]
                )
            )

    scenarios: list[Scenario] = []
    first_file: dict[str, str] = {}
    for file in discover_scenarios(paths):
        try:
            scenario = load_scenario(file, corpus)
        except ScenarioError as exc:
            errors.append(exc)
            continue
        if scenario.id in first_file:
            errors.append(
                ScenarioError(
                    file,
                    [
                        Problem(
                            message=f"duplicate scenario id {scenario.id!r}: also defined in {first_file[scenario.id]}",
                            field="id",
                        )
                    ],
                )
            )
            continue
        first_file[scenario.id] = str(file)
        scenarios.append(scenario)
    return scenarios, errors


# ---------------------------------------------------------------------------- steps


def _load_step(
    doc: YamlDocument, index: int, raw: object, corpus: CorpusLike | None
) -> tuple[Step | None, list[Problem]]:
    loc: Loc = ("steps", index)
    kinds = ", ".join(k.value for k in StepKind)
    if not isinstance(raw, dict) or len(raw) != 1:
        if isinstance(raw, dict) and raw:
            names = [str(k) for k in raw]
            known = [n for n in names if n in STEP_MODELS]
            hint = (
                f"; put options under the kind, e.g. '{known[0]}: {{...}}'"
                if len(known) == 1
                else ""
            )
            message = f"expected exactly one step kind per item, got keys {', '.join(map(repr, names))}{hint}"
            return None, [
                Problem(
                    message=message,
                    step_index=index,
                    step_kind=known[0] if len(known) == 1 else None,
                    line=doc.line_of(loc),
                )
            ]
        return None, [
            Problem(
                message=f"expected a mapping like 'say: <utterance id>' (one of: {kinds}), got {_kind_of(raw)}",
                step_index=index,
                line=doc.line_of(loc),
            )
        ]

    [(name, value)] = raw.items()
    try:
        kind = StepKind(name)
    except ValueError:
        return None, [
            Problem(
                message=f"unknown step kind; expected one of: {kinds}",
                step_index=index,
                step_kind=str(name),
                line=doc.line_of(loc),
            )
        ]

    model = STEP_MODELS[kind]
    step_loc: Loc = (*loc, name)
    data = _expand_short_form(kind, value)
    if data is None:
        allowed = ", ".join(model.model_fields)
        short = (
            f"a {'corpus id' if SHORT_FORM_FIELD.get(kind) == 'utterance' else 'number of ms'} or "
            if kind in SHORT_FORM_FIELD
            else ""
        )
        return None, [
            Problem(
                message=f"expected {short}a mapping with {allowed}, got {_kind_of(value)}",
                step_index=index,
                step_kind=kind.value,
                line=doc.line_of(step_loc),
            )
        ]
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        return None, _from_validation(doc, step_loc, exc, model)

    problems: list[Problem] = []
    utterance = getattr(parsed, "utterance", None)
    if corpus is not None and utterance is not None and utterance not in corpus:
        problems.append(
            Problem(
                message=f"unknown corpus item {utterance!r}",
                step_index=index,
                step_kind=kind.value,
                field="utterance",
                line=doc.line_of((*step_loc, "utterance")),
                missing_item=utterance,
            )
        )
    return _to_step(index, kind, parsed), problems


def _expand_short_form(kind: StepKind, value: object) -> dict[str, Any] | None:
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    short = SHORT_FORM_FIELD.get(kind)
    if short == "utterance" and isinstance(value, str):
        return {short: value}
    if short == "duration_ms" and isinstance(value, int | float) and not isinstance(value, bool):
        return {short: value}
    return None


def _to_step(index: int, kind: StepKind, parsed: StepModel) -> Step:
    given = parsed.model_dump(exclude_unset=True, exclude={"expect"})
    fields: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
    if isinstance(parsed, SilenceStep):
        return Step(index=index, kind=kind, **fields)
    return Step(index=index, kind=kind, expect=_to_expectation(parsed), **fields)


def _to_expectation(parsed: ListenStep | SayStep | BargeInStep | BackchannelStep) -> Expectation:
    expect = parsed.expect
    if isinstance(expect, BackchannelExpect):
        return Expectation(must_not_stop=expect.must_not_stop)
    assert isinstance(expect, ReplyExpect)
    return Expectation(
        within_ms=expect.within_ms,
        contains=expect.contains,
        exact=expect.exact,
        max_wer=expect.max_wer,
        max_stop_ms=expect.max_stop_ms if isinstance(expect, BargeInExpect) else None,
    )


# --------------------------------------------------------------------------- errors


def _from_validation(
    doc: YamlDocument, base: Loc, exc: ValidationError, model: type[BaseModel]
) -> list[Problem]:
    problems = []
    for err in exc.errors(include_url=False):
        loc: Loc = tuple(err["loc"])
        message = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            allowed = _fields_at(model, loc[:-1])
            message = (
                f"unknown field (allowed: {', '.join(allowed)})" if allowed else "unknown field"
            )
        elif err["type"] == "missing":
            message = "required field is missing"
        elif "input" in err and _is_scalar(err["input"]) and err["type"] != "value_error":
            message += f", got {err['input']!r}"
        problems.append(_problem_at(doc, (*base, *loc), message))
    return problems


def _problem_at(doc: YamlDocument, loc: Loc, message: str, line: int | None = None) -> Problem:
    """Split a document path into step index, kind and field, e.g. steps[2].say.timeout_ms."""
    line = line if line is not None else doc.line_of(loc)
    if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
        kind = str(loc[2]) if len(loc) >= 3 else None
        field = _dotted(loc[3:]) if len(loc) >= 4 else None
        return Problem(message=message, step_index=loc[1], step_kind=kind, field=field, line=line)
    return Problem(message=message, field=_dotted(loc) or None, line=line)


def _fields_at(model: type[BaseModel], loc: Loc) -> list[str]:
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None or not isinstance(part, str) or part not in current.model_fields:
            return []
        annotation = current.model_fields[part].annotation
        current = (
            annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel)
            else None
        )
    return list(current.model_fields) if current is not None else []


def _dotted(loc: Iterable[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _is_scalar(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _kind_of(value: object) -> str:
    names = {
        dict: "a mapping",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
    }
    if value is None:
        return "nothing"
    return names.get(type(value), type(value).__name__)
