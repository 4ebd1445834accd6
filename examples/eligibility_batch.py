"""Check a CSV file of applicants and print a table: who may apply as what, and why not.

`check_many(rows, errors="report")` checks each applicant against the developer type its facts
point to, and goes on past a row it cannot read: that row is listed with its line and reason.
The `eligibility` command of the CLI does the same for files of any size.

Run: python examples/eligibility_batch.py [applicants.csv]   (default: the CSV beside this file)
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from aliexpress_onboarding import check_many

APPLICANTS = Path(__file__).resolve().parent / "applicants.csv"


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else APPLICANTS
    with path.open(encoding="utf-8", newline="") as file:
        checked = check_many(csv.DictReader(file), errors="report")
    refused = [row for row in checked if row.refused]

    # The header is line 1 and each row one line (the CLI also counts cells that span lines).
    print(f"{'line':>4}  {'applicant':<34} {'country':<7} {'type':<11} verdict")
    for row in checked:
        if row.report is None:
            continue
        record = row.report.to_dict()
        verdict = "eligible" if record["eligible"] else f"blocked: {record['blocking']}"
        if record["advice"]:
            verdict += f" (advice: {record['advice']})"
        print(
            f"{row.row + 2:>4}  {record['applicant']:<34} {record['country']:<7}"
            f" {record['developer_type']:<11} {verdict}"
        )
    for row in refused:
        print(f"{row.row + 2:>4}  refused: {row.error}")
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
