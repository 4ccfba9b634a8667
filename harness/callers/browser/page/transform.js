// @ts-check
// Encoded-frame taps (RTCRtpScriptTransform worker): the browser's network edge.
//
// Every Opus frame the page sends is seen here right after encoding (its wire time),
// and every frame it receives right after the packet arrived, before the jitter
// buffer (metadata.receiveTime). Payloads are kept so Python can decode exactly what
// crossed the network, like the aiortc caller's RTP taps. Frames pass through untouched.
//
// Batch layout (little endian), one record per frame:
//   f64 t_ms (page performance timeline), u32 rtp timestamp, u16 sequence, u16 length, payload

const BATCH_FRAMES = 10;

/** @typedef {{t: number, ts: number, seq: number, payload: Uint8Array}} TappedFrame */

// Each transform flushes on 'flush' (listeners added below); this one, registered first,
// answers once they have all run.
self.addEventListener('message', (/** @type {MessageEvent} */ e) => {
  if (e.data === 'flush') setTimeout(() => postMessage({ flushed: true }), 0);
});

onrtctransform = (event) => {
  const transformer = event.transformer;
  const { side, pageOrigin } = transformer.options;
  const shift = performance.timeOrigin - pageOrigin;
  /** @type {TappedFrame[]} */
  let pending = [];
  let bytes = 0;
  const flush = () => {
    if (!pending.length) return;
    const buf = new ArrayBuffer(bytes);
    const view = new DataView(buf);
    let off = 0;
    for (const r of pending) {
      view.setFloat64(off, r.t, true);
      view.setUint32(off + 8, r.ts, true);
      view.setUint16(off + 12, r.seq, true);
      view.setUint16(off + 14, r.payload.byteLength, true);
      new Uint8Array(buf, off + 16, r.payload.byteLength).set(r.payload);
      off += 16 + r.payload.byteLength;
    }
    postMessage({ side, batch: buf }, [buf]);
    pending = [];
    bytes = 0;
  };
  let seq = 0;
  const tap = new TransformStream({
    transform(frame, controller) {
      const now = performance.now();
      const meta = frame.getMetadata();
      const t = (side === 'recv' && typeof meta.receiveTime === 'number' ? meta.receiveTime : now) + shift;
      const ts = typeof meta.rtpTimestamp === 'number' ? meta.rtpTimestamp : frame.timestamp;
      const s = typeof meta.sequenceNumber === 'number' ? meta.sequenceNumber : (seq++ & 0xffff);
      const payload = new Uint8Array(frame.data.slice(0));
      pending.push({ t, ts, seq: s, payload });
      bytes += 16 + payload.byteLength;
      controller.enqueue(frame);
      if (pending.length >= BATCH_FRAMES) flush();
    },
    flush() { flush(); },
  });
  self.addEventListener('message', (/** @type {MessageEvent} */ e) => { if (e.data === 'flush') flush(); });
  // The pipe ends (rejects) when the connection closes or the transform is replaced,
  // which is how every call ends; what is pending is flushed, nothing else is to be done.
  transformer.readable.pipeThrough(tap).pipeTo(transformer.writable).catch(() => flush());
};
