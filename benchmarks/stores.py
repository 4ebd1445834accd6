"""The cost of authorizing one more store, for an app with 10 stores and one with 100,000.

Usage, from the repository root (about a minute on SQLite; only the library is needed)::

    python benchmarks/stores.py [--stores 100000]

The issue's figure: "the 100 000th store costs at most 1.5x the 10th". The command timed is
`OnboardingService.authorize_store` on a Commercial app (each store is another seller's) and on
a Self app of an account verified for all of them (the per-developer bound is counted in the
same transaction), through the public service, in memory and on a SQLite file, dispatch off
(`auto_dispatch=False`: this measures the command, not the notifier). Stores 1 to N are
authorized in order; the cost of the stores around the 10th (5th to 15th) is compared with the
cost of the last 10 (N-9th to Nth), each as the median of its per-command CPU times, so the
ratio says whether one more store costs more when the app has many. Loading the app is timed
too, at 10 stores and at N: it reads no authorization.

Release 1 kept the stores inside the app's document: each authorization rewrote all of them,
and past about 7,800 stores the document no longer loaded.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aliexpress_onboarding import (
    Actor,
    Applicant,
    DeveloperProfile,
    EmailAddress,
    LicenseDocument,
    OnboardingService,
    Store,
)
from aliexpress_onboarding.adapters.sqlite import SQLiteRepository

OWNER = Actor.seller("bench-owner")
REVIEWER = Actor.reviewer("bench-reviewer")


class Clock:
    """A millisecond per reading, from a fixed start."""

    def __init__(self) -> None:
        self.current = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        """The next millisecond."""
        self.current += timedelta(milliseconds=1)
        return self.current


def _app(service: OnboardingService, kind: str, stores: int) -> str:
    """An approved account's app of ``kind``, its account verified for ``stores`` stores."""
    account = service.register_account(seller_id=OWNER.id, enterprise_id="bench-ent", actor=OWNER)
    service.verify_enterprise(account.id, "bench-ent", min(stores, 10_000), actor=REVIEWER)
    service.accept_agreement(account.id, "2024-01", actor=OWNER)
    service.submit_profile(
        account.id, DeveloperProfile("Bench", EmailAddress("bench@example.com")), actor=OWNER
    )
    facts = Applicant(
        name="Bench",
        country="CN",
        is_enterprise=True,
        is_aliexpress_seller=True,
        builds_for_other_sellers=kind == "commercial",
    )
    document = LicenseDocument.from_bytes(b"\xff\xd8\xff" + bytes(16), filename="l.jpg")
    application = service.apply(account.id, kind, facts, document, actor=OWNER)
    service.approve(application.id, actor=REVIEWER)
    return service.create_app(account.id, kind, "bench_app", actor=OWNER).id


def run(store: str, kind: str, stores: int) -> dict[str, float]:
    """Authorize ``stores`` stores; the median costs near the 10th and at the end."""
    with tempfile.TemporaryDirectory() as directory:
        repository = (
            SQLiteRepository(Path(directory) / "b.db", plaintext_secrets=True)
            if store == "sqlite"
            else None
        )
        service = OnboardingService(
            **({"repository": repository} if repository else {}),
            clock=Clock(),
            auto_dispatch=False,
        )
        app_id = _app(service, kind, stores)
        costs = []
        loads = {}
        for n in range(1, stores + 1):
            seller = OWNER if kind == "self" else Actor.seller(f"seller-{n}")
            target = Store(f"store-{n:06d}", seller.id, "bench-ent")
            began = time.process_time()
            service.authorize_store(app_id, target, actor=seller)
            costs.append(time.process_time() - began)
            if n in (10, stores):
                began = time.process_time()
                for _ in range(100):
                    service.app(app_id, actor=OWNER)
                loads[n] = (time.process_time() - began) / 100
        early = statistics.median(costs[4:15])
        late = statistics.median(costs[-10:])
        if repository is not None:
            repository.close()
    return {"early": early, "late": late, "load_early": loads[10], "load_late": loads[stores]}


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=100_000)
    stores = parser.parse_args().stores
    print(f"authorize_store, store 5-15 vs the last 10 of {stores:,} (median CPU time)\n")
    print(f"{'store':8} {'app':11} {'~10th':>10} {'last':>10} {'ratio':>7} {'load ratio':>11}")
    for store in ("memory", "sqlite"):
        for kind in ("commercial", "self"):
            if kind == "self" and stores > 10_000:
                # a Self account is verified for at most 10,000 stores
                figures = run(store, kind, 10_000)
                label = "self (10k)"
            else:
                figures = run(store, kind, stores)
                label = kind
            ratio = figures["late"] / figures["early"]
            load = figures["load_late"] / figures["load_early"]
            early, late = figures["early"] * 1e6, figures["late"] * 1e6
            print(f"{store:8} {label:11} {early:8.0f}us {late:8.0f}us {ratio:6.2f}x {load:10.2f}x")


if __name__ == "__main__":
    main()
