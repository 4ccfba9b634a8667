"""The reference voice agent: a real local WebRTC endpoint with known, tunable faults."""
