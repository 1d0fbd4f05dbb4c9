"""scripts/bootstrap.sh on a system Python whose pip refuses installs (PEP 668), uv not on PATH.

The stand-in `python3` answers `-m pip install` the way Debian's and Ubuntu's do
("externally-managed-environment") and passes everything else to a real interpreter, so the
bootstrap must put uv into its private venv (.tools) and then build .venv from uv.lock. PATH
holds only that python3 and the few coreutils the script needs. pip downloads uv from the
package index (its cache makes repeats fast); uv sync reuses uv's cache.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# It installs uv with pip from the package index and builds a virtual environment.
pytestmark = pytest.mark.service

FAKE_PYTHON = """#!/bin/sh
# A system Python that refuses pip installs (PEP 668), as Debian's and Ubuntu's do.
echo "$*" >> "{log}"
case " $* " in
  *" -m pip install "*)
    case " $* " in *" --break-system-packages "*) ;; *)
      echo "error: externally-managed-environment" >&2
      echo "hint: See PEP 668 for the detailed specification." >&2
      exit 1 ;;
    esac ;;
esac
exec "{real}" "$@"
"""
COPY = ("scripts/bootstrap.sh", "pyproject.toml", "uv.lock", "README.md", "costlab", "sql")


def _clone(repo: Path, dest: Path) -> None:
    for name in COPY:
        src = repo / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


def _run(clone: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", "scripts/bootstrap.sh"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_bootstrap_installs_uv_into_a_private_venv_when_pip_is_externally_managed(
    repo_dir, tmp_path
):
    clone, bin_dir, log = tmp_path / "costlab", tmp_path / "bin", tmp_path / "python3.log"
    clone.mkdir()
    bin_dir.mkdir()
    _clone(repo_dir, clone)
    real = getattr(sys, "_base_executable", sys.executable)
    fake = bin_dir / "python3"
    fake.write_text(FAKE_PYTHON.format(log=log, real=real))
    fake.chmod(0o755)
    for tool in ("sh", "dirname", "rm", "mkdir", "ln"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "PYTHONPATH")
    }
    env["PATH"] = str(bin_dir)
    env["PYTHONUSERBASE"] = str(tmp_path / "userbase")  # never touch the real user site

    refused = subprocess.run(
        [str(fake), "-m", "pip", "install", "uv"], env=env, capture_output=True, text=True
    )
    assert refused.returncode == 1 and "externally-managed-environment" in refused.stderr

    first = _run(clone, env)
    assert first.returncode == 0, first.stderr
    assert "installing it into .tools/ (a private venv)" in first.stderr
    assert "using .tools/bin/uv" in first.stderr
    assert (clone / ".tools" / "bin" / "uv").is_file()
    assert not (tmp_path / "userbase").exists()  # no --user fallback was needed
    assert "--break-system-packages" not in log.read_text()
    version = subprocess.run(
        [str(clone / ".venv" / "bin" / "costlab"), "--help"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert version.returncode == 0 and "collect" in version.stdout

    again = _run(clone, env)  # idempotent: the private uv is reused, nothing reinstalled
    assert again.returncode == 0, again.stderr
    assert "installing" not in again.stderr
    assert "using .tools/bin/uv" in again.stderr
