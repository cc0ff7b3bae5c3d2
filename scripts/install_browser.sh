#!/usr/bin/env bash
# The browser tier of the tests: Debian's chromium (headless, driven by Playwright from PyPI through
# tests/support/browser.py). Playwright's own browser download (`playwright install`) is never used.
set -euo pipefail
if [ ! -x /usr/bin/chromium ]; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
fi
/usr/bin/chromium --version
