"""Query strings are read strictly: a repeated or malformed parameter is 422 `invalid_query`.

Before, `GET /users?limit=&limit=é¶3…&limit=1+` answered 200 (the last value won, and `1 ` read
as 1); a fuzz run found it. Each case here names the parameter in `details.parameter`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.support import Org

API = "/api/v1"


@pytest.fixture
async def http(org: Org, server_url: str) -> AsyncIterator[httpx.AsyncClient]:
    token = org[0].client.token
    assert token is not None
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=server_url, headers=headers, timeout=30) as client:
        yield client


def assert_invalid_query(response: httpx.Response, parameter: str, reason: str) -> None:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_query", error
    assert error["details"] == {"parameter": parameter, "reason": reason}, error
    assert parameter in error["message"]


@pytest.mark.parametrize(
    "query",
    [
        # The fuzz finding, percent-encoded as a client sends it.
        "limit=&limit=%C3%A9%C2%B63%E2%80%A6&limit=1+",
        "limit=1&limit=1",
        "limit=5&limit=2",
    ],
)
async def test_a_repeated_integer_parameter_is_refused(http: httpx.AsyncClient, query: str) -> None:
    assert_invalid_query(await http.get(f"{API}/users?{query}"), "limit", "repeated")


async def test_a_repeated_string_parameter_is_refused(http: httpx.AsyncClient, org: Org) -> None:
    assert_invalid_query(await http.get(f"{API}/users?q=bea&q=cal"), "q", "repeated")
    room = await org[0].client.create_group("Query room", [org[1].user_id])
    sent = await org[0].client.send_message(room.id, "hello")
    answer = await http.get(f"{API}/rooms/{room.id}/messages?before={sent.id}&before={sent.id}")
    assert_invalid_query(answer, "before", "repeated")


@pytest.mark.parametrize(
    "value",
    [
        "",  # empty
        "abc",
        "1+",  # "1 ": Python's int() and pydantic strip the space
        "%201",
        "%2B1",  # "+1"
        "1_000",
        "1.0",
        "0x10",
        "%C2%B2",  # "²", a superscript digit (int() refuses it, isdigit() does not)
        "%D9%A3",  # "٣", an Arabic-Indic digit that int() reads as 3
        "%EF%BC%91",  # U+FF11, a full-width digit that int() reads as 1
    ],
)
async def test_an_integer_not_in_ascii_digits_is_refused(
    http: httpx.AsyncClient, value: str
) -> None:
    assert_invalid_query(await http.get(f"{API}/users?limit={value}"), "limit", "not_an_integer")
    search = await http.get(f"{API}/messages?q=x&limit={value}")
    assert_invalid_query(search, "limit", "not_an_integer")


async def test_query_not_utf8_is_refused_on_any_route(http: httpx.AsyncClient) -> None:
    # Starlette would have read %FF as U+FFFD and searched for that.
    assert_invalid_query(await http.get(f"{API}/users?q=%FF"), "q", "not_utf8")
    assert_invalid_query(await http.get(f"{API}/users?q=ok&%C3=1"), "\ufffd", "not_utf8")
    # A route that declares no query parameter still reads its query as UTF-8.
    assert_invalid_query(await http.get(f"{API}/users/me?x=%E2%82"), "x", "not_utf8")


async def test_well_formed_queries_still_work(http: httpx.AsyncClient, org: Org) -> None:
    everyone = await http.get(f"{API}/users")
    assert everyone.status_code == 200, everyone.text
    assert len(everyone.json()) == 4
    two = await http.get(f"{API}/users?limit=2")
    assert two.status_code == 200, two.text
    assert len(two.json()) == 2
    padded = await http.get(f"{API}/users?limit=002&q=%C3%A9")  # leading zeros; "é" encoded
    assert padded.status_code == 200, padded.text
    # A parameter the route does not read is ignored, repeated or not.
    unknown = await http.get(f"{API}/users?limit=1&utm=a&utm=b")
    assert unknown.status_code == 200, unknown.text
    assert len(unknown.json()) == 1


async def test_a_well_formed_integer_out_of_range_is_the_routes_own_422(
    http: httpx.AsyncClient,
) -> None:
    answer = await http.get(f"{API}/users?limit=0")
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_input"
    assert error["details"]["errors"][0]["loc"] == ["query", "limit"]


async def test_openapi_documents_the_query_rules(server_url: str) -> None:
    async with httpx.AsyncClient(base_url=server_url, timeout=30) as client:
        document = (await client.get("/openapi.json")).json()
    with_query = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            query = [p for p in operation.get("parameters", []) if p["in"] == "query"]
            if not query:
                continue
            with_query += 1
            unprocessable = operation["responses"].get("422")
            assert unprocessable is not None, f"{method} {path} does not document 422"
            assert "invalid_query" in unprocessable["description"]
            for parameter in query:
                schema = parameter["schema"]
                # One value each: no array, and no null (a query string cannot say null).
                assert "anyOf" not in schema, (path, parameter)
                assert schema["type"] in ("string", "integer"), (path, parameter)
    assert with_query >= 4
