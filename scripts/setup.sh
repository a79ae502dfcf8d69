#!/usr/bin/env bash
# Sets up codemode on a Debian/Ubuntu machine: the system packages the sandbox
# needs, the npm dependencies, the build, and a doctor run that proves it works.
# Installs system packages itself when run as root (or with passwordless sudo);
# otherwise prints the exact command to run and stops.
set -euo pipefail
cd "$(dirname "$0")/.."

# chromium, tmux: the browser and terminal end-to-end tests; pytest, coverage: run_tests in sessions.
PACKAGES=(bubblewrap util-linux mount e2fsprogs procps git python3 python3-numpy python3-pandas python3-matplotlib python3-pytest python3-coverage chromium tmux nats-server)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  install=(apt-get install -y -qq --no-install-recommends "${missing[@]}")
  if [ "$(id -u)" = 0 ]; then sudo=(); elif sudo -n true 2>/dev/null; then sudo=(sudo); else
    echo "codemode setup: these system packages are missing: ${missing[*]}" >&2
    echo "run this, then run the setup again:" >&2
    echo "  sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive ${install[*]}" >&2
    exit 1
  fi
  echo "codemode setup: installing ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive "${install[@]}" >/dev/null
fi

major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "codemode setup: Node.js 20 or newer is needed (found $(node --version))" >&2
  exit 1
fi

# npm ci only when the lock file changed since the last install (native addons take a minute to build).
stamp=node_modules/.codemode-lock-sha
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "codemode setup: npm ci (builds isolated-vm and better-sqlite3 from source, about 2 minutes)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi

npm run --silent build

# `codemode` on PATH, as the README and the MCP client snippets use it (codemode is not on the npm registry).
if command -v codemode >/dev/null 2>&1 && [ "$(readlink -f "$(command -v codemode)")" = "$(readlink -f bin/codemode.js)" ]; then
  :
elif npm link --no-audit --no-fund --loglevel=error >/dev/null 2>&1; then
  echo "codemode setup: linked: $(command -v codemode || echo "$(npm prefix -g)/bin/codemode")"
else
  echo "codemode setup: could not run npm link (npm's global folder $(npm prefix -g) is not writable)." >&2
  echo "  run: sudo npm link   or use: node $(pwd)/bin/codemode.js" >&2
fi
node bin/codemode.js doctor
