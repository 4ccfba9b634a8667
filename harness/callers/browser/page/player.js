// @ts-check
// The scenario step player, in the page: a port of harness/callers/script.py.
//
// It runs here, not in Python, so live triggers ("barge in 300 ms after the agent
// starts") are scheduled on the AudioContext clock from the worklet's onset without a
// round trip. All times are AudioContext seconds: clips start with
// AudioBufferSourceNode.start(t), and the detector reports onsets/offsets in context
// frames of the audio as it is heard.

import * as protocol from './protocol.js';

/** @typedef {import('./protocol.js').PageMessage} PageMessage */
/** @typedef {import('./protocol.js').PageStep} PageStep */
/** @typedef {import('./protocol.js').PlayerConfig} PlayerConfig */
/** @typedef {import('./protocol.js').StepOutcome} StepOutcome */
/** @typedef {import('./protocol.js').GumPagePlan} GumPagePlan */
/** @typedef {(msg: PageMessage) => void} Report */

const POLL_S = 0.05;

export class AgentActivity {
  /** @param {number} sampleRate */
  constructor(sampleRate) {
    this.sampleRate = sampleRate;
    /** @type {number[]} */
    this.onsets = [];
    /** @type {number[]} */
    this.offsets = [];
    this.speaking = false;
    /** @type {Array<() => void>} */
    this.waiters = [];
  }

  /** @param {{kind: 'onset' | 'offset', frame: number}} event */
  onSpeech(event) {
    const t = event.frame / this.sampleRate;
    if (event.kind === 'onset') { this.onsets.push(t); this.speaking = true; }
    else { this.offsets.push(t); this.speaking = false; }
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** @param {number} t @returns {number | null} */
  onsetAfter(t) {
    return this.onsets.find((o) => o > t) ?? null;
  }

  /** @param {number} timeoutS @returns {Promise<void>} */
  waitChange(timeoutS) {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(), Math.max(0, timeoutS) * 1000);
      this.waiters.push(() => { clearTimeout(timer); resolve(); });
    });
  }
}

export class Player {
  /**
   * @param {object} args
   * @param {AudioContext} args.ctx
   * @param {PageStep[]} args.steps
   * @param {Record<string, AudioBuffer>} args.clips by clip id
   * @param {AudioNode} args.destination
   * @param {AgentActivity} args.activity
   * @param {PlayerConfig} args.settings
   * @param {Report} args.report sends a message to Python
   */
  constructor({ ctx, steps, clips, destination, activity, settings, report }) {
    this.ctx = ctx;
    this.steps = steps;
    this.clips = clips;
    this.destination = destination;
    this.activity = activity;
    this.settings = settings;
    this.report = report;
    this.busyUntil = 0;
    /** @type {number | null} */
    this.currentStep = null;
    this.stopped = false;
    /** @type {AudioBufferSourceNode[]} */
    this.sources = [];
  }

  now() { return this.ctx.currentTime; }

  stop() {
    this.stopped = true;
    // stop() throws only for a source that was never started; each here was started.
    for (const s of this.sources) { try { s.stop(); } catch (e) { /* already ended */ } }
    for (const w of this.activity.waiters.splice(0)) w();
  }

  /** @param {number} t context seconds */
  async sleepUntil(t) {
    while (!this.stopped) {
      const left = t - this.now();
      if (left <= 0) return;
      await new Promise((r) => setTimeout(r, Math.min(left, 0.25) * 1000));
    }
  }

  async run() {
    for (const step of this.steps) {
      if (this.stopped) break;
      this.currentStep = step.index;
      const started = performance.now();
      const outcome = await this.runStep(step);
      this.report(protocol.stepEnded({ step: step.index, kind: step.kind, started, ended: performance.now(), outcome }));
    }
    this.currentStep = null;
    const end = Math.max(this.busyUntil, this.now());
    await this.sleepUntil(end + this.settings.post_roll_ms / 1000);
  }

  /** @param {PageStep} step @returns {Promise<StepOutcome>} */
  async runStep(step) {
    const now = this.now();
    if (step.kind === 'silence') {
      await this.sleepUntil(now + (step.duration_ms || 0) / 1000);
      return 'done';
    }
    if (step.kind === 'listen') {
      return this.awaitReply(now, now + step.timeout_ms / 1000, step.reply_quiet_ms);
    }
    if (step.utterance === null) throw new Error(`step ${step.index} (${step.kind}) has no clip`);
    const buffer = this.clips[step.utterance];
    /** @type {number} */
    let start;
    /** @type {number | null} */
    let trigger = null;
    /** @type {number | null} */
    let onset = null;
    if (step.kind === 'barge_in' || step.kind === 'backchannel') {
      onset = await this.awaitOnset(now, now + step.timeout_ms / 1000);
      if (onset === null) return 'timeout';
      trigger = onset + (step.after_onset_ms || 0) / 1000;
      await this.sleepUntil(trigger - this.settings.trigger_wake_ms / 1000);
      start = trigger;
    } else {
      start = Math.max(this.busyUntil, now + this.settings.schedule_lead_ms / 1000);
    }
    if (this.stopped) return 'failed';
    const sr = this.ctx.sampleRate;
    const startFrame = Math.ceil(start * sr - 1e-6);
    const calledFrame = this.now() * sr;
    const source = new AudioBufferSourceNode(this.ctx, { buffer });
    source.connect(this.destination);
    source.start(startFrame / sr);
    this.sources.push(source);
    source.onended = () => { this.sources = this.sources.filter((s) => s !== source); };
    const begin = startFrame / sr;
    const duration = buffer.length / sr;
    this.busyUntil = Math.max(this.busyUntil, begin + duration);
    this.report(protocol.played({
      step: step.index, kind: step.kind, utterance: step.utterance,
      start_frame: startFrame, called_frame: calledFrame, called_perf: performance.now(),
      trigger_frame: trigger === null ? null : trigger * sr,
      onset_frame: onset === null ? null : onset * sr,
    }));
    await this.sleepUntil(begin + duration);
    if (!step.await_reply || step.kind === 'backchannel') return 'done';
    return this.awaitReply(begin + step.speech_start / sr, begin + step.speech_end / sr + step.timeout_ms / 1000,
      step.reply_quiet_ms);
  }

  /** @param {number} after @param {number} deadline @returns {Promise<number | null>} */
  async awaitOnset(after, deadline) {
    /** @type {number | null} */
    let onset;
    while ((onset = this.activity.onsetAfter(after)) === null) {
      const remaining = deadline - this.now();
      if (remaining <= 0 || this.stopped) return null;
      await this.activity.waitChange(Math.min(POLL_S, remaining));
    }
    return onset;
  }

  /**
   * @param {number} after @param {number} deadline @param {number | null} quietMs
   * @returns {Promise<StepOutcome>}
   */
  async awaitReply(after, deadline, quietMs) {
    const onset = await this.awaitOnset(after, deadline);
    if (onset === null) return this.stopped ? 'failed' : 'timeout';
    const quiet = (quietMs || this.settings.reply_quiet_ms) / 1000;
    const endDeadline = this.now() + this.settings.max_reply_s;
    const act = this.activity;
    while (this.now() < endDeadline && !this.stopped) {
      const last = act.offsets.length ? act.offsets[act.offsets.length - 1] : null;
      if (!act.speaking && last !== null && last > onset && this.now() - last >= quiet) return 'reply_ended';
      await act.waitChange(POLL_S);
    }
    return this.stopped ? 'failed' : 'reply_too_long';
  }
}

// getUserMedia mode: the caller's audio is a file Chromium's fake capture device plays
// from the moment capture starts, so the steps cannot react; this only reports when
// each planned clip should go out and ends the call when the file has played.
export class FixedPlayer {
  /**
   * @param {object} args
   * @param {GumPagePlan} args.plan
   * @param {PlayerConfig} args.settings
   * @param {Report} args.report
   * @param {number} args.captureStart page ms when capture started
   */
  constructor({ plan, settings, report, captureStart }) {
    this.plan = plan;
    this.settings = settings;
    this.report = report;
    this.captureStart = captureStart;
    this.stopped = false;
  }

  stop() { this.stopped = true; }

  /** @param {number} t page ms */
  async sleepUntilPerf(t) {
    while (!this.stopped && performance.now() < t) {
      await new Promise((r) => setTimeout(r, Math.min(250, t - performance.now())));
    }
  }

  async run() {
    for (const step of this.plan.steps) {
      if (this.stopped) break;
      const started = this.captureStart + step.start_ms;
      await this.sleepUntilPerf(started);
      if (step.utterance) {
        this.report(protocol.played({ step: step.index, kind: step.kind, utterance: step.utterance,
          start_perf: started, called_perf: performance.now() }));
      }
      await this.sleepUntilPerf(this.captureStart + step.end_ms);
      this.report(protocol.stepEnded({ step: step.index, kind: step.kind, started, ended: performance.now(),
        outcome: this.stopped ? 'failed' : 'done' }));
    }
    await this.sleepUntilPerf(this.captureStart + this.plan.duration_ms + this.settings.post_roll_ms);
  }
}
