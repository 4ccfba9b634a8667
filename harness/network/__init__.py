"""The emulated network on the media path: profiles, the per-direction model, the relay.

Kernel netem is not available on the machines the harness runs on, so the impairment
lives in user space and is owned by the harness: a UDP relay placed between caller and
endpoint by rewriting the candidates in the SDP the harness already carries
(``harness.endpoints.impaired``). See docs/network.md.
"""
