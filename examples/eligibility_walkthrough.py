"""Check a few applicants and print a table: the batch form notebooks use.

Run: python examples/eligibility_walkthrough.py
"""

from aliexpress_onboarding import check_many

ROWS = [
    {
        "name": "Hangzhou Sunrise Trading",
        "country": "CN",
        "is_enterprise": "yes",
        "is_aliexpress_seller": "yes",
        "license_kind": "business_license",
    },
    {
        "name": "Connector Works GmbH",
        "country": "DE",
        "is_enterprise": "yes",
        "is_aliexpress_seller": "no",
        "license_kind": "business_license",
        "builds_for_other_sellers": "yes",
    },
    {"name": "Li Wei", "country": "CN", "is_enterprise": "no", "is_aliexpress_seller": "yes"},
]


def main() -> None:
    for record in (report.to_dict() for report in check_many(ROWS)):
        verdict = "eligible" if record["eligible"] else f"blocked by {record['blocking']}"
        print(f"{record['applicant']:<28} {record['developer_type']:<11} {verdict}")


if __name__ == "__main__":
    main()
