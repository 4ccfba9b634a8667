"""The browser caller: a real headless Chromium driven by Playwright, and its page.

``caller`` is the entry point (``BrowserCaller``); ``call`` runs one call; the page's
messages are typed in ``protocol``; ``clock_sync`` maps the page's clocks to the call
clock; ``pool``/``procs``/``discovery`` find, start and reuse Chromium.
"""
