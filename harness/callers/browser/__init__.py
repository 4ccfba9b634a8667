"""The browser caller: a real headless Chromium driven by Playwright, and its page.

``caller`` is the entry point (``BrowserCaller``); ``call`` runs one call (the state
machine), with its ``settings``; the page's messages are typed in ``protocol`` (the
``config`` message's parts in ``page_config``) and mirrored by ``page/protocol.js``;
``session`` is Python's end of the page's WebSocket; ``recording`` turns the page's
evidence into the call's artifacts from the pure pieces in ``assembly`` and ``align``;
``clock_sync`` maps the page's clocks to the call clock; ``gum`` is the getUserMedia
mode; ``pool``/``procs``/``discovery`` find, start and reuse Chromium; ``server``
serves the page.
"""
