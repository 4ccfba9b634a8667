"""Planning and the selection a user makes: ``--tag``, ``--skip-tag``, ``--route``.

Pure: scenarios and endpoints are records the test builds, and every expectation is the
exact list of (scenario, endpoint) pairs or the exact message a user reads.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import pytest

from harness.plan import (
    PlanError,
    check_routes,
    parse_route,
    plan,
    resolve_routes,
    select,
    select_scenarios,
    unknown_tags,
)
from harness.records import CallerKind, CallSpec, Dialect, EndpointSpec, Scenario, Step, StepKind

STEP = (Step(index=0, kind=StepKind.SAY, utterance="q_time"),)


def scenario(sid: str, *tags: str) -> Scenario:
    return Scenario(id=sid, steps=STEP, tags=tags)


SCENARIOS = (
    scenario("smoke_a", "smoke"),
    scenario("smoke_b", "smoke"),
    scenario("echo_repeat", "accuracy", "echo"),
    scenario("tts_answers", "accuracy", "tts"),
    scenario("pause_sweep", "endpointing"),
    scenario("untagged"),
)
ECHO = EndpointSpec(name="openai-realtime 127.0.0.1:8765", dialect=Dialect.OPENAI_REALTIME,
                    url="http://127.0.0.1:8765")
TTS = EndpointSpec(name="openai-realtime 127.0.0.1:8766", dialect=Dialect.OPENAI_REALTIME,
                   url="http://127.0.0.1:8766")
GIVEN = [("openai-realtime+http://127.0.0.1:8765", ECHO), ("openai-realtime+http://127.0.0.1:8766", TTS)]


def ids(scenarios: tuple[Scenario, ...]) -> list[str]:
    return [s.id for s in scenarios]


# ------------------------------------------------------------------- --tag / --skip-tag


@pytest.mark.parametrize(("tags", "skip", "expected"), [
    ((), (), ["smoke_a", "smoke_b", "echo_repeat", "tts_answers", "pause_sweep", "untagged"]),
    (("smoke",), (), ["smoke_a", "smoke_b"]),
    (("smoke", "accuracy"), (), ["smoke_a", "smoke_b", "echo_repeat", "tts_answers"]),
    ((), ("tts",), ["smoke_a", "smoke_b", "echo_repeat", "pause_sweep", "untagged"]),
    (("accuracy",), ("tts",), ["echo_repeat"]),
    ((), ("smoke", "accuracy", "endpointing"), ["untagged"]),
])
def test_tags_keep_any_and_skip_tags_drop_any(tags: tuple[str, ...], skip: tuple[str, ...],
                                              expected: list[str]) -> None:
    assert ids(select_scenarios(SCENARIOS, tags, skip)) == expected


def test_a_filter_that_keeps_nothing_names_the_tags_there_are() -> None:
    with pytest.raises(PlanError) as info:
        select_scenarios(SCENARIOS, ["smok"])
    assert str(info.value) == ("--tag smok leaves none of the 6 scenarios; "
                               "their tags: accuracy, echo, endpointing, smoke, tts")
    with pytest.raises(PlanError) as info:
        select_scenarios(SCENARIOS[:2], ["smoke"], ["smoke"])
    assert str(info.value) == "--tag smoke --skip-tag smoke leaves none of the 2 scenarios; their tags: smoke"
    assert select_scenarios((), ["smoke"]) == ()  # nothing loaded: the loader says so, not the filter


def test_tags_no_scenario_carries_are_reported() -> None:
    assert unknown_tags(SCENARIOS, ["tts", "smok", "smoke", "ttx"]) == ("smok", "ttx")
    assert unknown_tags(SCENARIOS, []) == ()


# ------------------------------------------------------------------------------ --route


@pytest.mark.parametrize(("text", "expected"), [
    ("tts=my-bot", ("tts", "my-bot")),
    ("tts=openai-realtime 127.0.0.1:8766", ("tts", "openai-realtime 127.0.0.1:8766")),
    (" tts = bot ", ("tts", "bot")),
    ("tts=whip+http://h/w?room=1", ("tts", "whip+http://h/w?room=1")),
])
def test_parse_route(text: str, expected: tuple[str, str]) -> None:
    assert parse_route(text) == expected


@pytest.mark.parametrize("text", ["tts", "tts=", "=bot", " = ", ""])
def test_a_route_without_tag_equals_endpoint_is_refused(text: str) -> None:
    with pytest.raises(PlanError) as info:
        parse_route(text)
    assert str(info.value).startswith(f"--route {text!r}: write TAG=ENDPOINT, e.g. --route tts=my-bot")


def test_a_route_names_an_endpoint_as_given_or_by_name() -> None:
    assert resolve_routes([("tts", "openai-realtime+http://127.0.0.1:8766")], GIVEN) == (("tts", TTS.name),)
    assert resolve_routes([("tts", "openai-realtime 127.0.0.1:8766")], GIVEN) == (("tts", TTS.name),)
    with pytest.raises(PlanError) as info:
        resolve_routes([("tts", "openai-realtime+http://127.0.0.1:9999")], GIVEN)
    assert str(info.value) == (
        "--route tts=openai-realtime+http://127.0.0.1:9999: 'openai-realtime+http://127.0.0.1:9999' is not "
        "an endpoint of this run; route to one of: 'openai-realtime 127.0.0.1:8765' "
        "(-e openai-realtime+http://127.0.0.1:8765); 'openai-realtime 127.0.0.1:8766' "
        "(-e openai-realtime+http://127.0.0.1:8766)")


def _pairs(specs: Sequence[CallSpec]) -> Counter[tuple[str, str, str]]:
    return Counter((s.scenario.id, s.endpoint.name, str(s.caller)) for s in specs)


def test_routed_scenarios_go_to_their_endpoint_only_and_the_rest_keep_off_it() -> None:
    chosen = select(SCENARIOS, GIVEN, tags=["smoke", "accuracy"],
                    routes=[("tts", "openai-realtime+http://127.0.0.1:8766")])
    run = plan(chosen.scenarios, [ECHO, TTS], [CallerKind.AIORTC, CallerKind.BROWSER], repeat=2,
               routes=chosen.routes)
    expected = Counter({(sid, ep.name, caller): 2
                        for sid, ep in [("smoke_a", ECHO), ("smoke_b", ECHO), ("echo_repeat", ECHO),
                                        ("tts_answers", TTS)]
                        for caller in ("aiortc", "browser")})
    assert _pairs(run.specs) == expected
    assert len({s.call_id for s in run.specs}) == len(run.specs) == 16


def test_without_routes_every_scenario_meets_every_endpoint() -> None:
    run = plan(SCENARIOS[:2], [ECHO, TTS], [CallerKind.AIORTC])
    assert _pairs(run.specs) == Counter({(s, e.name, "aiortc"): 1
                                         for s in ("smoke_a", "smoke_b") for e in (ECHO, TTS)})


def test_a_scenario_whose_tags_route_to_two_endpoints_goes_to_both() -> None:
    both = scenario("both", "tts", "echo")
    run = plan([both, SCENARIOS[0]], [ECHO, TTS], [CallerKind.AIORTC],
               routes=[("tts", TTS.name), ("echo", ECHO.name)])
    # smoke_a carries neither tag and both endpoints are reserved: it would get no call,
    # which check_routes refuses before a run plans it.
    assert _pairs(run.specs) == Counter({("both", ECHO.name, "aiortc"): 1, ("both", TTS.name, "aiortc"): 1})
    with pytest.raises(PlanError) as info:
        check_routes([both, SCENARIOS[0]], [ECHO, TTS], [("tts", TTS.name), ("echo", ECHO.name)])
    assert str(info.value) == (
        f"--route tts={TTS.name}, echo={ECHO.name} reserves every endpoint of the run, so 1 scenario(s) "
        "would not run: smoke_a; add an -e endpoint for them, or select only routed scenarios with "
        "--tag (echo, tts)")


def test_routes_that_leave_a_scenario_nowhere_are_refused_unless_filtered_out() -> None:
    only_tts = [("openai-realtime+http://127.0.0.1:8766", TTS)]
    with pytest.raises(PlanError, match=r"so 5 scenario\(s\) would not run: echo_repeat, pause_sweep, "):
        select(SCENARIOS, only_tts, routes=[("tts", TTS.name)])
    chosen = select(SCENARIOS, only_tts, tags=["tts"], routes=[("tts", TTS.name)])
    assert ids(chosen.scenarios) == ["tts_answers"]
    assert _pairs(plan(chosen.scenarios, [TTS], [CallerKind.AIORTC], routes=chosen.routes).specs) == Counter(
        {("tts_answers", TTS.name, "aiortc"): 1})


def test_select_reports_unknown_tags_of_filters_and_routes() -> None:
    chosen = select(SCENARIOS, GIVEN, skip_tags=["ttz"], routes=[("tss", ECHO.name)])
    assert chosen.unknown_tags == ("tss", "ttz")
    assert len(chosen.scenarios) == len(SCENARIOS)


def test_a_caller_scoped_to_tags_plays_only_those_scenarios() -> None:
    """The demo's browser caller plays the smoke suite; the aiortc caller plays all."""
    smoke, other = scenario("s", "smoke"), scenario("o", "barge_in")
    specs = plan([smoke, other], [ECHO], [CallerKind.AIORTC, CallerKind.BROWSER],
                 caller_tags=[(CallerKind.BROWSER, "smoke")]).specs
    assert sorted((s.scenario.id, s.caller) for s in specs) == [
        ("o", CallerKind.AIORTC), ("s", CallerKind.AIORTC), ("s", CallerKind.BROWSER)]
