"""Check the package the way an index and a user see it: ``make wheel-check``, in ``make test``.

1. build the sdist, then the wheel from the sdist (``python -m build``), so a file the sdist
   forgets breaks the wheel too;
2. ``twine check --strict``: the metadata is complete and the README renders on the index;
3. LICENSE is inside both, byte for byte, and the wheel declares it (``License-File``) next to
   the licence expression; ``py.typed`` is in the wheel (the ``Typing :: Typed`` promise);
4. install the wheel, with its real dependencies, into a throw-away venv and run
   ``python -m aliexpress_onboarding --help`` and ``--version`` and every declared console
   script from it, outside the repository, checking the package came from that venv and not
   from ``src/``.

Everything goes to ``build/wheel-check/`` (ignored by git, emptied on each run). Run it with the
dev venv's Python, which has ``build``, ``twine`` and pip: ``.venv/bin/python
scripts/check_wheel.py``.
"""

from __future__ import annotations

import email
import shutil
import subprocess
import sys
import tarfile
import time
import tomllib
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "build" / "wheel-check"
PACKAGE = "aliexpress_onboarding"


def _run(*args: str | Path, cwd: Path = ROOT) -> str:
    """Run a command; on failure, exit with its output."""
    result = subprocess.run(
        [str(arg) for arg in args], cwd=cwd, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        sys.exit(
            f"check-wheel: `{' '.join(map(str, args))}` exited {result.returncode}\n"
            f"{result.stdout}{result.stderr}"
        )
    return result.stdout


def _require(condition: bool, problem: str) -> None:
    if not condition:
        sys.exit(f"check-wheel: {problem}")


def _only(directory: Path, pattern: str) -> Path:
    found = sorted(directory.glob(pattern))
    _require(len(found) == 1, f"expected one {pattern} in {directory}, found {found}")
    return found[0]


def _check_contents(sdist: Path, wheel: Path, project: dict[str, Any]) -> None:
    """LICENSE in both archives (identical to the repository's), py.typed and licence metadata."""
    license_text = (ROOT / "LICENSE").read_bytes()
    top = sdist.name.removesuffix(".tar.gz")
    with tarfile.open(sdist) as archive:
        member = archive.extractfile(f"{top}/LICENSE")
        _require(member is not None and member.read() == license_text, "sdist lacks LICENSE")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        dist_info = next(n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info"))
        license_path = f"{dist_info}/licenses/LICENSE"
        _require(license_path in names, f"wheel lacks {license_path}")
        _require(archive.read(license_path) == license_text, "the wheel's LICENSE differs")
        _require(f"{PACKAGE}/py.typed" in names, "wheel lacks py.typed (Typing :: Typed)")
        metadata = email.message_from_bytes(archive.read(f"{dist_info}/METADATA"))
    expression = metadata.get("License-Expression")
    _require(
        expression == project["license"],
        f"License-Expression is {expression!r}, pyproject declares {project['license']!r}",
    )
    _require("LICENSE" in metadata.get_all("License-File", []), "METADATA has no License-File")


def _check_installed(wheel: Path, project: dict[str, Any]) -> None:
    """Install the wheel into a clean venv and run the CLI from it, away from the repository."""
    venv = OUT / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    # The dev venv's pip installs into the bare venv; its cache makes the dependencies cheap.
    _run(sys.executable, "-m", "pip", "--python", python, "install", "--quiet", wheel)
    origin = _run(python, "-c", f"import {PACKAGE}; print({PACKAGE}.__file__)", cwd=OUT)
    _require(
        Path(origin.strip()).resolve().is_relative_to(venv.resolve()),
        f"{PACKAGE} was imported from {origin.strip()}, not from the wheel",
    )
    _require("usage:" in _run(python, "-m", PACKAGE, "--help", cwd=OUT), "no usage from -m")
    reported = _run(python, "-m", PACKAGE, "--version", cwd=OUT)
    _require(
        project["version"] in reported, f"--version says {reported!r}, not {project['version']}"
    )
    for script in project.get("scripts", {}):
        _require("usage:" in _run(venv / "bin" / script, "--help", cwd=OUT), f"{script}: no usage")


def main() -> None:
    """Build, check and install the distributions; print what was checked."""
    started = time.monotonic()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    shutil.rmtree(OUT, ignore_errors=True)
    dist = OUT / "dist"
    _run(sys.executable, "-m", "build", "--outdir", dist, ROOT)
    sdist, wheel = _only(dist, "*.tar.gz"), _only(dist, "*.whl")
    _run(sys.executable, "-m", "twine", "check", "--strict", sdist, wheel)
    _check_contents(sdist, wheel, project)
    _check_installed(wheel, project)
    checked = ", ".join([f"python -m {PACKAGE}", *project.get("scripts", {})])
    print(
        f"check-wheel: {sdist.name} and {wheel.name} pass twine check --strict, carry LICENSE; "
        f"the installed wheel runs {checked} ({time.monotonic() - started:.0f} s)"
    )


if __name__ == "__main__":
    main()
