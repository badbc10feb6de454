#!/usr/bin/env bash
# Set up everything ColorMe needs in .venv (safe to run again: it skips what is done).
set -euo pipefail
cd "$(dirname "$0")/.."

# Qt loads a few system libraries even without a screen, and its xcb plugin needs more
# on a real desktop.  Install whichever are missing when we can (root with apt).
qt_libs=(libegl1:libEGL.so.1 libgl1:libGL.so.1 libxkbcommon0:libxkbcommon.so.0
         libfontconfig1:libfontconfig.so.1 libdbus-1-3:libdbus-1.so.3 libglib2.0-0:libglib-2.0.so.0
         libxkbcommon-x11-0:libxkbcommon-x11.so.0 libxcb-cursor0:libxcb-cursor.so.0
         libxcb-icccm4:libxcb-icccm.so.4 libxcb-keysyms1:libxcb-keysyms.so.1
         libxcb-image0:libxcb-image.so.0 libxcb-render-util0:libxcb-render-util.so.0
         libxcb-xkb1:libxcb-xkb.so.1 libxcb-shape0:libxcb-shape.so.0)
missing=()
for entry in "${qt_libs[@]}"; do
  ldconfig -p 2>/dev/null | grep -q "${entry#*:}" || missing+=("${entry%%:*}")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing system libraries for Qt: ${missing[*]}"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") \
      || echo "warning: could not install ${missing[*]}; the window may not open" >&2
  else
    echo "note: Qt may need these system packages: ${missing[*]}" >&2
  fi
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
stamp=".venv/.colorme-installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  # torch/torchvision are capped in pyproject.toml at the releases this machine carries.
  .venv/bin/python -m pip install --quiet -e '.[test]'
  rm -f .venv/.colorme-installed-*
  touch "$stamp"
fi
echo "ColorMe is set up in .venv"
