"""``agent serve --workers N``: requests about a call reach the worker that owns it."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient, TestServer

from harness.agent.knobs import AgentKnobs
from harness.agent.server import AgentServer, WorkerSlot
from harness.agent.truth import TruthLog


def test_another_workers_call_is_redirected_to_its_owner() -> None:
    async def main() -> None:
        server = AgentServer(AgentKnobs(), TruthLog(None), slot=WorkerSlot(index=0, ports=(1111, 2222)))
        async with TestClient(TestServer(server.app)) as client:
            other = await client.delete("/whip/rtc_w1_0003_abcd", allow_redirects=False)
            assert other.status == 307
            assert other.headers["Location"] == "http://127.0.0.1:2222/whip/rtc_w1_0003_abcd"
            patch = await client.patch("/api/offer", json={"pc_id": "rtc_w1_0001_ffff", "candidates": []},
                                       allow_redirects=False)
            assert patch.status == 307 and patch.headers["Location"].startswith("http://127.0.0.1:2222/")
            mine = await client.delete("/whip/rtc_w0_0002_abcd", allow_redirects=False)
            assert mine.status == 404  # its own (unknown) call: answered here, not bounced
            unknown_owner = await client.delete("/whip/rtc_w7_0002_abcd", allow_redirects=False)
            assert unknown_owner.status == 404

    asyncio.run(main())
