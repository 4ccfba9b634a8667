"""WebRTC plumbing shared by the callers and the reference agent.

aiortc is used as it is, but three of its behaviours would corrupt a latency harness
and are handled here: its receiver jitter buffer delays audio (so received audio is
timestamped at RTP arrival and decoded here), its sender does not pace (so the track
sleeps on the call clock), and aioice never offers 127.0.0.1 (so loopback calls are
handled explicitly).
"""
