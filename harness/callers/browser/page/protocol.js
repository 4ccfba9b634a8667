// @ts-check
// The page's end of harness/callers/browser/protocol.py: every message between the page
// and Python. The page builds each message it sends with a function here, so a field
// is named in one place on each side; Python parses strictly (unknown or missing
// fields are a counted protocol error), and tests/callers/test_browser_units.py checks
// that the message names here are Python's.

export const MessageType = Object.freeze(/** @type {const} */ ({
  // page -> Python
  PONG: 'pong',
  OFFER: 'offer',
  CONNECTED: 'connected',
  STATE: 'state',
  CAPTURE: 'capture',
  STATS: 'stats',
  PLAYOUT: 'playout',
  DATACHANNEL: 'dc',
  SPEECH: 'speech',
  PLAYED: 'played',
  STEP: 'step',
  WARNING: 'warning',
  ERROR: 'error',
  DONE: 'done',
  // Python -> page
  PING: 'ping',
  CONFIG: 'config',
  ANSWER: 'answer',
  PLAY: 'play',
  STOP: 'stop',
}));

// Binary frames: an 8-byte header whose first byte says what the body is.
export const BINARY_HEADER_BYTES = 8;
export const BinaryKind = Object.freeze(/** @type {const} */ ({ SENT: 1, RECEIVED: 2, HEARD: 3 }));

/** @typedef {'say' | 'listen' | 'silence' | 'barge_in' | 'backchannel'} StepKind */
/** @typedef {'done' | 'reply_ended' | 'reply_too_long' | 'timeout' | 'failed'} StepOutcome */
/** @typedef {'done' | 'stopped' | 'failed'} PageOutcome */
/** @typedef {'connection' | 'ice' | 'dtls'} TransportLayer */
/** @typedef {'onset' | 'offset'} SpeechEdge */

// ------------------------------------------------------------------ Python -> page

/** @typedef {{type: 'ping', id: number}} PingMessage */
/** @typedef {{type: 'answer', sdp: string}} AnswerMessage */
/** @typedef {{type: 'play'}} PlayMessage */
/** @typedef {{type: 'stop'}} StopMessage */
/**
 * @typedef {object} PageStep
 * @property {number} index
 * @property {StepKind} kind
 * @property {string | null} utterance
 * @property {number | null} duration_ms
 * @property {number} timeout_ms
 * @property {boolean} await_reply
 * @property {number | null} after_onset_ms
 * @property {number | null} reply_quiet_ms
 * @property {number} speech_start
 * @property {number} speech_end
 */
/**
 * @typedef {object} PlayerConfig
 * @property {number} reply_quiet_ms
 * @property {number} max_reply_s
 * @property {number} post_roll_ms
 * @property {number} schedule_lead_ms
 * @property {number} trigger_wake_ms
 */
/**
 * @typedef {object} DetectorConfig
 * @property {number} frame_ms
 * @property {number} threshold_db
 * @property {number} release_db
 * @property {number} absolute_floor_dbfs
 * @property {number} min_speech_ms
 * @property {number} hangover_ms
 * @property {number} floor_rise_db_per_s
 */
/** @typedef {{index: number, kind: StepKind, utterance: string | null, start_ms: number, end_ms: number}} GumPageStep */
/** @typedef {{duration_ms: number, steps: GumPageStep[]}} GumPagePlan */
/**
 * @typedef {object} ConfigMessage
 * @property {'config'} type
 * @property {number} sample_rate
 * @property {string[]} clip_ids
 * @property {PageStep[]} steps
 * @property {PlayerConfig} player
 * @property {DetectorConfig} detector
 * @property {number} heard_block_samples
 * @property {boolean} record_heard
 * @property {number} stats_interval_ms
 * @property {number} playout_poll_ms
 * @property {number} connect_timeout_ms
 * @property {number} ice_gathering_timeout_ms
 * @property {string | null} datachannel_label
 * @property {string[]} opening_messages
 * @property {boolean} loopback_only
 * @property {boolean} use_get_user_media
 * @property {GumPagePlan | null} gum_plan
 */
/** @typedef {PingMessage | ConfigMessage | AnswerMessage | PlayMessage | StopMessage} Command */

const COMMANDS = new Set([MessageType.PING, MessageType.CONFIG, MessageType.ANSWER, MessageType.PLAY,
  MessageType.STOP]);

/**
 * A text frame from Python as a command; throws naming what is wrong.
 * @param {string} text
 * @returns {Command}
 */
export function parseCommand(text) {
  const msg = JSON.parse(text);
  if (typeof msg !== 'object' || msg === null || !COMMANDS.has(msg.type)) {
    throw new Error(`unknown command from Python: ${String(text).slice(0, 80)}`);
  }
  return msg;
}

// ------------------------------------------------------------------ page -> Python

/**
 * @typedef {object} CandidatePair
 * @property {string | null} local
 * @property {string | null} local_type
 * @property {string | null} remote
 * @property {string | null} remote_type
 */
/**
 * The audio inbound-rtp getStats entry, W3C names (see INBOUND_FIELDS).
 * @typedef {Partial<Record<typeof INBOUND_FIELDS[number], number>>} InboundAudioStats
 */
/**
 * @typedef {object} StatsReading
 * @property {number} perf
 * @property {number | null} ots_ctx
 * @property {number | null} ots_perf
 * @property {number} ctx_time
 * @property {number} output_latency
 * @property {number} base_latency
 * @property {InboundAudioStats | null} inbound
 * @property {number | null} remote_rtt
 * @property {number | null} pair_rtt
 * @property {number | null} packets_sent
 */
/**
 * A clip scheduled on the AudioContext (WebAudio mode).
 * @typedef {object} PlayedAtFrame
 * @property {number} step
 * @property {StepKind} kind
 * @property {string} utterance
 * @property {number} start_frame
 * @property {number} called_frame
 * @property {number} called_perf
 * @property {number | null} trigger_frame
 * @property {number | null} onset_frame
 */
/**
 * A clip due from the capture device at a page time (getUserMedia mode).
 * @typedef {object} PlayedAtPerf
 * @property {number} step
 * @property {StepKind} kind
 * @property {string} utterance
 * @property {number} start_perf
 * @property {number} called_perf
 */
/**
 * @typedef {object} StepEnded
 * @property {number} step
 * @property {StepKind} kind
 * @property {number} started
 * @property {number} ended
 * @property {StepOutcome} outcome
 */

/** The inbound-rtp fields Python reads (InboundAudioStats in protocol.py). */
export const INBOUND_FIELDS = /** @type {const} */ ([
  'packetsReceived', 'packetsLost', 'packetsDiscarded', 'jitter', 'jitterBufferDelay',
  'jitterBufferEmittedCount', 'jitterBufferTargetDelay', 'jitterBufferMinimumDelay',
  'concealedSamples', 'silentConcealedSamples', 'concealmentEvents', 'totalSamplesReceived',
  'insertedSamplesForDeceleration', 'removedSamplesForAcceleration', 'audioLevel',
  'totalAudioEnergy', 'totalSamplesDuration',
]);

/** @param {number} id @param {number} perf */
export const pong = (id, perf) => ({ type: MessageType.PONG, id, perf });

/** @param {string} sdp */
export const offer = (sdp) => ({ type: MessageType.OFFER, sdp });

/**
 * @param {{perf: number, time_origin: number, pair: CandidatePair | null, user_agent: string,
 *   output_latency: number, base_latency: number}} fields
 */
export const connected = (fields) => ({ type: MessageType.CONNECTED, ...fields });

/** @param {TransportLayer} what @param {string} value @param {number} perf */
export const state = (what, value, perf) => ({ type: MessageType.STATE, what, value, perf });

/** @param {number} perf @param {object} settings the track's MediaTrackSettings @param {string} label */
export const capture = (perf, settings, label) => ({ type: MessageType.CAPTURE, perf, settings, label });

/** @param {StatsReading} reading */
export const stats = (reading) => ({ type: MessageType.STATS, ...reading });

/**
 * The fields of an inbound-rtp getStats entry that Python reads, when they are numbers.
 * @param {Record<string, unknown>} entry
 * @returns {InboundAudioStats}
 */
export function inboundAudio(entry) {
  /** @type {InboundAudioStats} */
  const out = {};
  for (const k of INBOUND_FIELDS) {
    const v = entry[k];
    if (typeof v === 'number') out[k] = v;
  }
  return out;
}

/** @param {Array<[number, number]>} rows [RTP timestamp, page ms] */
export const playout = (rows) => ({ type: MessageType.PLAYOUT, rows });

/** @param {number} perf @param {string} text */
export const dataChannelText = (perf, text) => ({ type: MessageType.DATACHANNEL, perf, text });

/** @param {number} perf @param {string} b64 */
export const dataChannelBinary = (perf, b64) => ({ type: MessageType.DATACHANNEL, perf, b64 });

/** @param {SpeechEdge} kind @param {number} frame @param {number} detected */
export const speech = (kind, frame, detected) => ({ type: MessageType.SPEECH, kind, frame, detected });

/** @param {PlayedAtFrame | PlayedAtPerf} fields */
export const played = (fields) => ({ type: MessageType.PLAYED, ...fields });

/** @param {StepEnded} fields */
export const stepEnded = (fields) => ({ type: MessageType.STEP, ...fields });

/**
 * @param {unknown} err
 * @returns {string}
 */
function describe(err) {
  if (err instanceof Error) return err.message;
  if (typeof err === 'object' && err !== null && 'message' in err) return String(err.message);
  return String(err);
}

/** Something the page worked around; the call goes on. @param {string} where @param {unknown} err */
export const warning = (where, err) => ({ type: MessageType.WARNING, where, message: describe(err) });

/** Something the call cannot survive. @param {string} where @param {unknown} err */
export const error = (where, err) => ({ type: MessageType.ERROR, where, message: describe(err) });

/** @param {PageOutcome} outcome @param {number} perf */
export const done = (outcome, perf) => ({ type: MessageType.DONE, outcome, perf });

/**
 * Any message the page sends.
 * @typedef {ReturnType<typeof pong> | ReturnType<typeof offer> | ReturnType<typeof connected>
 *   | ReturnType<typeof state> | ReturnType<typeof capture> | ReturnType<typeof stats>
 *   | ReturnType<typeof playout> | ReturnType<typeof dataChannelText>
 *   | ReturnType<typeof dataChannelBinary> | ReturnType<typeof speech> | ReturnType<typeof played>
 *   | ReturnType<typeof stepEnded> | ReturnType<typeof warning> | ReturnType<typeof error>
 *   | ReturnType<typeof done>} PageMessage
 */
