#!/usr/bin/env bash
# scripts/deps.sh: installs what weir needs to build and test on Debian 12 (as root, or with
# sudo), skipping packages that are already there.
set -euo pipefail
pkgs=(build-essential pkg-config meson ninja-build libuv1-dev librdkafka-dev libjemalloc-dev
      libyaml-dev libcriterion-dev kcat clang)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  echo "installing: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
