#!/bin/sh
# Set up costlab's environment (.venv, from uv.lock) on a stock Python, idempotently.
#
# uv does the work. When uv is not on PATH it goes into a private venv, .tools/, because a
# Debian/Ubuntu system Python refuses `pip install` (PEP 668, "externally-managed-environment").
# Without `python3 -m venv` (Debian's python3-venv package missing) it falls back to
# `pip install --user`, and only as a last resort to `--break-system-packages --user`.
# Whichever way uv arrives, .tools/bin/uv is then a working uv: .ci/run puts .tools/bin on PATH.
#
# Usage: sh scripts/bootstrap.sh   (then .venv/bin/costlab ..., or uv run costlab ...)
set -eu
cd "$(dirname "$0")/.."

TOOLS=.tools
say() { printf 'bootstrap: %s\n' "$*" >&2; }

# A uv that runs, from PATH or from an earlier bootstrap; prints its path.
find_uv() {
    for candidate in "$(command -v uv 2>/dev/null || true)" "$TOOLS/bin/uv"; do
        if [ -n "$candidate" ] && [ -x "$candidate" ] && "$candidate" --version >/dev/null 2>&1; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

# After a --user install: link the user-site uv into .tools/bin so later steps find it.
link_user_uv() {
    user_bin="$(python3 -m site --user-base)/bin"
    [ -x "$user_bin/uv" ] || return 1
    mkdir -p "$TOOLS/bin"
    ln -sf "$user_bin/uv" "$TOOLS/bin/uv"
}

install_uv() {
    if ! command -v python3 >/dev/null 2>&1; then
        say "neither uv nor python3 is on PATH; install Python 3.11+ (e.g. apt-get install python3) or uv"
        exit 1
    fi
    say "uv is not on PATH: installing it into $TOOLS/ (a private venv)"
    rm -rf "$TOOLS"
    if python3 -m venv "$TOOLS" >/dev/null 2>&1 && "$TOOLS/bin/python" -m pip --version >/dev/null 2>&1; then
        "$TOOLS/bin/python" -m pip install -q --disable-pip-version-check uv
        return 0
    fi
    rm -rf "$TOOLS"
    say "python3 -m venv is unavailable (on Debian/Ubuntu: apt-get install python3-venv);"
    say "trying pip install --user uv instead"
    if python3 -m pip install -q --disable-pip-version-check --user uv 2>/dev/null && link_user_uv; then
        return 0
    fi
    say "pip refused (PEP 668 externally-managed-environment, or no pip): last resort, "
    say "pip install --user --break-system-packages uv. To avoid this, apt-get install python3-venv."
    if python3 -m pip install -q --disable-pip-version-check --user --break-system-packages uv && link_user_uv; then
        return 0
    fi
    say "could not install uv. Install python3-venv (apt-get install python3-venv) and re-run,"
    say "or install uv yourself: https://docs.astral.sh/uv/getting-started/installation/"
    exit 1
}

UV="$(find_uv)" || { install_uv; UV="$(find_uv)"; }
say "using $UV ($("$UV" --version))"
"$UV" sync --frozen
say "ready: .venv/bin/costlab (or: $UV run costlab)"
