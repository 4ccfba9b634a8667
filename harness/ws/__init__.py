"""WebSocket plumbing shared by the WebSocket caller and the reference agent.

What ``webrtc/`` is to RTP: a TCP stream whose received bytes carry their kernel
arrival time (``stamped``), WebSocket framing on top of it with websockets' Sans-I/O
protocol (``connection``), audio codecs of the wire (``codecs``), an outgoing sample
timeline at the wire's rate (``wire_playout``) and the model that places received
audio on the call clock the way a real-time client plays it (``playout_model``).
"""
