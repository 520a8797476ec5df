#!/usr/bin/env bash
# Installs the Debian packages the *tests* need when they are missing. Moodscore itself needs
# none: its synthesizer and SoundFont come with the Python package. The tests also compare with
# FluidSynth and its FluidR3_GM SoundFont, drive Blender 3.4 under Xvfb, and make real speech
# with espeak-ng for the dialogue-ducking tests.
# Idempotent: a second run only checks. Without root or apt it prints what to install and fails.
set -euo pipefail

packages=(libfluidsynth3 fluid-soundfont-gm blender xvfb espeak-ng)
missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
    echo "setup: installing ${missing[*]} with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
elif command -v apt-get >/dev/null 2>&1 && command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
    echo "setup: Moodscore needs ${missing[*]}; install them with your package manager" \
         "(Debian/Ubuntu: sudo apt-get install ${missing[*]})." >&2
    exit 1
fi
