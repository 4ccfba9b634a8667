// The browser caller's page: one call, steered by Python over a local WebSocket.
//
// Python owns signalling (the endpoint adapter, API keys) and the clock; the page owns
// the media: it injects the scenario with WebAudio, plays the step logic live, taps the
// encoded frames at the network edge, records what it hears and polls getStats. Every
// piece of evidence is streamed to Python as it happens, so a crash loses little.

import { AgentActivity, FixedPlayer, Player } from './player.js';

const params = new URLSearchParams(location.search);
const token = params.get('call');
const ws = new WebSocket(`ws://${location.host}/ws/${token}`);
ws.binaryType = 'arraybuffer';

const KIND_SENT = 1;
const KIND_RECV = 2;
const KIND_HEARD = 3;

let config = null;
let ctx = null;
let pc = null;
let worker = null;
let recorder = null;
let player = null;
let statsTimer = null;
let playoutTimer = null;
let flushPlayout = () => {};
let answerWaiter = null;
let playWaiter = null;
let finished = false;

function send(obj) {
  if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(obj));
}

function sendBinary(kind, payload) {
  if (ws.readyState !== WebSocket.OPEN) return;
  const head = new Uint8Array(8);
  head[0] = kind;
  ws.send(new Blob([head, payload]));
}

function fail(where, err) {
  send({ type: 'error', where, message: String(err && err.message ? err.message : err) });
}

ws.onmessage = (event) => {
  const msg = JSON.parse(event.data);
  switch (msg.type) {
    case 'ping': send({ type: 'pong', id: msg.id, perf: performance.now() }); break;
    case 'config': config = msg; start().catch((e) => fail('start', e)); break;
    case 'answer': if (answerWaiter) answerWaiter(msg); break;
    case 'play': if (playWaiter) playWaiter(); break;
    case 'stop': if (player) player.stop(); else finish('stopped'); break;
    default: break;
  }
};
window.addEventListener('error', (e) => fail('page', e.message));
window.addEventListener('unhandledrejection', (e) => fail('promise', e.reason));

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function loadClips(ids) {
  const clips = {};
  for (const id of ids) {
    const resp = await fetch(`/clip/${token}/${encodeURIComponent(id)}`);
    if (!resp.ok) throw new Error(`clip ${id}: HTTP ${resp.status}`);
    const samples = new Float32Array(await resp.arrayBuffer());
    const buffer = new AudioBuffer({ length: Math.max(1, samples.length), numberOfChannels: 1, sampleRate: ctx.sampleRate });
    buffer.copyToChannel(samples, 0);
    clips[id] = buffer;
  }
  return clips;
}

async function captureTrack() {
  // getUserMedia with Chromium's audio processing on: the fake capture device plays
  // the call's pre-rendered file (see browser_gum.py for what this mode can and cannot do).
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 },
  });
  return stream.getAudioTracks()[0];
}

function onWorkerMessage(event) {
  const d = event.data;
  if (d.flushed) return;
  sendBinary(d.side === 'send' ? KIND_SENT : KIND_RECV, d.batch);
}

function onRecorderMessage(event) {
  const d = event.data;
  if (d.type === 'audio') {
    const head = new Float64Array([d.start]);
    sendBinary(KIND_HEARD, new Blob([head, d.data]));
  } else if (d.type === 'speech') {
    activity.onSpeech(d);
    send({ type: 'speech', kind: d.kind, frame: d.frame, detected: d.detected });
  } else if (d.type === 'flushed' && recorderFlushed) {
    recorderFlushed();
  }
}

let activity = null;
let recorderFlushed = null;

async function waitIceGathering(timeoutMs) {
  if (pc.iceGatheringState === 'complete') return;
  await withTimeout(new Promise((resolve) => {
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') resolve();
    });
  }), timeoutMs, 'ICE gathering').catch(() => {});
}

function keepLoopbackCandidates(sdp) {
  // The endpoint is on this host: offer only loopback candidates, so the far end
  // never sends to another interface.
  return sdp.split('\r\n').filter((line) => {
    if (!line.startsWith('a=candidate:')) return true;
    const addr = line.split(' ')[4];
    return addr === '127.0.0.1' || addr === '::1';
  }).join('\r\n');
}

async function selectedPair() {
  const report = await pc.getStats();
  let pair = null;
  report.forEach((s) => {
    if (s.type === 'transport' && s.selectedCandidatePairId) pair = report.get(s.selectedCandidatePairId);
  });
  if (!pair) return null;
  const local = report.get(pair.localCandidateId);
  const remote = report.get(pair.remoteCandidateId);
  return {
    local: local ? `${local.address}:${local.port}` : null,
    local_type: local ? local.candidateType : null,
    remote: remote ? `${remote.address}:${remote.port}` : null,
    remote_type: remote ? remote.candidateType : null,
  };
}

async function pollStats(prevRef) {
  const perf = performance.now();
  const ots = ctx.getOutputTimestamp();
  const ct = ctx.currentTime;
  const report = await pc.getStats();
  const out = { type: 'stats', perf, ots_ctx: ots.contextTime, ots_perf: ots.performanceTime, ctx_time: ct,
    output_latency: ctx.outputLatency, base_latency: ctx.baseLatency };
  report.forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'audio') {
      for (const k of ['packetsReceived', 'packetsLost', 'jitter', 'jitterBufferDelay', 'jitterBufferEmittedCount',
        'jitterBufferTargetDelay', 'jitterBufferMinimumDelay', 'concealedSamples', 'silentConcealedSamples',
        'concealmentEvents', 'totalSamplesReceived', 'insertedSamplesForDeceleration',
        'removedSamplesForAcceleration', 'audioLevel', 'totalAudioEnergy', 'totalSamplesDuration',
        'packetsDiscarded']) {
        if (typeof s[k] === 'number') out[k] = s[k];
      }
    } else if (s.type === 'remote-inbound-rtp' && typeof s.roundTripTime === 'number') {
      out.remoteRtt = s.roundTripTime;
    } else if (s.type === 'candidate-pair' && s.nominated && typeof s.currentRoundTripTime === 'number') {
      out.pairRtt = s.currentRoundTripTime;
    } else if (s.type === 'outbound-rtp' && s.kind === 'audio') {
      out.packetsSent = s.packetsSent;
    }
  });
  send(out);
}

// When Chromium's audio renderer played each received packet out of the jitter buffer:
// getSynchronizationSources() reports, per source, the RTP timestamp of the packet
// last delivered for playout and when. Polled faster than packets arrive, so every
// packet's first playout is seen; only changes are kept.
function startPlayoutTap(receiver) {
  let rows = [];
  let last = '';
  flushPlayout = () => { if (rows.length) { send({ type: 'playout', rows }); rows = []; } };
  return setInterval(() => {
    for (const src of receiver.getSynchronizationSources()) {
      const key = `${src.rtpTimestamp}/${src.timestamp}`;
      if (key === last) continue;
      last = key;
      rows.push([src.rtpTimestamp, src.timestamp - performance.timeOrigin]);
    }
    if (rows.length >= 50) flushPlayout();
  }, config.playout_poll_ms);
}

async function start() {
  ctx = new AudioContext({ sampleRate: config.sample_rate, latencyHint: 'interactive' });
  if (ctx.state !== 'running') await withTimeout(ctx.resume(), 5000, 'AudioContext resume');
  await ctx.audioWorklet.addModule('worklet.js');
  activity = new AgentActivity(ctx.sampleRate);
  const clips = await loadClips(config.clip_ids);

  recorder = new AudioWorkletNode(ctx, 'heard-recorder', {
    numberOfInputs: 1, numberOfOutputs: 0, channelCountMode: 'max',
    processorOptions: { blockSamples: config.heard_block_samples, record: config.record_heard, detector: config.detector },
  });
  recorder.port.onmessage = onRecorderMessage;

  const destination = ctx.createMediaStreamDestination();
  destination.channelCount = 1;
  // Chromium stops pulling a destination with no live input, and the track then sends
  // nothing between clips; a silent constant source keeps the outgoing stream continuous.
  const keepAlive = new ConstantSourceNode(ctx, { offset: 0 });
  keepAlive.connect(destination);
  keepAlive.start();
  // getUserMedia mode: capture starts (and the fake device's file starts playing) only
  // once the call is up; until then the sender has no track.
  const track = config.use_get_user_media ? null : destination.stream.getAudioTracks()[0];

  pc = new RTCPeerConnection({ iceServers: [] });
  worker = new Worker('transform.js');
  worker.onmessage = onWorkerMessage;
  const stream = new MediaStream(track ? [track] : []);
  const transceiver = pc.addTransceiver(track || 'audio', { direction: 'sendrecv', streams: [stream] });
  transceiver.sender.transform = new RTCRtpScriptTransform(worker, { side: 'send', pageOrigin: performance.timeOrigin });
  transceiver.receiver.transform = new RTCRtpScriptTransform(worker, { side: 'recv', pageOrigin: performance.timeOrigin });

  const audioEl = document.getElementById('remote');
  pc.ontrack = (event) => {
    const remote = event.streams[0] || new MediaStream([event.track]);
    audioEl.srcObject = remote;
    audioEl.muted = false;
    audioEl.volume = 1.0;
    audioEl.play().catch((e) => fail('audio element', e));
    ctx.createMediaStreamSource(remote).connect(recorder);
  };
  pc.onconnectionstatechange = () => {
    send({ type: 'state', what: 'connection', value: pc.connectionState, perf: performance.now() });
  };
  pc.oniceconnectionstatechange = () => {
    send({ type: 'state', what: 'ice', value: pc.iceConnectionState, perf: performance.now() });
  };

  if (config.datachannel_label) {
    const dc = pc.createDataChannel(config.datachannel_label);
    dc.onopen = () => { for (const m of config.opening_messages) dc.send(m); };
    dc.onmessage = (event) => {
      const perf = performance.now();
      if (typeof event.data === 'string') send({ type: 'dc', perf, text: event.data });
      else {
        let bin = '';
        for (const b of new Uint8Array(event.data)) bin += String.fromCharCode(b);
        send({ type: 'dc', perf, b64: btoa(bin) });
      }
    };
  }

  await pc.setLocalDescription();
  await waitIceGathering(config.ice_gathering_timeout_ms);
  let sdp = pc.localDescription.sdp;
  if (config.loopback_only) sdp = keepLoopbackCandidates(sdp);
  const answered = new Promise((resolve) => { answerWaiter = resolve; });
  send({ type: 'offer', sdp });
  const answer = await answered;
  await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });

  await withTimeout(new Promise((resolve, reject) => {
    const check = () => {
      if (pc.connectionState === 'connected') resolve();
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
    dtls.onstatechange = () => send({ type: 'state', what: 'dtls', value: dtls.state, perf: performance.now() });
  }
  send({ type: 'connected', perf: connectedPerf, time_origin: performance.timeOrigin, pair: await selectedPair(), user_agent: navigator.userAgent,
    output_latency: ctx.outputLatency, base_latency: ctx.baseLatency });

  statsTimer = setInterval(() => { pollStats().catch(() => {}); }, config.stats_interval_ms);
  playoutTimer = startPlayoutTap(transceiver.receiver);
  const go = new Promise((resolve) => { playWaiter = resolve; });
  await go;

  if (config.use_get_user_media) {
    const mic = await captureTrack();
    const captureStart = performance.now();
    await transceiver.sender.replaceTrack(mic);
    send({ type: 'capture', perf: captureStart, settings: mic.getSettings(), label: mic.label });
    player = new FixedPlayer({ plan: config.gum_plan, settings: config.player, report: send, captureStart });
  } else {
    player = new Player({ ctx, steps: config.steps, clips, destination, activity, settings: config.player,
      report: send });
  }
  let outcome = 'done';
  try {
    await player.run();
    if (player.stopped) outcome = 'stopped';
  } catch (e) {
    fail('player', e);
    outcome = 'failed';
  }
  await finish(outcome);
}

async function finish(outcome) {
  if (finished) return;
  finished = true;
  if (statsTimer) clearInterval(statsTimer);
  if (playoutTimer) clearInterval(playoutTimer);
  flushPlayout();
  try { if (pc && ctx) await pollStats(); } catch (e) { /* the call may be gone */ }
  if (recorder) {
    await withTimeout(new Promise((resolve) => { recorderFlushed = resolve; recorder.port.postMessage('flush'); }),
      1000, 'recorder flush').catch(() => {});
  }
  if (worker) {
    await withTimeout(new Promise((resolve) => {
      const onFlushed = (e) => { if (e.data && e.data.flushed) { worker.removeEventListener('message', onFlushed); resolve(); } };
      worker.addEventListener('message', onFlushed);
      worker.postMessage('flush');
    }), 1000, 'transform flush').catch(() => {});
  }
  send({ type: 'done', outcome, perf: performance.now() });
  if (pc) pc.close();
}
