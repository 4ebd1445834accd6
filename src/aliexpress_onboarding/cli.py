"""The ``aliexpress-onboarding`` command (also ``python -m aliexpress_onboarding``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from .domain.eligibility import (
    Applicant,
    StorePlatform,
    check_eligibility,
    recommend_developer_type,
)
from .domain.values import DeveloperType, DocumentKind, LicenseDocument

__all__ = ["main"]

# The smallest well-formed JPEG header is enough for the content sniffing the demo shows.
_DEMO_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64)

_DEMO_APPLICANTS = (
    (
        Applicant(
            name="Hangzhou Sunrise Trading Co., Ltd.",
            country="CN",
            is_enterprise=True,
            is_aliexpress_seller=True,
        ),
        ("business_license.jpg", DocumentKind.BUSINESS_LICENSE, "91350100M000100Y43"),
    ),
    (
        Applicant(
            name="Distribuciones Iberia S.L.",
            country="ES",
            is_enterprise=True,
            is_aliexpress_seller=True,
            license_kind=DocumentKind.CIF,
        ),
        ("cif.jpg", DocumentKind.CIF, "B12345674"),
    ),
    (
        Applicant(
            name="Nordic Home AB",
            country="SE",
            is_enterprise=True,
            is_aliexpress_seller=True,
            store_platform=StorePlatform.MAGENTO,
            uses_third_party_module=True,
        ),
        None,
    ),
    (
        Applicant(
            name="Connector Works GmbH",
            country="DE",
            is_enterprise=True,
            is_aliexpress_seller=False,
            builds_for_other_sellers=True,
        ),
        None,
    ),
    (
        Applicant(
            name="Li Wei",
            country="CN",
            is_enterprise=False,
            is_aliexpress_seller=True,
            license_kind=None,
        ),
        None,
    ),
)


def _walk_through(out: TextIO) -> None:
    out.write("AliExpress Open Platform onboarding: who should apply as what\n")
    for number, (applicant, upload) in enumerate(_DEMO_APPLICANTS, start=1):
        out.write(f"\n{number}. {applicant.name} ({applicant.country})\n")
        if upload is not None:
            filename, kind, registration = upload
            document = LicenseDocument.from_bytes(
                _DEMO_JPEG,
                filename=filename,
                kind=kind,
                country=applicant.country,
                registration_number=registration,
            )
            out.write(f"   document: {document}, registration {registration} verified\n")
        recommended = recommend_developer_type(applicant)
        for kind_checked in DeveloperType:
            report = check_eligibility(applicant, kind_checked)
            verdict = "eligible" if report.eligible else "not eligible"
            out.write(f"   as {kind_checked.label}: {verdict}\n")
            for problem in report.problems:
                mark = "x" if problem.blocking else "i"
                out.write(f"     [{mark}] {problem.code}: {problem.message}\n")
        if recommended is None:
            out.write("   next: resolve the [x] problems above, then check again.\n")
        else:
            out.write(
                f"   next: activate the developer account (accept the API use agreement, fill in"
                f" the developer information), then apply as a {recommended.label}. Review takes"
                " 1-2 days; with no e-mail after 2 days, submit a ticket.\n"
            )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aliexpress-onboarding",
        description="Run, track and check the AliExpress Open Platform developer onboarding.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="eligibility of five applicants, then one seller's whole onboarding",
        description="Check five realistic applicants, then run (or continue) the whole "
        "onboarding of one seller on a SQLite file: a second run continues where the first "
        "stopped.",
    )
    where = demo.add_mutually_exclusive_group()
    where.add_argument(
        "--db",
        default="onboarding-demo.db",
        metavar="PATH",
        help="the SQLite file to keep the state in (default: %(default)s)",
    )
    where.add_argument("--memory", action="store_true", help="keep the state in memory only")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code (0 ok, 2 usage error)."""
    args = _parser().parse_args(argv)
    if args.command == "demo":
        from ._demo import run_onboarding_demo  # the e-mail and SQLite parts, only for the demo

        _walk_through(sys.stdout)
        run_onboarding_demo(sys.stdout, "memory://" if args.memory else f"sqlite:///{args.db}")
    return 0
