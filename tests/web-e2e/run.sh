#!/usr/bin/env bash
# End-to-end test of the web page: builds the server and the CircleCI
# simulator, installs playwright-core (no browser download: it drives the
# system's Chromium), and runs the test with node's built-in runner.
#
# Needs: cargo, node >= 20 with npm, and Chromium at /usr/bin/chromium
# (Debian: apt-get install -y chromium) or CHROMIUM=/path/to/chromium.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

cargo build -p buildsnap -p circleci-sim -p github-sim
target="$(cargo metadata --format-version 1 --no-deps | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')"
export BUILDSNAP_BIN="${BUILDSNAP_BIN:-$target/debug/buildsnap}"
export CIRCLECI_SIM_BIN="${CIRCLECI_SIM_BIN:-$target/debug/circleci-sim}"
export GITHUB_SIM_BIN="${GITHUB_SIM_BIN:-$target/debug/github-sim}"
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
  echo "web-e2e: no Chromium at $CHROMIUM (apt-get install -y chromium, or set CHROMIUM)" >&2
  exit 1
fi

cd "$here"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
npm ci --no-audit --no-fund --loglevel=error
rm -rf screenshots
npm test
