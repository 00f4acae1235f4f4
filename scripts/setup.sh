#!/usr/bin/env bash
# Bring the environment up to date: system packages (Qt/Xvfb; Chromium for the report's PDF),
# .venv, editable install.
# Idempotent: a second run checks and returns in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

SYSTEM_PACKAGES="xvfb xauth libgl1 libegl1 libgl1-mesa-dri libglx-mesa0 libfontconfig1 \
libdbus-1-3 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 \
libxcb-render-util0 libxcb-randr0 libxcb-shape0 libxcb-xfixes0 libxcb-xkb1 dcmtk \
chromium fonts-dejavu-core"
PYTHON="${PYTHON:-python3}"

missing=""
if command -v dpkg-query >/dev/null 2>&1; then
    for p in $SYSTEM_PACKAGES; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
    done
    # Debian's own python3 needs python3-venv for `python3 -m venv`.
    if ! "$PYTHON" -c "import ensurepip, venv" >/dev/null 2>&1; then
        missing="$missing python3-venv"
    fi
fi
if [ -n "$missing" ]; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo "setup: installing system packages:$missing"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
    else
        echo "setup: missing system packages:$missing" >&2
        echo "setup: install them with: sudo apt-get install -y --no-install-recommends$missing" >&2
        echo "setup: (napari under Xvfb and the report's PDF (chromium) need them; continuing without)" >&2
    fi
fi

if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv with $("$PYTHON" --version)"
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.nethelpers-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "setup: installing nethelpers and its dependencies into .venv"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".[dev]"
    touch "$stamp"
fi
echo "setup: environment ready (.venv)"
