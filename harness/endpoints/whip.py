"""The ``whip`` dialect (RFC 9725): one POST of the SDP offer, one DELETE to hang up.

WHIP has no data channel and no events, so calls through it are measured from audio
alone. The endpoint URL is the full WHIP endpoint (no path is appended); the session
resource comes back in ``Location`` (possibly relative) and is deleted on hang-up, which
is what frees the session on a real media server.
"""

from __future__ import annotations

from urllib.parse import urljoin

from harness.endpoints.base import EndpointError, WebRTCEndpoint
from harness.endpoints.config import api_key
from harness.endpoints.signalling import request, require_key, require_sdp
from harness.records import EndpointSpec, FailureKind
from harness.redact import SecretRedactor


class WhipEndpoint(WebRTCEndpoint):
    datachannel_label = None

    def __init__(self, spec: EndpointSpec, *, timeout_s: float = 10.0) -> None:
        super().__init__(spec, timeout_s=timeout_s)
        self._token = api_key(spec)
        self._redactor = SecretRedactor([self._token] if self._token else []).add_environment()
        self._resource: str | None = None

    def _headers(self, **extra: str) -> dict[str, str]:
        headers = dict(extra)
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return headers

    async def exchange(self, offer_sdp: str) -> str:
        require_key(self.spec)
        reply = await request(
            "POST", self.spec.url, what="WHIP offer", timeout_s=self.timeout_s,
            redactor=self._redactor, data=offer_sdp,
            headers=self._headers(**{"Content-Type": "application/sdp", "Accept": "application/sdp"}),
        )
        if reply.status != 201:
            # RFC 9725 4.2: success is 201 Created; anything else is not a WHIP session.
            raise EndpointError(
                FailureKind.SIGNALLING_ERROR,
                f"WHIP offer answered with HTTP {reply.status}, expected 201 Created",
            )
        location = reply.headers.get("Location")
        if location:
            self._resource = urljoin(self.spec.url, location)
            self.info["location"] = self._redactor(self._resource)
        else:
            self.info["location_missing"] = True
        if reply.headers.get("ETag"):
            self.info["etag"] = self._redactor(reply.headers["ETag"])
        return require_sdp(reply.text, "WHIP answer", self._redactor)

    async def close(self) -> None:
        """DELETE the session resource; the outcome is kept as evidence, never raised."""
        if self._resource is None:
            return
        resource, self._resource = self._resource, None
        try:
            reply = await request(
                "DELETE", resource, what="WHIP hang-up", timeout_s=self.timeout_s,
                redactor=self._redactor, headers=self._headers(),
            )
        except EndpointError as exc:
            self.info["hangup"] = exc.reason
        else:
            self.info["hangup"] = f"HTTP {reply.status}"
