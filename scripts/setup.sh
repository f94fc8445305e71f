#!/usr/bin/env bash
# Installs what hark needs on a Debian/Ubuntu machine, then its npm packages and
# build. Idempotent and quiet when everything is already there; `make run` and
# `make test` call it first.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(ffmpeg pocketsphinx pocketsphinx-en-us libpocketsphinx-dev libsphinxbase-dev pkg-config build-essential python3)
# Test-only system packages are added by `scripts/setup.sh --test`.
if [[ "${1:-}" == "--test" ]]; then
  # promtool/prometheus (observability tests), PostgreSQL (job store suite), Chromium (web page tests),
  # docker-compose (validates docker-compose.yml; Debian has no hadolint, test/deploy-container.test.ts lints instead)
  # gettext-base (envsubst, for the Azure Container Apps manifest test)
  APT_PACKAGES+=(prometheus postgresql chromium docker-compose gettext-base)
fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [[ "$(id -u)" != 0 ]] && SUDO="sudo"
  echo "setup: installing ${missing[*]} (apt-get)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if ((node_major < 20)); then
  echo "setup: hark needs Node.js 20 or newer (found $(node -v 2>/dev/null || echo none))" >&2
  exit 1
fi

# npm ci only when the lockfile changed since the last install.
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "setup: npm ci"
  # onnxruntime-node (the VAD) ships its CPU runtime; its postinstall would fetch GPU parts from elsewhere.
  ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error
fi

# Native addon: rebuilt when its sources change.
addon=native/pocketsphinx/build/Release/hark_pocketsphinx.node
if [[ ! -f $addon || -n "$(find native/pocketsphinx/src native/pocketsphinx/binding.gyp -newer "$addon" 2>/dev/null)" ]]; then
  echo "setup: building the PocketSphinx addon"
  npm run --silent build:native >/dev/null
fi

# TypeScript: rebuilt when any source is newer than the last build.
stamp=dist/.build-stamp
if [[ ! -f $stamp || -n "$(find src tsconfig.json tsconfig.build.json package.json -newer "$stamp" -type f 2>/dev/null | head -1)" ]]; then
  echo "setup: compiling TypeScript"
  rm -rf dist
  npm run --silent build:ts
  touch "$stamp"
fi

# Web page: rebuilt into dist/ui when its sources change (the step above may have removed dist/).
page=dist/ui/index.html
if [[ ! -f $page || -n "$(find src/ui vite.config.ts -newer "$page" -type f 2>/dev/null | head -1)" ]]; then
  echo "setup: building the web page"
  npm run --silent build:ui >/dev/null
fi
