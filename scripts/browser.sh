#!/usr/bin/env bash
# Installs (if missing) what the browser tests need: Debian's `chromium`
# (apt-get, as root or with passwordless sudo) and npm `playwright-core`
# (tests/browser, pinned by its package-lock.json). Source it and call
# install_browser_tools.
_wsfn_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

install_browser_tools() {
  command -v node >/dev/null || { echo "node (20+) is needed for the JS and browser tests" >&2; return 1; }
  if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
    echo "installing chromium (Debian package)" >&2
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get install -y -q chromium >&2 || { $sudo apt-get update -q >&2 && $sudo apt-get install -y -q chromium >&2; } || {
      echo "could not install chromium: run 'apt-get install chromium' as root" >&2
      return 1
    }
  fi
  if [ ! -d "$_wsfn_root/tests/browser/node_modules/playwright-core" ] || [ ! -d "$_wsfn_root/tests/browser/node_modules/typescript" ]; then
    echo "installing playwright-core and typescript (npm) into tests/browser/" >&2
    (cd "$_wsfn_root/tests/browser" && npm ci --silent --no-audit --no-fund >&2)
  fi
}
