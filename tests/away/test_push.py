"""Web Push to people with no open socket (API.md, "Reaching people who are away"), to a local
HTTP server playing the push service: the test holds the subscription's keys as a browser would,
decrypts what arrives (RFC 8291, aes128gcm) and checks the VAPID signature (RFC 8292)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from dataclasses import dataclass
from typing import Any

import http_ece
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from sqlalchemy import select

from parlour.client import ParlourAPIError
from parlour.storage.models import PushSubscription
from tests.away.conftest import Push, PushService
from tests.support import Member, OrgFactory


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Browser:
    """A browser's side of a subscription: its key pair and auth secret."""

    endpoint: str
    key: ec.EllipticCurvePrivateKey
    auth: bytes

    @classmethod
    def make(cls, endpoint: str) -> Browser:
        return cls(endpoint, ec.generate_private_key(ec.SECP256R1()), os.urandom(16))

    @property
    def p256dh(self) -> str:
        return b64(
            self.key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )

    async def subscribe(self, member: Member) -> str:
        return await member.client.subscribe_push(self.endpoint, self.p256dh, b64(self.auth))

    def open(self, push: Push) -> dict[str, Any]:
        plain: bytes = http_ece.decrypt(
            push.body, private_key=self.key, auth_secret=self.auth, version="aes128gcm"
        )
        payload: dict[str, Any] = json.loads(plain)
        return payload


def check_vapid(push: Push, server_key: str, audience: str) -> dict[str, Any]:
    """The push is signed by the server's VAPID key for this push service: the claims."""
    scheme, _, params = push.headers["Authorization"].partition(" ")
    assert scheme == "vapid"
    fields = dict(part.split("=", 1) for part in params.split(","))
    assert fields["k"] == server_key
    header, claims, signature = fields["t"].split(".")
    raw = unb64(signature)
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64(fields["k"]))
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        public.verify(der, f"{header}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:  # pragma: no cover - the assertion below names the failure
        pytest.fail("the VAPID signature does not verify")
    decoded: dict[str, Any] = json.loads(unb64(claims))
    assert json.loads(unb64(header)) == {"typ": "JWT", "alg": "ES256"}
    assert decoded["aud"] == audience
    assert decoded["sub"] == "mailto:ops@parlour.test"
    assert decoded["exp"] > time.time()
    return decoded


async def arrival(service: PushService, endpoint: str) -> Push:
    path = endpoint.split(str(service.port), 1)[1]
    return await asyncio.to_thread(service.for_path, path)


async def test_a_direct_message_pushes_encrypted_and_signed(
    away_orgs: OrgFactory, push_service: PushService
) -> None:
    org = await away_orgs.create(["Ada Sender", "Bea Phone"])
    ada, bea = org[0], org[1]
    browser = Browser.make(push_service.endpoint(f"bea-{bea.user_id}"))
    await browser.subscribe(bea)
    server_key = await bea.client.push_key()
    assert len(unb64(server_key)) == 65
    room = await ada.client.create_direct(bea.user_id)
    sent = await ada.client.send_message(room.id, "Lunch at **noon**?")
    started = time.monotonic()
    push = await arrival(push_service, browser.endpoint)
    assert time.monotonic() - started < 10  # the target is 2 s on a quiet machine (bench)
    assert push.headers["Content-Encoding"] == "aes128gcm"
    assert int(push.headers["TTL"]) > 0
    check_vapid(push, server_key, f"http://127.0.0.1:{push_service.port}")
    assert browser.open(push) == {
        "room_id": room.id,
        "message_id": sent.id,
        "title": "Ada Sender",
        "body": "Lunch at **noon**?",
    }
    # Previews off: the push still comes, without the text.
    await bea.client.update_me(preferences={"message_preview": False})
    await ada.client.send_message(room.id, "a secret")
    quiet = browser.open(await arrival(push_service, browser.endpoint))
    assert (quiet["title"], quiet["body"]) == ("Ada Sender", "")


async def test_no_push_while_connected_and_410_drops_the_subscription(
    away_orgs: OrgFactory, push_service: PushService
) -> None:
    org = await away_orgs.create(["Ada Sender", "Bea Connected", "Cal Dropped", "Dee Away"])
    ada, bea, cal, dee = org[0], org[1], org[2], org[3]
    on_bea = Browser.make(push_service.endpoint(f"bea-{bea.user_id}"))
    on_cal = Browser.make(push_service.gone_endpoint(f"cal-{cal.user_id}"))
    on_dee = Browser.make(push_service.endpoint(f"dee-{dee.user_id}"))
    await on_bea.subscribe(bea)
    cal_subscription = await on_cal.subscribe(cal)
    await on_dee.subscribe(dee)
    group = await ada.client.create_group("Pushy", [bea.user_id, cal.user_id, dee.user_id])
    async with bea.client.events() as stream:
        await stream.wait_for(lambda e: e.type == "hello")
        await ada.client.send_message(group.id, "first")
        await arrival(push_service, on_cal.endpoint)  # answered 410
        await arrival(push_service, on_dee.endpoint)
        await ada.client.send_message(group.id, "second")
        # Dee's second push comes after the pass that dropped Cal's subscription.
        assert browser_text(on_dee, await arrival(push_service, on_dee.endpoint)) == "second"
    services = away_orgs.services
    assert services is not None
    async with services.db.read_session() as session:
        left = set(
            await session.scalars(
                select(PushSubscription.id).where(PushSubscription.user_id == cal.user_id)
            )
        )
    assert cal_subscription not in left
    with pytest.raises(ParlourAPIError) as gone:
        await cal.client.unsubscribe_push(cal_subscription)
    assert gone.value.status == 404
    # Bea had a socket open the whole time: nothing was posted to her endpoint.
    assert all(not p.path.startswith(f"/push/bea-{bea.user_id}") for p in pending(push_service))


def browser_text(browser: Browser, push: Push) -> str:
    return str(browser.open(push)["body"])


def pending(service: PushService) -> list[Push]:
    found = []
    while not service.received.empty():
        found.append(service.received.get_nowait())
    for push in found:
        service.received.put(push)
    return found


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://10.0.0.1/push",
        "https://192.168.1.20/push",
        "https://169.254.169.254/latest",
        "https://[fd00::1]/push",
        "https://[::ffff:10.1.2.3]/push",
        "http://127.0.0.2:9/push",  # loopback, but not in the allowed network
        "ftp://127.0.0.1/push",
    ],
)
async def test_an_endpoint_the_guard_refuses_is_422_and_kept_nowhere(
    away_orgs: OrgFactory, endpoint: str
) -> None:
    org = await away_orgs.create(["Ada Guarded"])
    browser = Browser.make(endpoint)
    with pytest.raises(ParlourAPIError) as refused:
        await browser.subscribe(org[0])
    assert (refused.value.status, refused.value.code) == (422, "invalid_endpoint")
    services = away_orgs.services
    assert services is not None
    async with services.db.read_session() as session:
        kept = await session.scalar(
            select(PushSubscription.id).where(PushSubscription.user_id == org[0].user_id)
        )
    assert kept is None


async def test_bad_keys_are_422_and_unsubscribing_is_mine_only(
    away_orgs: OrgFactory, push_service: PushService
) -> None:
    org = await away_orgs.create(["Ada Keys", "Bea Other"])
    ada, bea = org[0], org[1]
    endpoint = push_service.endpoint(f"keys-{ada.user_id}")
    for p256dh, auth in (("AAAA", b64(os.urandom(16))), (Browser.make("x").p256dh, "AAAA")):
        with pytest.raises(ParlourAPIError) as bad:
            await ada.client.subscribe_push(endpoint, p256dh, auth)
        assert (bad.value.status, bad.value.code) == (422, "invalid_keys")
    subscription = await Browser.make(endpoint).subscribe(ada)
    with pytest.raises(ParlourAPIError) as not_hers:
        await bea.client.unsubscribe_push(subscription)
    assert not_hers.value.status == 404
    await ada.client.unsubscribe_push(subscription)
