"""Every script in examples/ runs and says what it promises."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from aliexpress_onboarding.ports import Repository
from aliexpress_onboarding.testing import RepositoryContract

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_eligibility_walkthrough_example_prints_a_row_per_applicant() -> None:
    """The batch example prints each applicant with its type and verdict."""
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "eligibility_walkthrough.py")],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = result.stdout.splitlines()
    assert 3 == len(lines)
    assert lines[1].split()[-2:] == ["commercial", "eligible"]
    assert "not_an_enterprise" in lines[2]


def test_custom_repository_example_runs() -> None:
    """The third-party adapter example runs on its own."""
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "custom_repository.py")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.endswith("is pending_profile at version 2\n")


def _load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class TestJsonFileRepositoryExample(RepositoryContract):
    """The example adapter passes the same contract suite as ours."""

    @pytest.fixture
    def repository(self, tmp_path: Path) -> Repository:
        module = _load_example("custom_repository")
        return module.JsonFileRepository(tmp_path / "store.json")  # type: ignore[no-any-return]
