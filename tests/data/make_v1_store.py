"""How ``v1-authorizations.sqlite`` was written: by release 0.x at commit d5ea637.

Kept as the record of what the file holds; it is not run by the tests (it needs that release:
the current one stores authorizations as records of their own). The file holds one account
verified for 2 stores, two Self apps whose lists together name 3 distinct stores (v1 bounded
each app alone; the first app's store s1 was revoked), and a Commercial app authorized by
another seller's store. Its appSecrets are sealed under the key in ``v1-authorizations.keys``
(a test key).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from aliexpress_onboarding import Actor, DeveloperType, OnboardingService, Store
from aliexpress_onboarding.adapters.sqlite import SQLiteRepository
from aliexpress_onboarding.domain.account import DeveloperProfile
from aliexpress_onboarding.domain.eligibility import Applicant
from aliexpress_onboarding.domain.values import DocumentKind, EmailAddress, LicenseDocument
from aliexpress_onboarding.sealing import Keyring

HERE = Path(__file__).parent
SELLER = Actor.seller("seller-v1")
OTHER = Actor.seller("seller-other")
REVIEWER = Actor.reviewer("reviewer-v1")


class Clock:
    def __init__(self) -> None:
        self.current = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        self.current += timedelta(minutes=1)
        return self.current


def main() -> None:
    database, keys = HERE / "v1-authorizations.sqlite", HERE / "v1-authorizations.keys"
    database.unlink(missing_ok=True)
    keyring = Keyring.generate()
    keyring.save(keys)
    repository = SQLiteRepository(database, keyring=keyring)
    service = OnboardingService(repository=repository, clock=Clock())
    account = service.register_account(
        seller_id=SELLER.id, enterprise_id="ent-v1", actor=SELLER, verified_store_count=2
    )
    service.accept_agreement(account.id, "2024-01", actor=SELLER)
    profile = DeveloperProfile("Wei Zhang", EmailAddress("dev@v1.example.com"))
    service.submit_profile(account.id, profile, actor=SELLER)
    licence = LicenseDocument.from_bytes(
        b"\xff\xd8\xff\xe0" + bytes(16), filename="licence.jpg", kind=DocumentKind.BUSINESS_LICENSE
    )
    for kind in (DeveloperType.SELF, DeveloperType.COMMERCIAL):
        applicant = Applicant(
            name="V1 Trading",
            country="CN",
            is_enterprise=True,
            is_aliexpress_seller=True,
            builds_for_other_sellers=kind is DeveloperType.COMMERCIAL,
        )
        application = service.apply(account.id, kind, applicant, licence, actor=SELLER)
        service.approve(application.id, actor=REVIEWER)
    first = service.create_app(account.id, DeveloperType.SELF, "self_one", actor=SELLER)
    second = service.create_app(account.id, DeveloperType.SELF, "self_two", actor=SELLER)
    isv = service.create_app(account.id, DeveloperType.COMMERCIAL, "isv_one", actor=SELLER)
    for app, store_id in [(first, "s1"), (first, "s2"), (second, "s2"), (second, "s3")]:
        service.authorize_store(app.id, Store(store_id, SELLER.id, "ent-v1"), actor=SELLER)
    service.revoke_store(first.id, "s1", actor=SELLER)
    service.authorize_store(first.id, Store("s4", SELLER.id, "ent-v1"), actor=SELLER)
    service.authorize_store(isv.id, Store("o1", OTHER.id, "ent-other"), actor=OTHER)
    print(database, [a.id for a in repository.list_by_account(type(first), account.id)])


if __name__ == "__main__":
    main()
