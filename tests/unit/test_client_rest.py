"""ParlourClient against httpx.MockTransport: requests it builds, answers it parses, retries."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import orjson
import pytest

from parlour.client import Backoff, Message, ParlourAPIError, ParlourClient

BASE = "http://parlour.test"
FAST = Backoff(base=0.001, cap=0.002)

USER: dict[str, Any] = {
    "id": "u1",
    "email": "ada@example.com",
    "full_name": "Ada",
    "status": "online",
    "is_admin": False,
    "is_active": True,
    "last_seen_at": None,
}
MESSAGE: dict[str, Any] = {
    "id": "m1",
    "room_id": "r1",
    "author": USER,
    "content": "hi",
    "html": "<p>hi</p>",
    "created_at": "2024-01-01T00:00:00Z",
    "edited_at": None,
    "deleted": False,
    "client_id": "k1",
    "mentions": [],
    "attachments": [],
}
ROOM: dict[str, Any] = {
    "id": "r1",
    "type": "group",
    "name": "Ops",
    "members": [USER],
    "admins": ["u1"],
    "created_at": "2024-01-01T00:00:00Z",
    "last_message": MESSAGE,
    "unread_count": 0,
    "last_read_message_id": None,
}

Handler = Callable[[httpx.Request], httpx.Response]


def json_response(status: int, body: object, **headers: str) -> httpx.Response:
    return httpx.Response(status, content=orjson.dumps(body), headers=headers)


def refuse_connection(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def error_response(status: int, code: str, **headers: str) -> httpx.Response:
    return json_response(status, {"error": {"code": code, "message": code}}, **headers)


class Recorder:
    """Answers requests with a scripted handler and keeps every request for assertions."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.handler: Handler = lambda request: httpx.Response(204)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def client(recorder: Recorder) -> AsyncIterator[ParlourClient]:
    async with ParlourClient(
        BASE, "tok", transport=httpx.MockTransport(recorder), backoff=FAST
    ) as parlour:
        yield parlour


async def test_non_2xx_raises_the_parsed_api_error(
    client: ParlourClient, recorder: Recorder
) -> None:
    recorder.handler = lambda request: error_response(404, "room_not_found")
    with pytest.raises(ParlourAPIError) as caught:
        await client.get_room("nope")
    assert (caught.value.status, caught.value.code) == (404, "room_not_found")


async def test_every_request_carries_the_bearer_token(
    client: ParlourClient, recorder: Recorder
) -> None:
    recorder.handler = lambda request: json_response(200, USER)
    await client.me()
    assert recorder.requests[0].headers["Authorization"] == "Bearer tok"
    assert recorder.requests[0].url.path == "/api/v1/users/me"


async def test_login_stores_the_token_and_drops_the_session_cookie(recorder: Recorder) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/auth/login":
            response = json_response(200, {"token": "fresh", "user": USER, "csrf_token": "x"})
            response.headers["Set-Cookie"] = "parlour_session=abc; Path=/; HttpOnly"
            return response
        return json_response(200, USER)

    recorder.handler = answer
    async with ParlourClient(BASE, transport=httpx.MockTransport(recorder)) as client:
        user = await client.login("ada@example.com", "pw")
        assert "Authorization" not in recorder.requests[0].headers
        assert orjson.loads(recorder.requests[0].content) == {
            "email": "ada@example.com",
            "password": "pw",
        }
        assert user.id == "u1"
        assert client.token == "fresh"
        await client.me()
    later = recorder.requests[1]
    assert later.headers["Authorization"] == "Bearer fresh"
    # Cookie-authenticated writes need CSRF; the SDK must never look like one.
    assert "cookie" not in later.headers


async def test_logout_forgets_the_token_even_if_the_server_refuses(
    client: ParlourClient, recorder: Recorder
) -> None:
    recorder.handler = lambda request: error_response(401, "not_authenticated")
    with pytest.raises(ParlourAPIError):
        await client.logout()
    assert client.token is None


async def test_unset_query_parameters_are_left_out(
    client: ParlourClient, recorder: Recorder
) -> None:
    recorder.handler = lambda request: json_response(200, [MESSAGE])
    messages = await client.list_messages("r1", limit=5)
    assert messages[0].id == "m1"
    assert str(recorder.requests[0].url) == f"{BASE}/api/v1/rooms/r1/messages?limit=5"


async def test_search_messages_sends_every_filter(
    client: ParlourClient, recorder: Recorder
) -> None:
    recorder.handler = lambda request: json_response(200, [])
    await client.search_messages("deploy", room_id="r1", author_id="u1", limit=3, before="m9")
    assert dict(recorder.requests[0].url.params) == {
        "q": "deploy",
        "room_id": "r1",
        "author_id": "u1",
        "limit": "3",
        "before": "m9",
    }


async def test_send_message_body_and_typed_answer(
    client: ParlourClient, recorder: Recorder
) -> None:
    recorder.handler = lambda request: json_response(201, MESSAGE)
    message = await client.send_message("r1", "hi", client_id="k1", attachment_ids=["a1"])
    assert isinstance(message, Message)
    assert message.author.full_name == "Ada"
    assert orjson.loads(recorder.requests[0].content) == {
        "content": "hi",
        "client_id": "k1",
        "attachment_ids": ["a1"],
    }


async def test_send_with_retry_survives_network_errors_and_5xx_with_one_client_id(
    client: ParlourClient, recorder: Recorder
) -> None:
    script: list[Handler] = [
        refuse_connection,
        lambda request: error_response(503, "unavailable"),
        lambda request: error_response(429, "rate_limited", **{"Retry-After": "0"}),
        lambda request: json_response(201, MESSAGE),
    ]
    recorder.handler = lambda request: script.pop(0)(request)
    message = await client.send_with_retry("r1", "hi", "k1")
    assert message.id == "m1"
    bodies = [orjson.loads(request.content) for request in recorder.requests]
    assert len(bodies) == 4
    assert {body["client_id"] for body in bodies} == {"k1"}


async def test_send_with_retry_generates_one_client_id_when_none_given(
    client: ParlourClient, recorder: Recorder
) -> None:
    script: list[Handler] = [
        lambda request: error_response(500, "internal"),
        lambda request: json_response(201, MESSAGE),
    ]
    recorder.handler = lambda request: script.pop(0)(request)
    await client.send_with_retry("r1", "hi")
    ids = {orjson.loads(request.content)["client_id"] for request in recorder.requests}
    assert len(ids) == 1
    assert None not in ids


async def test_send_with_retry_does_not_repeat_a_rejected_send(
    client: ParlourClient, recorder: Recorder
) -> None:
    recorder.handler = lambda request: error_response(422, "content_too_long")
    with pytest.raises(ParlourAPIError) as caught:
        await client.send_with_retry("r1", "x" * 10, "k1")
    assert caught.value.code == "content_too_long"
    assert len(recorder.requests) == 1


async def test_send_with_retry_gives_up_after_its_attempts(
    client: ParlourClient, recorder: Recorder
) -> None:
    recorder.handler = lambda request: error_response(503, "unavailable")
    with pytest.raises(ParlourAPIError):
        await client.send_with_retry("r1", "hi", "k1", attempts=3)
    assert len(recorder.requests) == 3


async def test_room_write_answering_204_falls_back_to_a_fetch(
    client: ParlourClient, recorder: Recorder
) -> None:
    recorder.handler = lambda request: (
        httpx.Response(204) if request.method == "POST" else json_response(200, ROOM)
    )
    room = await client.add_members("r1", ["u2"])
    assert room.id == "r1"
    assert [request.method for request in recorder.requests] == ["POST", "GET"]


async def test_leave_removes_myself(client: ParlourClient, recorder: Recorder) -> None:
    recorder.handler = lambda request: (
        json_response(200, USER) if request.method == "GET" else httpx.Response(204)
    )
    await client.leave("r1")
    assert recorder.requests[-1].method == "DELETE"
    assert recorder.requests[-1].url.path == "/api/v1/rooms/r1/members/u1"


async def test_upload_is_multipart_with_field_file(
    client: ParlourClient, recorder: Recorder
) -> None:
    attachment = {
        "id": "a1",
        "filename": "n.txt",
        "content_type": "text/plain",
        "size": 2,
        "url": "/api/v1/attachments/a1",
    }
    recorder.handler = lambda request: json_response(201, attachment)
    uploaded = await client.upload("n.txt", b"hi", "text/plain")
    assert uploaded.url == "/api/v1/attachments/a1"
    request = recorder.requests[0]
    assert request.headers["Content-Type"].startswith("multipart/form-data")
    assert b'name="file"; filename="n.txt"' in request.content


@pytest.mark.parametrize(
    ("url", "authorized"),
    [
        ("/api/v1/attachments/a1", True),
        (f"{BASE}/api/v1/attachments/a1", True),
        ("http://elsewhere.test/a1", False),
    ],
)
async def test_download_sends_the_token_only_to_this_server(
    client: ParlourClient, recorder: Recorder, url: str, authorized: bool
) -> None:
    recorder.handler = lambda request: httpx.Response(200, content=b"\x00data")
    assert await client.download(url) == b"\x00data"
    assert ("Authorization" in recorder.requests[0].headers) is authorized


async def test_unread_and_profiles_are_typed(client: ParlourClient, recorder: Recorder) -> None:
    recorder.handler = lambda request: (
        json_response(200, {"total": 3, "rooms": {"r1": 3}})
        if request.url.path == "/api/v1/unread"
        else json_response(
            200, [{"user": USER, "status": "away", "last_seen_at": None, "direct_room_id": None}]
        )
    )
    assert (await client.unread()).rooms == {"r1": 3}
    assert (await client.chat_profiles())[0].status == "away"
