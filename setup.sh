#!/usr/bin/env bash
# Sets up everything posevideo needs on a fresh Debian machine, as root: the Debian packages,
# a virtual environment in .venv with the package and its dev extra, and the web page's npm assets.
# Safe to run again: each step skips what is already in place.
set -euo pipefail
cd "$(dirname "$0")"

# Debian packages: espeak-ng speaks the synthetic speaker's text; chromium runs the browser tests.
APT_PACKAGES=(espeak-ng chromium)
missing=()
for package in "${APT_PACKAGES[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  echo "setup: installing Debian packages: ${missing[*]}"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Python: Python 3.11 (the CPU torch wheel pinned in pyproject.toml is for 3.11).
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[dev]"

# Web assets (onnxruntime-web, MediaPipe Tasks and a pose model, Playwright's driver) from npm, no CDN at run time.
if [ -f posevideo/web/package.json ]; then
  (cd posevideo/web && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "setup: done. Try: .venv/bin/posevideo --help"
