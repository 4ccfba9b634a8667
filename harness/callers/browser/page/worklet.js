// @ts-check
// AudioWorklet: records what the page hears and detects agent speech live.
//
// Runs on the audio render thread so recording and detection see every sample in
// order, stamped with its AudioContext frame (the clock the player schedules on).
// The detector is a port of harness/analysis/live.py (same framing, floor, hysteresis,
// min speech and hangover), so live steering and the offline analysis agree.

const SILENCE_DB = -120;
const POWER_EPS = 10 ** (SILENCE_DB / 10);

/** @typedef {import('./protocol.js').DetectorConfig} DetectorConfig */
/** @typedef {{kind: 'onset' | 'offset', frame: number, detected: number}} SpeechEvent */

class LiveDetector {
  /** @param {DetectorConfig} p @param {number} sampleRate */
  constructor(p, sampleRate) {
    this.frameLen = Math.max(1, Math.round(sampleRate * p.frame_ms / 1000));
    const frameMs = 1000 * this.frameLen / sampleRate;
    const ceilFrames = (/** @type {number} */ ms) => Math.max(1, Math.ceil(ms / frameMs - 1e-9));
    this.minSpeech = ceilFrames(p.min_speech_ms);
    this.hangover = ceilFrames(p.hangover_ms);
    this.rise = p.floor_rise_db_per_s * frameMs / 1000;
    this.threshold = p.threshold_db;
    this.release = p.release_db;
    this.absFloor = p.absolute_floor_dbfs;
    this.floor = p.absolute_floor_dbfs;
    this.active = false;
    this.speaking = false;
    this.runStart = 0;
    this.runFrames = 0;
    this.lastVoicedEnd = 0;
    this.silentFrames = 0;
    this.acc = 0;
    this.filled = 0;
  }

  /**
   * Feed one sample at context frame `frame`; returns an event or null.
   * @param {number} x @param {number} frame @returns {SpeechEvent | null}
   */
  push(x, frame) {
    this.acc += x * x;
    this.filled += 1;
    if (this.filled < this.frameLen) return null;
    const level = 10 * Math.log10(this.acc / this.frameLen + POWER_EPS);
    const end = frame + 1;
    this.acc = 0;
    this.filled = 0;
    return this.step(level, end);
  }

  /** @param {number} level dBFS of the frame @param {number} end frame after it @returns {SpeechEvent | null} */
  step(level, end) {
    this.floor = Math.min(level, this.floor + this.rise);
    const open = Math.max(this.floor + this.threshold, this.absFloor);
    const stay = Math.max(this.floor + this.release, this.absFloor);
    if (level > open) this.active = true;
    else if (level <= stay) this.active = false;
    if (this.active) {
      if (this.runFrames === 0) this.runStart = end - this.frameLen;
      this.runFrames += 1;
      this.silentFrames = 0;
      this.lastVoicedEnd = end;
      if (!this.speaking && this.runFrames >= this.minSpeech) {
        this.speaking = true;
        return { kind: 'onset', frame: this.runStart, detected: end };
      }
      return null;
    }
    this.runFrames = 0;
    if (this.speaking) {
      this.silentFrames += 1;
      if (this.silentFrames >= this.hangover) {
        this.speaking = false;
        return { kind: 'offset', frame: this.lastVoicedEnd, detected: end };
      }
    }
    return null;
  }
}

class HeardRecorder extends AudioWorkletProcessor {
  /**
   * @param {{processorOptions: {blockSamples: number, record: boolean, detector: DetectorConfig}}} options
   */
  constructor(options) {
    super();
    const o = options.processorOptions;
    this.blockLen = o.blockSamples;
    this.record = o.record;
    this.detector = new LiveDetector(o.detector, sampleRate);
    this.block = new Float32Array(this.blockLen);
    this.fill = 0;
    this.blockStart = -1;
    this.stopped = false;
    this.port.onmessage = (/** @type {MessageEvent} */ e) => {
      if (e.data === 'flush') { this.flush(); this.port.postMessage({ type: 'flushed' }); }
      if (e.data === 'stop') { this.flush(); this.stopped = true; }
    };
  }

  flush() {
    if (this.fill === 0) return;
    const data = this.block.slice(0, this.fill);
    this.port.postMessage({ type: 'audio', start: this.blockStart, data }, [data.buffer]);
    this.fill = 0;
    this.blockStart = -1;
  }

  /** @param {Float32Array[][]} inputs @returns {boolean} */
  process(inputs) {
    if (this.stopped) return false;
    const channels = inputs[0];
    const n = channels.length ? channels[0].length : 128;
    const scale = channels.length ? 1 / channels.length : 0;
    for (let i = 0; i < n; i++) {
      let x = 0;
      for (let c = 0; c < channels.length; c++) x += channels[c][i];
      x *= scale;
      const frame = currentFrame + i;
      if (this.record) {
        if (this.blockStart < 0) this.blockStart = frame;
        this.block[this.fill++] = x;
        if (this.fill === this.blockLen) this.flush();
      }
      const event = this.detector.push(x, frame);
      if (event) this.port.postMessage({ type: 'speech', ...event });
    }
    return true;
  }
}

registerProcessor('heard-recorder', HeardRecorder);
