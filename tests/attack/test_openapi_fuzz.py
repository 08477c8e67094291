"""API fuzzing with schemathesis against the server's own OpenAPI document.

A real `parlour serve` answers requests that schemathesis generates from `/openapi.json`, for
every operation, schema-valid (positive) and schema-violating (negative), and every response goes
through all of schemathesis's checks: no 5xx, every status documented, content types and bodies
as documented, schema-violating input rejected, schema-valid input accepted, auth enforced.

Requests are sent three ways: with a bearer token (most), with the session cookie and CSRF header,
and with no credentials at all (which must be a documented 401). Path parameters are sometimes
real ids (a room the fuzz user administers, a message in it, another member, an attachment), so
the fuzz reaches past "not found" into the handlers.

PARLOUR_FUZZ_EXAMPLES raises the examples per operation and mode (the CI run keeps it short);
PARLOUR_FUZZ_REPORT names a file that gets one JSON line with the counts of the run. The cases are
the same on every run unless PARLOUR_EXPLORE=1 (tests/attack/exploring.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar

import httpx
import pytest
import schemathesis
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.result import Err, Ok
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.attack.exploring import Trace, attack_settings, failure_info, run_info
from tests.support import PASSWORD, OrgFactory, ServerProcess, start_server

EXAMPLES = int(os.environ.get("PARLOUR_FUZZ_EXAMPLES", "10"))
REPORT = os.environ.get("PARLOUR_FUZZ_REPORT", "")
T = TypeVar("T")
E = TypeVar("E", bound=Exception)
# The generated case's type parameters are schemathesis internals; the checks take any case.
Case: TypeAlias = "schemathesis.Case[Any]"

# Schema-valid requests that a business rule still refuses with 422; the document cannot say
# these (they depend on stored state: who I am, the current password, what a file holds).
# Any other 4xx answer to a schema-valid request fails `positive_data_acceptance`.
BUSINESS_RULE_CODES = frozenset(
    {
        "wrong_password",  # POST /users/me/password with a wrong current password
        "direct_with_self",  # POST /rooms type=direct with my own id
        "content_required",  # a send with neither text nor attachments
        "empty_file",  # an upload of zero bytes
        "message_deleted",  # an edit of a deleted message
        "too_many_members",  # a group over its configured size
        "too_many_reactions",  # a 21st distinct emoji on a message
        "too_many_pins",  # a pin over the room's configured limit
        "not_a_channel",  # a topic for a group or direct room
        "invalid_image",  # an avatar whose bytes are no PNG, JPEG, GIF or WebP
        "system_message",  # an edit of a system line (a membership change)
        "last_admin",  # taking admin from a room's last admin
        "invalid_endpoint",  # a push endpoint the outbound address guard refuses
        "invalid_keys",  # push subscription keys that are no P-256 point / 16-byte secret
        "invalid_url",  # an outgoing webhook URL without a host, with a bad port or a space
        # Not stored state but Unicode's emoji data: "one emoji (one grapheme cluster)" is no
        # pattern a generator can use, so the path parameter says only its length.
        "invalid_emoji",
    }
)


def _error_code(response: schemathesis.Response) -> str | None:
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        code = body["error"].get("code")
        return code if isinstance(code, str) else None
    return None


def _positive_data_acceptance_with_rules(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: Case
) -> bool | None:
    if response.status_code == 422 and _error_code(response) in BUSINESS_RULE_CODES:
        return None
    return positive_data_acceptance(ctx, response, case)


_positive_data_acceptance_with_rules.__name__ = "positive_data_acceptance"


@dataclass
class Login:
    token: str
    csrf_token: str


@dataclass
class World:
    """The fuzz user (an org admin) and real ids for path parameters."""

    base_url: str
    admin: Login
    email: str
    other_user_id: str
    room_id: str
    message_id: str
    attachment_id: str


def _login(base_url: str, email: str) -> Login:
    answer = httpx.post(
        f"{base_url}/api/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=30
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return Login(body["token"], body["csrf_token"])


@pytest.fixture(scope="module")
def fuzz_server() -> Any:
    # Its own server: the fuzz changes, deactivates and fails logins at will.
    # It sends as fast as it can: a schema-valid send refused 429 would read as a wrong refusal.
    env = {
        "PARLOUR_LIMIT_LOGIN_FAILURES_PER_IP": "1000000",
        "PARLOUR_LIMIT_SENDS_PER_SECOND": "1000000",
        "PARLOUR_LIMIT_SEND_BURST": "1000000",
    }
    with start_server(env) as process:
        yield process


@pytest.fixture(scope="module")
async def world(fuzz_server: ServerProcess) -> AsyncIterator[World]:
    factory = OrgFactory(fuzz_server)
    await factory.start()
    try:
        org = await factory.create(["Fuzz Admin", "Other Member", "Third Member"])
        admin, other, third = org.members
        base = fuzz_server.base_url
        login = _login(base, admin.email)
        auth = {"Authorization": f"Bearer {login.token}"}
        async with httpx.AsyncClient(base_url=base, headers=auth, timeout=30) as http:
            room = await http.post(
                "/api/v1/rooms",
                json={
                    "type": "group",
                    "name": "Fuzz room",
                    "member_ids": [other.user_id, third.user_id],
                },
            )
            assert room.status_code == 201, room.text
            room_id = room.json()["id"]
            upload = await http.post(
                "/api/v1/attachments", files={"file": ("note.txt", b"hello", "text/plain")}
            )
            assert upload.status_code == 201, upload.text
            attachment_id = upload.json()["id"]
            sent = await http.post(
                f"/api/v1/rooms/{room_id}/messages",
                json={"content": "first", "attachment_ids": [attachment_id]},
            )
            assert sent.status_code == 201, sent.text
        yield World(
            base_url=base,
            admin=login,
            email=admin.email,
            other_user_id=third.user_id,
            room_id=room_id,
            message_id=sent.json()["id"],
            attachment_id=attachment_id,
        )
    finally:
        await factory.stop()


def _real_path_parameters(world: World, names: list[str]) -> dict[str, str]:
    known = {
        "room_id": world.room_id,
        "message_id": world.message_id,
        # Never the fuzz user itself: deactivating or demoting it would end the run.
        "user_id": world.other_user_id,
        "attachment_id": world.attachment_id,
    }
    return {name: known[name] for name in names if name in known}


def _credentials(world: World, how: str, operation_label: str) -> dict[str, str]:
    if how == "none":
        return {}
    # Logout revokes the token it is sent with: it gets a fresh login each time.
    login = (
        _login(world.base_url, world.email)
        if operation_label == "POST /api/v1/auth/logout"
        else world.admin
    )
    if how == "bearer":
        return {"Authorization": f"Bearer {login.token}"}
    return {
        "Cookie": f"parlour_session={login.token}; parlour_csrf={login.csrf_token}",
        "X-CSRF-Token": login.csrf_token,
    }


class Tally:
    def __init__(self) -> None:
        self.operations = 0
        self.cases = 0
        self.server_errors = 0
        self.statuses: Counter[int] = Counter()
        self.trace = Trace()
        self.lock = threading.Lock()

    def record(self, status: int, case: Case, how: str, world: World) -> None:
        # Real ids differ from run to run; the trace names them so equal runs digest equally.
        real = {
            world.room_id: "<room>",
            world.message_id: "<message>",
            world.other_user_id: "<user>",
            world.attachment_id: "<attachment>",
        }
        path = {
            k: real.get(v, v) if isinstance(v, str) else v for k, v in case.path_parameters.items()
        }
        with self.lock:
            self.trace.add(case.operation.label, how, path, case.query, case.body, case.headers)
            self.cases += 1
            self.statuses[status] += 1
            if status >= 500:
                self.server_errors += 1


def _fuzz_operation(
    world: World, operation: Any, mode: GenerationMode, tally: Tally
) -> Callable[[], None]:
    path_names = [p.name for p in operation.path_parameters]
    strategies = [operation.as_strategy(generation_mode=mode)]
    real = _real_path_parameters(world, path_names)
    if real and len(real) == len(path_names):
        strategies.append(operation.as_strategy(generation_mode=mode, path_parameters=dict(real)))
    case_strategy = st.one_of(*strategies)
    # Mostly bearer; some cookie + CSRF; some with no credentials at all.
    how_strategy = st.sampled_from(["bearer", "bearer", "bearer", "cookie", "none"])

    @attack_settings(max_examples=EXAMPLES, report_multiple_bugs=False)
    @given(case=case_strategy, how=how_strategy)
    def run(case: Case, how: str) -> None:
        headers = _credentials(world, how, operation.label)
        response = case.call(base_url=world.base_url, headers=headers, timeout=30)
        tally.record(response.status_code, case, how, world)
        case.validate_response(
            response,
            excluded_checks=[positive_data_acceptance],
            additional_checks=[_positive_data_acceptance_with_rules],
            headers=headers,
            transport_kwargs={"base_url": world.base_url, "headers": headers, "timeout": 30},
        )

    return run


def _operation(result: Ok[T] | Err[E]) -> T:
    """An operation of the document; one the document describes badly fails the run."""
    if isinstance(result, Err):
        raise result.err()
    return result.ok()


def _fuzz_all(world: World, tally: Tally) -> None:
    schema = schemathesis.openapi.from_url(f"{world.base_url}/openapi.json")
    # Credentials are ours to choose (above); `ignored_auth` still probes every 2xx answer again
    # with none and with invalid ones.
    schema.config.generation.update(with_security_parameters=False)
    operations = [_operation(result) for result in schema.get_all_operations()]
    tally.operations = len(operations)
    labels = {operation.label for operation in operations}
    # Every REST endpoint of the contract is in the document; the web UI and the WebSocket are not.
    assert "POST /api/v1/rooms/{room_id}/messages" in labels
    assert "GET /api/v1/events" not in labels
    assert not any(label.split(" ", 1)[1].startswith("/static") for label in labels)
    assert "GET /" not in labels
    no_negative: list[str] = []
    for operation in operations:
        _fuzz_operation(world, operation, GenerationMode.POSITIVE, tally)()
        takes_input = any(
            len(container) for container in (operation.path_parameters, operation.query)
        ) or bool(list(operation.body))
        # A multipart field cannot carry a JSON type: a "null" or "1" the negative mode means as
        # a wrong type is sent as a (valid) file holding those bytes.
        multipart = any(body.media_type.startswith("multipart/") for body in operation.body)
        if takes_input and not multipart:
            try:
                _fuzz_operation(world, operation, GenerationMode.NEGATIVE, tally)()
            except Unsatisfiable:
                # Nothing here can violate the schema (say a lone string path parameter).
                no_negative.append(operation.label)
    # Every operation with a JSON body or a typed query got schema-violating requests.
    assert not [label for label in no_negative if not label.startswith(("GET", "DELETE"))]


async def test_openapi_fuzz_all_operations_all_checks(
    world: World, pytestconfig: pytest.Config
) -> None:
    tally = Tally()
    error: BaseException | None = None
    try:
        await asyncio.to_thread(_fuzz_all, world, tally)
    except BaseException as exc:
        error = exc
        raise
    finally:
        if REPORT:
            line = {
                "cases": tally.cases,
                "server_errors": tally.server_errors,
                "operations": tally.operations,
                "trace": tally.trace.hexdigest(),
                **run_info(pytestconfig),
                **failure_info(error),
            }
            with open(REPORT, "a", encoding="utf-8") as report:
                report.write(json.dumps(line) + "\n")
    operations = tally.operations
    print(
        f"fuzz: {tally.cases} cases, {operations} operations, trace {tally.trace.hexdigest()}, "
        f"statuses {dict(sorted(tally.statuses.items()))}"
    )
    assert tally.server_errors == 0
    assert operations >= 25
    # The fuzz got past authentication and into the handlers, not just 401s and 404s.
    assert tally.statuses[401] > 0
    assert sum(n for status, n in tally.statuses.items() if 200 <= status < 300) > 0
    assert tally.cases >= operations * 2
