"""Check a CSV file of applicants and print a table: who may apply as what, and why not.

Every row goes through `Applicant.from_record` (a row it refuses is listed with its line and
reason, and the others still run); `check_many` then checks each applicant against the developer
type its facts point to. The `eligibility` command of the CLI does the same for files of any size.

Run: python examples/eligibility_batch.py [applicants.csv]   (default: the CSV beside this file)
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from aliexpress_onboarding import Applicant, ValidationError, check_many

APPLICANTS = Path(__file__).resolve().parent / "applicants.csv"


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else APPLICANTS
    applicants: list[tuple[int, Applicant]] = []
    refused: list[tuple[int, ValidationError]] = []
    with path.open(encoding="utf-8", newline="") as file:
        reader = csv.DictReader(file)
        for row in reader:
            try:
                applicants.append((reader.line_num, Applicant.from_record(row)))
            except ValidationError as error:
                refused.append((reader.line_num, error))
    reports = check_many(applicant for _, applicant in applicants)

    print(f"{'line':>4}  {'applicant':<34} {'country':<7} {'type':<11} verdict")
    for (line, _), report in zip(applicants, reports, strict=True):
        record = report.to_dict()
        verdict = "eligible" if record["eligible"] else f"blocked: {record['blocking']}"
        if record["advice"]:
            verdict += f" (advice: {record['advice']})"
        print(
            f"{line:>4}  {record['applicant']:<34} {record['country']:<7}"
            f" {record['developer_type']:<11} {verdict}"
        )
    for line, problem in refused:
        print(f"{line:>4}  refused: {problem}")
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
