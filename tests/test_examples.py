"""Every script in examples/ runs and says what it promises."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
