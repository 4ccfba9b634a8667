"""``agent serve --ice-interfaces``: the agent offers what a plain aiortc server offers.

By default the agent gathers exactly 127.0.0.1; with the knob it offers this machine's
interface addresses and no 127.0.0.1, so the callers' tests can reproduce a loopback
endpoint reached over another local address (issue 12). Gathering only: no media flows.
"""

from __future__ import annotations

import asyncio

import pytest
from aiortc import RTCPeerConnection

from harness.agent.call import AgentCall
from harness.agent.knobs import AgentKnobs
from harness.agent.truth import TruthLog
from harness.webrtc.ice import interface_addresses, loopback_only


def answered_addresses(knobs: AgentKnobs) -> set[str]:
    """The candidate addresses in the agent's answer to a loopback caller's offer."""

    async def main() -> str:
        caller = RTCPeerConnection()
        call = AgentCall("ice-test", 0, knobs, TruthLog(None))
        try:
            caller.addTransceiver("audio")
            with loopback_only():
                await caller.setLocalDescription(await caller.createOffer())
            return await call.answer(caller.localDescription.sdp)
        finally:
            await call.close()
            await caller.close()

    sdp = asyncio.run(main())
    return {line.split()[4] for line in sdp.splitlines() if line.startswith("a=candidate:")}


def test_the_agent_offers_exactly_loopback_by_default() -> None:
    assert answered_addresses(AgentKnobs()) == {"127.0.0.1"}


def test_ice_interfaces_offers_the_interface_addresses_and_no_loopback() -> None:
    interfaces = interface_addresses()
    if not interfaces:
        pytest.skip("this machine has no interface address but loopback: nothing else to offer")
    offered = answered_addresses(AgentKnobs(ice_interfaces=True))
    assert "127.0.0.1" not in offered, offered
    assert set(interfaces) <= offered, (interfaces, offered)
