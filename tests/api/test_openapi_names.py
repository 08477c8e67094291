"""The OpenAPI document's rule for names is the server's rule, character for character.

Names are checked after trimming and must show something (domain/visible.py): a document that
still called a name of spaces and control characters valid made the schema fuzz fail whenever it
happened to generate one (`"\u2009\u001e\t"` for PATCH /users/me). Here each sample is judged
by the served document (with the validator schemathesis uses: a pattern it cannot compile is a
broken document, as a lone-surrogate range once was) and by the server, and they must agree.
"""

from __future__ import annotations

import httpx
import jsonschema_rs
import pytest

from tests.support import Org

SAMPLES = [
    "Bea",
    "  Bea  ",
    "\u200b",  # zero-width space only
    " \u200b\u2060 ",  # zero-width space and word joiner, in spaces
    "\u2009\u001e\t\u2000\u2007\u001c\u001d\u2008\u2004\u2009\u000e\u2009",  # the fuzz's find
    "\ufeff\u00ad",  # BOM, soft hyphen
    "\u3164",  # Hangul filler
    "\u200bB\u200b",  # invisible around a letter: it shows "B"
    "\U0001f600",  # an emoji
]


@pytest.mark.parametrize("name", SAMPLES)
async def test_the_document_and_the_server_agree_on_names(
    org: Org, server_url: str, name: str
) -> None:
    token = org[1].client.token
    async with httpx.AsyncClient(
        base_url=server_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as http:
        document = (await http.get("/openapi.json")).json()
        schema = document["components"]["schemas"]["UpdateMeIn"]["properties"]["full_name"]
        answer = await http.patch("/api/v1/users/me", json={"full_name": name})
    assert answer.status_code in (200, 422), answer.text
    server_accepts = answer.status_code == 200
    document_accepts = jsonschema_rs.validator_for(schema).is_valid(name)
    assert document_accepts == server_accepts, (name, answer.text)
