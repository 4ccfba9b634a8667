// @ts-check
// The browser caller's page: one call, steered by Python over a local WebSocket.
//
// Python owns signalling (the endpoint adapter, API keys) and the clock; the page owns
// the media: it injects the scenario with WebAudio, plays the step logic live, taps the
// encoded frames at the network edge, records what it hears and polls getStats. Every
// piece of evidence is streamed to Python as it happens, so a crash loses little.
// Messages are built with ./protocol.js (the mirror of protocol.py).

import { AgentActivity, FixedPlayer, Player } from './player.js';
import * as protocol from './protocol.js';
import { PlayoutTap, base64, keepLoopbackCandidates, readStats, selectedPair } from './rtc.js';
import { Deferred, withTimeout } from './wait.js';

/** @typedef {import('./protocol.js').ConfigMessage} ConfigMessage */
/** @typedef {import('./protocol.js').AnswerMessage} AnswerMessage */
/** @typedef {import('./protocol.js').PageMessage} PageMessage */
/** @typedef {import('./protocol.js').PageOutcome} PageOutcome */
/**
 * What the heard-recorder worklet posts (worklet.js).
 * @typedef {{type: 'audio', start: number, data: Float32Array<ArrayBuffer>}
 *   | {type: 'speech', kind: 'onset' | 'offset', frame: number, detected: number}
 *   | {type: 'flushed'}} RecorderEvent
 */
/**
 * What the encoded-frame taps post (transform.js).
 * @typedef {{side: 'send' | 'recv', batch: ArrayBuffer} | {flushed: true}} TapEvent
 */
/**
 * The page's audio graph, made before the peer connection.
 * @typedef {object} AudioGraph
 * @property {AudioContext} ctx
 * @property {AgentActivity} activity
 * @property {Record<string, AudioBuffer>} clips
 * @property {AudioWorkletNode} recorder
 * @property {MediaStreamAudioDestinationNode} destination
 */
/**
 * @typedef {object} Peer
 * @property {RTCPeerConnection} pc
 * @property {Worker} worker
 * @property {RTCRtpTransceiver} transceiver
 */

const FLUSH_TIMEOUT_MS = 1000;

class CallerPage {
  /** @param {string} token */
  constructor(token) {
    this.token = token;
    this.ws = new WebSocket(`ws://${location.host}/ws/${token}`);
    this.ws.binaryType = 'arraybuffer';
    /** @type {AudioGraph | null} */
    this.audio = null;
    /** @type {Peer | null} */
    this.peer = null;
    /** @type {Player | FixedPlayer | null} */
    this.player = null;
    /** @type {ReturnType<typeof setInterval> | null} */
    this.statsTimer = null;
    /** @type {PlayoutTap | null} */
    this.playoutTap = null;
    /** @type {Deferred<AnswerMessage>} */
    this.answer = new Deferred();
    /** @type {Deferred<void>} */
    this.go = new Deferred();
    /** @type {(() => void) | null} */
    this.recorderFlushed = null;
    this.finished = false;
    this.ws.onmessage = (event) => this.onCommand(String(event.data));
    window.addEventListener('error', (e) => this.fail('page', e.message));
    window.addEventListener('unhandledrejection', (e) => this.fail('promise', e.reason));
  }

  // ---------------------------------------------------------------- to Python

  /** @param {PageMessage} msg */
  send(msg) {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  /** @param {number} kind a protocol.BinaryKind @param {BlobPart} payload */
  sendBinary(kind, payload) {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    const head = new Uint8Array(protocol.BINARY_HEADER_BYTES);
    head[0] = kind;
    this.ws.send(new Blob([head, payload]));
  }

  /** The call cannot go on: Python ends it with this reason. @param {string} where @param {unknown} err */
  fail(where, err) {
    this.send(protocol.error(where, err));
  }

  /** Worked around; Python keeps it in caller_info. @param {string} where @param {unknown} err */
  warn(where, err) {
    this.send(protocol.warning(where, err));
  }

  // ---------------------------------------------------------------- from Python

  /** @param {string} text */
  onCommand(text) {
    const msg = protocol.parseCommand(text);
    switch (msg.type) {
      case protocol.MessageType.PING: this.send(protocol.pong(msg.id, performance.now())); break;
      case protocol.MessageType.CONFIG: this.start(msg).catch((e) => this.fail('start', e)); break;
      case protocol.MessageType.ANSWER: this.answer.resolve(msg); break;
      case protocol.MessageType.PLAY: this.go.resolve(); break;
      case protocol.MessageType.STOP:
        if (this.player) this.player.stop();
        else this.finish('stopped').catch((e) => this.fail('finish', e));
        break;
      default: break;
    }
  }

  // ---------------------------------------------------------------- the call

  /** @param {ConfigMessage} config */
  async start(config) {
    const audio = await this.openAudio(config);
    const peer = this.openPeer(config, audio);
    await this.negotiate(config, peer.pc);
    await this.awaitConnected(config, peer, audio.ctx);
    this.statsTimer = setInterval(() => {
      this.pollStats().catch((e) => this.warn('getStats', e));
    }, config.stats_interval_ms);
    this.playoutTap = new PlayoutTap(peer.transceiver.receiver, config.playout_poll_ms, (m) => this.send(m));
    await this.go.promise;
    await this.finish(await this.play(config, peer, audio));
  }

  /** @param {ConfigMessage} config @returns {Promise<AudioGraph>} */
  async openAudio(config) {
    const ctx = new AudioContext({ sampleRate: config.sample_rate, latencyHint: 'interactive' });
    if (ctx.state !== 'running') await withTimeout(ctx.resume(), 5000, 'AudioContext resume');
    await ctx.audioWorklet.addModule('worklet.js');
    const activity = new AgentActivity(ctx.sampleRate);
    const clips = await this.loadClips(ctx, config.clip_ids);
    const recorder = new AudioWorkletNode(ctx, 'heard-recorder', {
      numberOfInputs: 1, numberOfOutputs: 0, channelCountMode: 'max',
      processorOptions: { blockSamples: config.heard_block_samples, record: config.record_heard, detector: config.detector },
    });
    recorder.port.onmessage = (event) => this.onRecorderEvent(activity, event.data);
    const destination = ctx.createMediaStreamDestination();
    destination.channelCount = 1;
    // Chromium stops pulling a destination with no live input, and the track then sends
    // nothing between clips; a silent constant source keeps the outgoing stream continuous.
    const keepAlive = new ConstantSourceNode(ctx, { offset: 0 });
    keepAlive.connect(destination);
    keepAlive.start();
    this.audio = { ctx, activity, clips, recorder, destination };
    return this.audio;
  }

  /** @param {AudioContext} ctx @param {string[]} ids */
  async loadClips(ctx, ids) {
    /** @type {Record<string, AudioBuffer>} */
    const clips = {};
    for (const id of ids) {
      const resp = await fetch(`/clip/${this.token}/${encodeURIComponent(id)}`);
      if (!resp.ok) throw new Error(`clip ${id}: HTTP ${resp.status}`);
      const samples = new Float32Array(await resp.arrayBuffer());
      const buffer = new AudioBuffer({ length: Math.max(1, samples.length), numberOfChannels: 1, sampleRate: ctx.sampleRate });
      buffer.copyToChannel(samples, 0);
      clips[id] = buffer;
    }
    return clips;
  }

  /** @param {AgentActivity} activity @param {RecorderEvent} d */
  onRecorderEvent(activity, d) {
    if (d.type === 'audio') {
      const head = new Float64Array([d.start]);
      this.sendBinary(protocol.BinaryKind.HEARD, new Blob([head, d.data]));
    } else if (d.type === 'speech') {
      activity.onSpeech(d);
      this.send(protocol.speech(d.kind, d.frame, d.detected));
    } else if (d.type === 'flushed' && this.recorderFlushed) {
      this.recorderFlushed();
    }
  }

  /** @param {TapEvent} d */
  onTapEvent(d) {
    if ('flushed' in d) return;
    this.sendBinary(d.side === 'send' ? protocol.BinaryKind.SENT : protocol.BinaryKind.RECEIVED, d.batch);
  }

  /** @param {ConfigMessage} config @param {AudioGraph} audio @returns {Peer} */
  openPeer(config, audio) {
    // getUserMedia mode: capture starts (and the fake device's file starts playing) only
    // once the call is up; until then the sender has no track.
    const track = config.use_get_user_media ? null : audio.destination.stream.getAudioTracks()[0];
    const pc = new RTCPeerConnection({ iceServers: [] });
    const worker = new Worker('transform.js');
    worker.onmessage = (event) => this.onTapEvent(event.data);
    const stream = new MediaStream(track ? [track] : []);
    const transceiver = pc.addTransceiver(track || 'audio', { direction: 'sendrecv', streams: [stream] });
    transceiver.sender.transform = new RTCRtpScriptTransform(worker, { side: 'send', pageOrigin: performance.timeOrigin });
    transceiver.receiver.transform = new RTCRtpScriptTransform(worker, { side: 'recv', pageOrigin: performance.timeOrigin });

    const audioEl = /** @type {HTMLAudioElement} */ (document.getElementById('remote'));
    pc.ontrack = (event) => {
      const remote = event.streams[0] || new MediaStream([event.track]);
      audioEl.srcObject = remote;
      audioEl.muted = false;
      audioEl.volume = 1.0;
      audioEl.play().catch((e) => this.fail('audio element', e));
      audio.ctx.createMediaStreamSource(remote).connect(audio.recorder);
    };
    pc.onconnectionstatechange = () => {
      this.send(protocol.state('connection', pc.connectionState, performance.now()));
    };
    pc.oniceconnectionstatechange = () => {
      this.send(protocol.state('ice', pc.iceConnectionState, performance.now()));
    };
    if (config.datachannel_label) this.openDataChannel(pc, config.datachannel_label, config.opening_messages);
    this.peer = { pc, worker, transceiver };
    return this.peer;
  }

  /** @param {RTCPeerConnection} pc @param {string} label @param {string[]} opening */
  openDataChannel(pc, label, opening) {
    const dc = pc.createDataChannel(label);
    dc.onopen = () => { for (const m of opening) dc.send(m); };
    dc.onmessage = (event) => {
      const perf = performance.now();
      if (typeof event.data === 'string') this.send(protocol.dataChannelText(perf, event.data));
      else this.send(protocol.dataChannelBinary(perf, base64(event.data)));
    };
  }

  /** @param {ConfigMessage} config @param {RTCPeerConnection} pc */
  async negotiate(config, pc) {
    await pc.setLocalDescription();
    await this.waitIceGathering(pc, config.ice_gathering_timeout_ms);
    const local = pc.localDescription;
    if (!local) throw new Error('no local description after setLocalDescription');
    const sdp = config.loopback_only ? keepLoopbackCandidates(local.sdp) : local.sdp;
    this.send(protocol.offer(sdp));
    const answer = await this.answer.promise;
    await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
  }

  /** @param {RTCPeerConnection} pc @param {number} timeoutMs */
  async waitIceGathering(pc, timeoutMs) {
    if (pc.iceGatheringState === 'complete') return;
    try {
      await withTimeout(new Promise((resolve) => {
        pc.addEventListener('icegatheringstatechange', () => {
          if (pc.iceGatheringState === 'complete') resolve(undefined);
        });
      }), timeoutMs, 'ICE gathering');
    } catch (e) {
      // Offer the candidates gathered so far (loopback host candidates come first);
      // the far end may still connect, and if not, the connect timeout says so.
      this.warn('ICE gathering', e);
    }
  }

  /** @param {ConfigMessage} config @param {Peer} peer @param {AudioContext} ctx */
  async awaitConnected(config, peer, ctx) {
    const { pc, transceiver } = peer;
    await withTimeout(new Promise((resolve, reject) => {
      const check = () => {
        if (pc.connectionState === 'connected') resolve(undefined);
        else if (pc.connectionState === 'failed' || pc.connectionState === 'closed') reject(new Error(`connection ${pc.connectionState}`));
      };
      pc.addEventListener('connectionstatechange', check);
      check();
    }), config.connect_timeout_ms, 'media connection');
    const connectedPerf = performance.now();
    // A far end that hangs up sends a DTLS close_notify: Chromium closes the transport but
    // leaves the peer connection "connected" until ICE consent runs out (~30 s).
    const dtls = transceiver.sender.transport;
    if (dtls) {
      dtls.onstatechange = () => this.send(protocol.state('dtls', dtls.state, performance.now()));
    }
    this.send(protocol.connected({
      perf: connectedPerf, time_origin: performance.timeOrigin, pair: await selectedPair(pc),
      user_agent: navigator.userAgent, output_latency: ctx.outputLatency, base_latency: ctx.baseLatency,
    }));
  }

  async pollStats() {
    if (!this.audio || !this.peer) return;
    this.send(protocol.stats(await readStats(this.audio.ctx, this.peer.pc)));
  }

  /**
   * Run the steps (or, in getUserMedia mode, the fixed plan) to the end.
   * @param {ConfigMessage} config @param {Peer} peer @param {AudioGraph} audio
   * @returns {Promise<PageOutcome>}
   */
  async play(config, peer, audio) {
    const report = (/** @type {PageMessage} */ m) => this.send(m);
    if (config.use_get_user_media && config.gum_plan) {
      const mic = await this.captureTrack();
      const captureStart = performance.now();
      await peer.transceiver.sender.replaceTrack(mic);
      this.send(protocol.capture(captureStart, mic.getSettings(), mic.label));
      this.player = new FixedPlayer({ plan: config.gum_plan, settings: config.player, report, captureStart });
    } else {
      this.player = new Player({ ctx: audio.ctx, steps: config.steps, clips: audio.clips,
        destination: audio.destination, activity: audio.activity, settings: config.player, report });
    }
    try {
      await this.player.run();
      return this.player.stopped ? 'stopped' : 'done';
    } catch (e) {
      this.fail('player', e);
      return 'failed';
    }
  }

  async captureTrack() {
    // getUserMedia with Chromium's audio processing on: the fake capture device plays
    // the call's pre-rendered file (see gum.py for what this mode can and cannot do).
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 },
    });
    return stream.getAudioTracks()[0];
  }

  /**
   * Flush every tap, send ``done`` and hang up; runs once, whatever state the call is in.
   * @param {PageOutcome} outcome
   */
  async finish(outcome) {
    if (this.finished) return;
    this.finished = true;
    if (this.statsTimer) clearInterval(this.statsTimer);
    if (this.playoutTap) this.playoutTap.stop();
    await this.pollStats().catch((e) => this.warn('final getStats', e));
    const recorder = this.audio?.recorder;
    if (recorder) {
      await withTimeout(new Promise((resolve) => {
        this.recorderFlushed = () => resolve(undefined);
        recorder.port.postMessage('flush');
      }), FLUSH_TIMEOUT_MS, 'recorder flush').catch((e) => this.warn('heard audio', e));
    }
    const worker = this.peer?.worker;
    if (worker) {
      await withTimeout(new Promise((resolve) => {
        /** @param {MessageEvent<TapEvent>} e */
        const onFlushed = (e) => {
          if (e.data && 'flushed' in e.data) { worker.removeEventListener('message', onFlushed); resolve(undefined); }
        };
        worker.addEventListener('message', onFlushed);
        worker.postMessage('flush');
      }), FLUSH_TIMEOUT_MS, 'transform flush').catch((e) => this.warn('encoded frames', e));
    }
    this.send(protocol.done(outcome, performance.now()));
    if (this.peer) this.peer.pc.close();
  }
}

const token = new URLSearchParams(location.search).get('call');
if (token) new CallerPage(token);
