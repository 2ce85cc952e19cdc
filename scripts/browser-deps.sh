#!/usr/bin/env bash
# What the browser test (tests/e2e/test_browser.py) needs besides Python packages:
# Debian's `chromium` and a CJK font (without one, Chinese renders as boxes).
# Installs what is missing when it can (root, or passwordless sudo); otherwise says what
# to install and the browser test skips (it fails instead when VOC_REQUIRE_BROWSER=1).
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || need+=(chromium)
if ! fc-list :lang=zh 2>/dev/null | grep -q .; then
    need+=(fonts-wqy-microhei fontconfig)
fi
if [ ${#need[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" = 0 ]; then
    sudo=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
else
    echo "browser test: install ${need[*]} (apt-get install ${need[*]}) to run it" >&2
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "browser test: no apt-get here; install ${need[*]} by hand to run it" >&2
    exit 0
fi
echo "browser test: installing ${need[*]}" >&2
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}"
