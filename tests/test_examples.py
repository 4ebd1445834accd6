"""Every script in examples/ runs and says what it promises."""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import IO, Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest

from aliexpress_onboarding import Actor, OnboardingService, Store
from aliexpress_onboarding.adapters.sqlite import SQLiteRepository
from aliexpress_onboarding.ports import Repository
from aliexpress_onboarding.sealing import Keyring
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

    @pytest.fixture
    def second_repository(self, repository: Any) -> Repository:
        return type(repository)(repository.path)  # type: ignore[no-any-return]  # the same file


def test_eligibility_batch_example_prints_a_table_and_the_refused_rows() -> None:
    """The CSV example shows each applicant's type and verdict, then refused rows by line."""
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "eligibility_batch.py")],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = result.stdout.splitlines()
    assert (1, 9) == (result.returncode, len(lines))
    assert lines[1].split()[-2:] == ["self", "eligible"]
    assert "blocked: cif_outside_spain" in lines[6]
    assert lines[8].startswith("   9  refused: is_enterprise: expected yes or no")


def test_eligibility_batch_example_reads_the_csv_it_is_given(tmp_path: Path) -> None:
    """A path argument replaces the shipped CSV."""
    path = tmp_path / "one.csv"
    path.write_text("name,country,is_enterprise,is_aliexpress_seller\nLi Wei,CN,no,yes\n")
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "eligibility_batch.py"), str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "blocked: not_an_enterprise,missing_business_license" in result.stdout


# -- the WSGI example, driven over real HTTP ----------------------------------------------------

_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64)
_SELLER = "seller:cn1234567890"
_REVIEWER = "reviewer:amy"
_APPLICANT = {
    "name": "Hangzhou Sunrise Trading",
    "country": "CN",
    "is_enterprise": "yes",
    "is_aliexpress_seller": "yes",
    "license_kind": "business_license",
}


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def _serving(service: OnboardingService) -> Iterator[str]:
    """The example's app for ``service`` on a free port of 127.0.0.1, in a thread."""
    app = _load_example("embed_in_wsgi").make_app(service)
    server = make_server("127.0.0.1", 0, app, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def service() -> OnboardingService:
    """The in-memory service behind ``api``, for what the API has no route for."""
    return OnboardingService()


@pytest.fixture
def api(service: OnboardingService) -> Iterator[str]:
    """The example's API serving ``service``."""
    with _serving(service) as url:
        yield url


def _call(
    url: str, method: str = "GET", body: object = None, actor: str | None = _SELLER
) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **({"X-Actor": actor} if actor else {})},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no proxy for 127.0.0.1
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def _active_account(api: str, actor: str = _SELLER, **changes: object) -> str:
    status, account = _call(
        f"{api}/accounts",
        "POST",
        {
            "enterprise_id": "ent-sunrise",
            "agreement_version": "2021-03",
            "contact_name": "Wei Zhang",
            "email": "dev@sunrise.example.com",
            **changes,
        },
        actor,
    )
    assert (201, "active") == (status, account["status"])
    return str(account["id"])


def _application(account_id: str, **changes: object) -> dict[str, object]:
    return {
        "account_id": account_id,
        "developer_type": "self",
        "applicant": _APPLICANT,
        "license": {
            "filename": "business_license.jpg",
            "base64": base64.b64encode(_JPEG).decode(),
            "registration_number": "91350100M000100Y43",
        },
        **changes,
    }


def test_wsgi_example_runs_register_apply_approve_and_status(api: str) -> None:
    """Register → apply → a reviewer approves → the owner sees the application approved."""
    account_id = _active_account(api)
    status, application = _call(f"{api}/applications", "POST", _application(account_id))
    assert (201, "under_review") == (status, application["status"])
    url = f"{api}/applications/{application['id']}"
    status, approved = _call(f"{url}/approve", "POST", {}, _REVIEWER)
    assert (200, "approved") == (status, approved["status"])
    status, shown = _call(url)
    assert (200, "approved", "amy") == (status, shown["status"], shown["reviewer_id"])


def test_wsgi_example_answers_bad_input_with_400(api: str) -> None:
    """A licence that is not base64 is a 400 naming the field."""
    account_id = _active_account(api)
    body = _application(account_id, license={"filename": "l.jpg", "base64": "not base64!"})
    assert (
        400,
        {
            "error": "ValidationError",
            "message": "license.base64: must be base64 (got 'not base64!')",
        },
    ) == _call(f"{api}/applications", "POST", body)


def test_wsgi_example_answers_a_seller_approving_with_403(api: str) -> None:
    """Only a reviewer decides: the applicant approving its own application is a 403."""
    account_id = _active_account(api)
    application = _call(f"{api}/applications", "POST", _application(account_id))[1]
    status, body = _call(f"{api}/applications/{application['id']}/approve", "POST", {})
    assert (403, "PermissionDeniedError") == (status, body["error"])


def test_wsgi_example_answers_a_reviewer_asking_for_an_unknown_application_with_404(
    api: str,
) -> None:
    """An id that names no application is a 404 naming the id."""
    assert (404, {"error": "NotFoundError", "message": "no application with id 'appl-nope'"}) == (
        _call(f"{api}/applications/appl-nope", actor=_REVIEWER)
    )


def test_wsgi_example_answers_a_second_approval_with_409(api: str) -> None:
    """Approving an approved application is a conflict with its state."""
    account_id = _active_account(api)
    application = _call(f"{api}/applications", "POST", _application(account_id))[1]
    url = f"{api}/applications/{application['id']}/approve"
    _call(url, "POST", {}, _REVIEWER)
    status, body = _call(url, "POST", {}, _REVIEWER)
    assert (409, "TransitionNotAllowedError") == (status, body["error"])


def test_wsgi_example_answers_a_missing_actor_with_401(api: str) -> None:
    """Without the X-Actor header the embedding system set, nothing is done."""
    status, body = _call(f"{api}/accounts", "POST", {}, actor=None)
    assert (401, "Unauthenticated") == (status, body["error"])


def test_wsgi_example_hides_what_an_unexpected_failure_says() -> None:
    """A failure's text (a password in a driver error, say) never reaches the client."""

    class BrokenService(OnboardingService):
        def approve(self, application_id: str, **_: Any) -> Any:
            raise RuntimeError("connect failed: password=hunter2")

    with _serving(BrokenService()) as url:
        answer = _call(f"{url}/applications/appl-1/approve", "POST", {}, _REVIEWER)
    assert (500, {"error": "InternalError", "message": "internal error"}) == answer


# -- the WSGI example's reads, through the service's queries ------------------------------------

_OTHER_SELLER = "seller:cn999"


def _approved_app(api: str, **account: object) -> tuple[str, dict[str, Any]]:
    """An active account with an approved Self application and an app: the id and the app."""
    account_id = _active_account(api, **account)
    application = _call(f"{api}/applications", "POST", _application(account_id))[1]
    _call(f"{api}/applications/{application['id']}/approve", "POST", {}, _REVIEWER)
    status, app = _call(
        f"{api}/accounts/{account_id}/apps", "POST", {"developer_type": "self", "name": "sync"}
    )
    assert 201 == status
    return account_id, app


def test_wsgi_example_lets_only_a_reviewer_verify_the_enterprise(api: str) -> None:
    """POST /accounts/<id>/verification: the seller itself gets 403, a reviewer 200."""
    account_id = _active_account(api)
    url = f"{api}/accounts/{account_id}/verification"
    facts = {"enterprise_id": "ent-sunrise", "store_count": 10_000}
    by_seller = _call(url, "POST", facts)
    by_reviewer = _call(url, "POST", {**facts, "store_count": 2}, _REVIEWER)
    assert (403, 200, 2) == (by_seller[0], by_reviewer[0], by_reviewer[1]["verified_store_count"])


def test_wsgi_example_shows_the_owner_its_account_applications_and_apps(api: str) -> None:
    """GET /accounts/<id>: the account, its approved application and its app."""
    account_id, app = _approved_app(api)
    status, shown = _call(f"{api}/accounts/{account_id}")
    assert (200, "active", ["approved"], [app["id"]]) == (
        status,
        shown["status"],
        [a["status"] for a in shown["applications"]],
        [a["id"] for a in shown["apps"]],
    )


def test_wsgi_example_shows_the_app_secret_once_and_never_on_a_read(api: str) -> None:
    """The create response carries the appSecret; no GET of the app or account shows it."""
    account_id, app = _approved_app(api)
    secret = app.pop("app_secret")
    reads = [
        _call(f"{api}/apps/{app['id']}"),
        _call(f"{api}/apps/{app['id']}", actor=_REVIEWER),
        _call(f"{api}/accounts/{account_id}"),
    ]
    assert ([200, 200, 200], app, []) == (
        [status for status, _ in reads],
        reads[0][1],
        [body for _, body in reads if secret in json.dumps(body) or "app_secret" in body],
    )


def test_wsgi_example_finds_a_sellers_account(api: str) -> None:
    """GET /sellers/<seller id>/account gives the seller (or a reviewer) its account id."""
    account_id = _active_account(api)
    url = f"{api}/sellers/cn1234567890/account"
    assert [(200, account_id)] * 2 == [
        (status, body.get("id")) for status, body in (_call(url), _call(url, actor=_REVIEWER))
    ]


def test_wsgi_example_pages_an_apps_store_authorizations(
    api: str, service: OnboardingService
) -> None:
    """GET /apps/<id>/authorizations?limit=2: two stores, then the last, by store id."""
    account_id, app = _approved_app(api)
    verified = _call(
        f"{api}/accounts/{account_id}/verification",
        "POST",
        {"enterprise_id": "ent-sunrise", "store_count": 3},
        _REVIEWER,
    )
    assert (200, 3) == (verified[0], verified[1]["verified_store_count"])
    seller = Actor.seller("cn1234567890")
    for store_id in ("store-c", "store-a", "store-b"):
        service.authorize_store(app["id"], Store(store_id, seller.id, "ent-sunrise"), actor=seller)
    url = f"{api}/apps/{app['id']}/authorizations?limit=2"
    first = _call(url)
    second = _call(f"{url}&after={first[1]['next_after']}")
    assert [(200, ["store-a", "store-b"], "store-b"), (200, ["store-c"], None)] == [
        (status, [item["store_id"] for item in body["items"]], body["next_after"])
        for status, body in (first, second)
    ]


@pytest.mark.parametrize("query", ["limit=0", "limit=ten", "limit=1001", "limit=1&limit=2"])
def test_wsgi_example_answers_a_bad_page_size_with_400(api: str, query: str) -> None:
    """A page size that is not 1 to 1000, or given twice, is a 400 naming ``limit``."""
    _, app = _approved_app(api)
    status, body = _call(f"{api}/apps/{app['id']}/authorizations?{query}")
    assert (400, "ValidationError", "limit") == (
        status,
        body["error"],
        body["message"].partition(":")[0],
    )


def test_wsgi_example_answers_a_foreign_seller_with_the_same_403_as_an_unknown_id(
    api: str,
) -> None:
    """Another seller is refused every read of the account, and cannot tell real ids from none."""
    account_id, app = _approved_app(api)
    application_id = _call(f"{api}/accounts/{account_id}")[1]["applications"][0]["id"]
    paths = [
        ("accounts", account_id),
        ("applications", application_id),
        ("apps", app["id"]),
        ("apps", f"{app['id']}/authorizations"),
    ]
    foreign = [_call(f"{api}/{kind}/{path}", actor=_OTHER_SELLER) for kind, path in paths]
    unknown = [
        _call(f"{api}/{kind}/{path.replace(path.partition('/')[0], 'nope')}", actor=_OTHER_SELLER)
        for kind, path in paths
    ]
    assert ([403] * 4, foreign) == ([status for status, _ in foreign], unknown)


def test_wsgi_example_shows_reviewers_their_queue_and_refuses_sellers(api: str) -> None:
    """GET /reviews lists what awaits a decision; not yet overdue; a seller gets 403."""
    account_id = _active_account(api)
    application = _call(f"{api}/applications", "POST", _application(account_id))[1]
    pending = _call(f"{api}/reviews", actor=_REVIEWER)
    overdue = _call(f"{api}/reviews/overdue", actor=_REVIEWER)
    refused = _call(f"{api}/reviews")
    assert ((200, [application["id"]]), (200, []), (403, "PermissionDeniedError")) == (
        (pending[0], [a["id"] for a in pending[1]["items"]]),
        (overdue[0], overdue[1]["items"]),
        (refused[0], refused[1]["error"]),
    )


# -- the WSGI example as deployed: its `application` under waitress, in a process of its own -----

_SERVING = re.compile(r"Serving on http://127\.0\.0\.1:(\d+)")


def _serving_port(lines: queue.Queue[str | None], timeout: float = 30.0) -> int:
    """The port waitress says it listens on; it must say so within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while (line := lines.get(timeout=max(deadline - time.monotonic(), 0.01))) is not None:
        if match := _SERVING.search(line):
            return int(match.group(1))
    raise AssertionError("waitress ended before it served")


def _drain(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    """Every line of ``stream`` into ``lines``, then None: a full pipe would block the server."""
    for line in stream:
        lines.put(line)
    lines.put(None)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """``waitress-serve embed_in_wsgi:application`` on a SQLite store: its URL and database."""
    folder = tmp_path_factory.mktemp("deployed")
    keys = folder / "onboarding.keys"
    Keyring.generate().save(keys)
    environment = {
        **os.environ,
        "ONBOARDING_URL": f"sqlite:///{folder / 'onboarding.db'}",
        "ONBOARDING_KEYS": str(keys),
        "PYTHONPATH": str(EXAMPLES),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "waitress", "--listen=127.0.0.1:0", "embed_in_wsgi:application"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert server.stderr is not None
    lines: queue.Queue[str | None] = queue.Queue()
    reader = threading.Thread(target=_drain, args=(server.stderr, lines), daemon=True)
    reader.start()
    try:
        yield f"http://127.0.0.1:{_serving_port(lines)}", folder / "onboarding.db"
    finally:
        server.terminate()
        server.wait(timeout=10)
        reader.join(timeout=10)
        server.stderr.close()


def _deployed_app(api: str, seller: str) -> tuple[str, str, dict[str, Any]]:
    """An active account, an approved application and an app: their ids, and the app."""
    account_id = _active_account(api, seller)
    application = _call(f"{api}/applications", "POST", _application(account_id), seller)[1]
    _call(f"{api}/applications/{application['id']}/approve", "POST", {}, _REVIEWER)
    status, app = _call(
        f"{api}/accounts/{account_id}/apps",
        "POST",
        {"developer_type": "self", "name": "sync"},
        seller,
    )
    assert 201 == status
    return account_id, application["id"], app


def test_deployed_application_answers_each_outcome_with_its_status_code(
    deployed: tuple[str, Path],
) -> None:
    """Under waitress: 401, 201, 400, 403, 404, 200, 409 and 405 (with Allow), as documented."""
    api, _ = deployed
    seller = "seller:cn100"
    unauthenticated = _call(f"{api}/accounts", "POST", {}, actor=None)[0]
    account_id = _active_account(api, seller)
    bad = _application(account_id, license={"filename": "l.jpg", "base64": "not base64!"})
    application = _call(f"{api}/applications", "POST", _application(account_id), seller)
    approve = f"{api}/applications/{application[1]['id']}/approve"
    codes = [
        unauthenticated,
        _call(f"{api}/applications", "POST", bad, seller)[0],
        application[0],
        _call(approve, "POST", {}, seller)[0],
        _call(f"{api}/applications/appl-nope", actor=_REVIEWER)[0],
        _call(approve, "POST", {}, _REVIEWER)[0],
        _call(approve, "POST", {}, _REVIEWER)[0],
        _call(f"{api}/accounts/{account_id}", actor=seller)[0],
    ]
    request = urllib.request.Request(f"{api}/reviews", method="DELETE")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with pytest.raises(urllib.error.HTTPError) as refused:
        opener.open(request, timeout=10)
    with refused.value:
        codes.append(refused.value.code)
        assert "GET" == refused.value.headers["Allow"]
    assert [401, 400, 201, 403, 404, 200, 409, 200, 405] == codes


def test_deployed_application_shows_the_app_secret_in_the_create_response_only(
    deployed: tuple[str, Path],
) -> None:
    """Under waitress: every read of the app, its account and its stores leaves it out."""
    api, _ = deployed
    seller = "seller:cn200"
    account_id, _, app = _deployed_app(api, seller)
    secret = app.pop("app_secret")
    reads = [
        _call(f"{api}/apps/{app['id']}", actor=seller),
        _call(f"{api}/apps/{app['id']}", actor=_REVIEWER),
        _call(f"{api}/accounts/{account_id}", actor=seller),
        _call(f"{api}/apps/{app['id']}/authorizations", actor=seller),
    ]
    assert ([200] * 4, app, []) == (
        [status for status, _ in reads],
        reads[0][1],
        [body for _, body in reads if secret in json.dumps(body)],
    )


def test_deployed_application_leaves_the_notifications_to_the_dispatcher(
    deployed: tuple[str, Path],
) -> None:
    """Inline dispatch is off: the approval and the new app wait in the outbox, undelivered."""
    api, database = deployed
    _, application_id, app = _deployed_app(api, "seller:cn300")
    repository = SQLiteRepository(database)
    try:
        pending = {
            (entry.event.type, entry.event.aggregate_id)
            for entry in repository.pending_events(limit=10_000)
        }
    finally:
        repository.close()
    assert {("ApplicationApproved", application_id), ("AppCreated", app["id"])} <= pending
