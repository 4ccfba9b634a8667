// @ts-check
// What the page reads from and does to its RTCPeerConnection besides the call's steps:
// the offer's candidates, the selected ICE pair, getStats readings and the playout tap.

import * as protocol from './protocol.js';

/** @typedef {import('./protocol.js').PageMessage} PageMessage */

const PLAYOUT_BATCH_ROWS = 50;

/** @param {string} sdp */
export function keepLoopbackCandidates(sdp) {
  // The endpoint is on this host: offer only loopback candidates, so the far end
  // never sends to another interface.
  return sdp.split('\r\n').filter((line) => {
    if (!line.startsWith('a=candidate:')) return true;
    const addr = line.split(' ')[4];
    return addr === '127.0.0.1' || addr === '::1';
  }).join('\r\n');
}

/** @param {ArrayBuffer} data */
export function base64(data) {
  let bin = '';
  for (const b of new Uint8Array(data)) bin += String.fromCharCode(b);
  return btoa(bin);
}

// When Chromium's audio renderer played each received packet out of the jitter buffer:
// getSynchronizationSources() reports, per source, the RTP timestamp of the packet
// last delivered for playout and when. Polled faster than packets arrive, so every
// packet's first playout is seen; only changes are kept.
export class PlayoutTap {
  /**
   * @param {RTCRtpReceiver} receiver
   * @param {number} pollMs
   * @param {(msg: PageMessage) => void} send
   */
  constructor(receiver, pollMs, send) {
    this.send = send;
    /** @type {Array<[number, number]>} */
    this.rows = [];
    this.last = '';
    this.timer = setInterval(() => {
      for (const src of receiver.getSynchronizationSources()) {
        const key = `${src.rtpTimestamp}/${src.timestamp}`;
        if (key === this.last) continue;
        this.last = key;
        this.rows.push([src.rtpTimestamp, src.timestamp - performance.timeOrigin]);
      }
      if (this.rows.length >= PLAYOUT_BATCH_ROWS) this.flush();
    }, pollMs);
  }

  flush() {
    if (!this.rows.length) return;
    this.send(protocol.playout(this.rows));
    this.rows = [];
  }

  stop() {
    clearInterval(this.timer);
    this.flush();
  }
}

/**
 * The ICE candidate pair the call uses.
 * @param {RTCPeerConnection} pc @returns {Promise<import('./protocol.js').CandidatePair | null>}
 */
export async function selectedPair(pc) {
  const report = await pc.getStats();
  /** @type {RTCIceCandidatePairStats | undefined} */
  let pair;
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

/**
 * One getStats reading with the AudioContext's clock read at the same moment.
 * @param {AudioContext} ctx @param {RTCPeerConnection} pc
 * @returns {Promise<import('./protocol.js').StatsReading>}
 */
export async function readStats(ctx, pc) {
  const perf = performance.now();
  const ots = ctx.getOutputTimestamp();
  const ctxTime = ctx.currentTime;
  const report = await pc.getStats();
  /** @type {import('./protocol.js').StatsReading} */
  const reading = {
    perf, ots_ctx: ots.contextTime ?? null, ots_perf: ots.performanceTime ?? null, ctx_time: ctxTime,
    output_latency: ctx.outputLatency, base_latency: ctx.baseLatency,
    inbound: null, remote_rtt: null, pair_rtt: null, packets_sent: null,
  };
  report.forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'audio') {
      reading.inbound = protocol.inboundAudio(s);
    } else if (s.type === 'remote-inbound-rtp' && typeof s.roundTripTime === 'number') {
      reading.remote_rtt = s.roundTripTime;
    } else if (s.type === 'candidate-pair' && s.nominated && typeof s.currentRoundTripTime === 'number') {
      reading.pair_rtt = s.currentRoundTripTime;
    } else if (s.type === 'outbound-rtp' && s.kind === 'audio') {
      reading.packets_sent = s.packetsSent ?? null;
    }
  });
  return reading;
}
