#!/usr/bin/env bash
# Find a Chromium for the browser caller; install Debian's when none is found and we can.
set -euo pipefail
if [ -n "${VOICE_HARNESS_CHROMIUM:-}" ] && [ -x "${VOICE_HARNESS_CHROMIUM}" ]; then exit 0; fi
for b in chromium chromium-browser google-chrome google-chrome-stable; do
  if command -v "$b" >/dev/null 2>&1; then exit 0; fi
done
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "voice-harness: no Chromium found; installing Debian's chromium" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
  echo "voice-harness: no Chromium found. Install one (e.g. 'sudo apt-get install chromium')" \
       "or set VOICE_HARNESS_CHROMIUM=/path/to/chrome; the browser caller is unavailable." >&2
fi
