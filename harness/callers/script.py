"""Plays a scenario's steps into a ``Playout``, reacting live to the agent.

Transport-agnostic: it sees only the outgoing sample timeline (``Playout``), the live
agent activity and a clock, so the same step logic drives any caller that has those
and can be run on a virtual clock. Clips are placed at exact sample positions; the
caller later turns positions into wire times.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from harness.callers.activity import AgentActivity
from harness.clock import Clock
from harness.records import SentUtterance, StepKind, StepLog, StepOutcome, Utterance
from harness.webrtc.audio import SAMPLE_RATE, Float32Audio, samples_to_ns
from harness.webrtc.playout import Playout

_POLL_S = 0.05


@dataclass(frozen=True, slots=True, kw_only=True)
class ResolvedStep:
    """A scenario step with its corpus audio loaded (none for silence/listen)."""

    index: int
    kind: StepKind
    utterance: Utterance | None
    audio: Float32Audio | None
    timeout_ms: int
    await_reply: bool
    duration_ms: int | None = None
    after_onset_ms: int | None = None
    reply_quiet_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PlayedClip:
    step_index: int
    kind: StepKind
    utterance: Utterance
    start_sample: int
    trigger_ns: int | None = None
    """Absolute monotonic ns at which a live trigger fired."""
    agent_onset_ns: int | None = None


def sent_utterance(
    *,
    step_index: int,
    kind: StepKind,
    utterance: Utterance,
    start_sample: int,
    at: Callable[[int], int],
    trigger_ns: int | None = None,
    agent_onset_ns: int | None = None,
) -> SentUtterance:
    """A played clip on the call clock; ``at`` maps a sample of the clip to its send time.

    Each caller has its own way of knowing when a sample left (RTP taps, encoded-frame
    taps); everything else about the record is the same for all of them.
    """
    return SentUtterance(
        step_index=step_index, kind=kind, utterance_id=utterance.id, utterance_tags=utterance.tags,
        start_sample=start_sample, start_ns=at(0), speech_start_ns=at(utterance.speech_start),
        speech_end_ns=at(utterance.speech_end), speech_end_sample=start_sample + utterance.speech_end,
        voiced_ns=tuple((at(a), at(b)) for a, b in utterance.voiced),
        trigger_ns=trigger_ns, agent_onset_ns=agent_onset_ns,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class PlayerSettings:
    reply_quiet_ms: float = 400.0
    """The agent's reply is over once it has been quiet this long."""
    max_reply_s: float = 30.0
    post_roll_ms: float = 800.0
    """Listen this long after the last step, so late audio is still recorded."""


class ScenarioPlayer:
    def __init__(
        self,
        steps: list[ResolvedStep],
        playout: Playout,
        activity: AgentActivity,
        clock: Clock,
        origin_ns: int,
        settings: PlayerSettings | None = None,
    ) -> None:
        self.steps = steps
        self.playout = playout
        self.activity = activity
        self.clock = clock
        self.origin_ns = origin_ns
        self.settings = settings or PlayerSettings()
        self.played: list[PlayedClip] = []
        self.logs: list[StepLog] = []
        self.current_step: int | None = None

    def _sample_time(self, sample: int) -> int:
        return self.origin_ns + samples_to_ns(sample)

    async def run(self) -> None:
        for step in self.steps:
            self.current_step = step.index
            started = self.clock.monotonic_ns()
            outcome = await self._run_step(step)
            self.logs.append(
                StepLog(
                    step_index=step.index, kind=step.kind, started_ns=started - self.origin_ns,
                    ended_ns=self.clock.monotonic_ns() - self.origin_ns, outcome=outcome,
                )
            )
        self.current_step = None
        end = max(self.playout.busy_until, self.playout.rendered)
        await self.clock.sleep_until(
            self._sample_time(end) + int(self.settings.post_roll_ms * 1e6)
        )

    async def _run_step(self, step: ResolvedStep) -> StepOutcome:
        now = self.clock.monotonic_ns()
        if step.kind is StepKind.SILENCE:
            await self.clock.sleep_until(now + int((step.duration_ms or 0) * 1e6))
            return StepOutcome.DONE
        if step.kind is StepKind.LISTEN:
            return await self._await_reply(
                after_ns=now, deadline_ns=now + step.timeout_ms * 1_000_000, quiet_ms=step.reply_quiet_ms
            )
        assert step.utterance is not None and step.audio is not None
        trigger_ns = onset_ns = None
        start: int | None = None
        if step.kind in (StepKind.BARGE_IN, StepKind.BACKCHANNEL):
            onset_ns = await self._await_onset(now, now + step.timeout_ms * 1_000_000)
            if onset_ns is None:
                return StepOutcome.TIMEOUT
            trigger_ns = onset_ns + (step.after_onset_ms or 0) * 1_000_000
            await self.clock.sleep_until(trigger_ns - 25_000_000)
            start = math.ceil((trigger_ns - self.origin_ns) * SAMPLE_RATE / 1e9)
        begin = self.playout.schedule(step.audio, start, tag=f"step{step.index}")
        self.played.append(
            PlayedClip(
                step_index=step.index, kind=step.kind, utterance=step.utterance, start_sample=begin,
                trigger_ns=trigger_ns, agent_onset_ns=onset_ns,
            )
        )
        await self.clock.sleep_until(self._sample_time(begin + step.audio.size))
        if not step.await_reply or step.kind is StepKind.BACKCHANNEL:
            return StepOutcome.DONE
        utt = step.utterance
        speech_start = self._sample_time(begin + utt.speech_start)
        speech_end = self._sample_time(begin + utt.speech_end)
        return await self._await_reply(
            after_ns=speech_start, deadline_ns=speech_end + step.timeout_ms * 1_000_000,
            quiet_ms=step.reply_quiet_ms,
        )

    async def _await_onset(self, after_ns: int, deadline_ns: int) -> int | None:
        while (onset := self.activity.onset_after(after_ns)) is None:
            remaining = deadline_ns - self.clock.monotonic_ns()
            if remaining <= 0:
                return None
            await self.activity.wait_change(min(_POLL_S, remaining / 1e9))
        return onset

    async def _await_reply(
        self, *, after_ns: int, deadline_ns: int, quiet_ms: int | None
    ) -> StepOutcome:
        onset = await self._await_onset(after_ns, deadline_ns)
        if onset is None:
            return StepOutcome.TIMEOUT
        quiet_ns = int((quiet_ms or self.settings.reply_quiet_ms) * 1e6)
        end_deadline = self.clock.monotonic_ns() + int(self.settings.max_reply_s * 1e9)
        while self.clock.monotonic_ns() < end_deadline:
            offsets = self.activity.offsets
            if (
                not self.activity.speaking
                and offsets
                and offsets[-1] > onset
                and self.clock.monotonic_ns() - offsets[-1] >= quiet_ns
            ):
                return StepOutcome.REPLY_ENDED
            await self.activity.wait_change(_POLL_S)
        return StepOutcome.REPLY_TOO_LONG
