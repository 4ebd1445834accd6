"""Every script in examples/ runs and says what it promises."""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import json
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest

from aliexpress_onboarding import OnboardingService
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
def api() -> Iterator[str]:
    """The example's API serving an in-memory service."""
    with _serving(OnboardingService()) as url:
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


def _active_account(api: str) -> str:
    status, account = _call(
        f"{api}/accounts",
        "POST",
        {
            "enterprise_id": "ent-sunrise",
            "agreement_version": "2021-03",
            "contact_name": "Wei Zhang",
            "email": "dev@sunrise.example.com",
        },
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


def test_wsgi_example_answers_an_unknown_application_with_404(api: str) -> None:
    """An id that names no application is a 404 naming the id."""
    assert (404, {"error": "NotFoundError", "message": "no application with id 'appl-nope'"}) == (
        _call(f"{api}/applications/appl-nope")
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
