"""The flood-control pieces in-process, on a FakeClock: buckets refill, forget, and quotas count."""

from __future__ import annotations

from parlour.api.throttle import KeyedBuckets, SocketQuota, TokenBucket
from parlour.clock import FakeClock


def test_a_bucket_allows_its_burst_then_names_the_wait() -> None:
    clock = FakeClock()
    bucket = TokenBucket(0.5, 3, clock.monotonic())
    assert [bucket.take(clock.monotonic()) for _ in range(4)] == [True, True, True, False]
    assert bucket.wait() == 2  # one token at 0.5/s
    clock.advance(2)
    assert bucket.take(clock.monotonic())
    assert not bucket.take(clock.monotonic())


def test_keyed_buckets_are_per_key_and_forgotten_once_full() -> None:
    clock = FakeClock()
    buckets = KeyedBuckets(rate=1.0, capacity=2)
    assert buckets.take("ann", clock.monotonic()) is None
    assert buckets.take("ann", clock.monotonic()) is None
    assert buckets.take("ann", clock.monotonic()) == 1
    assert buckets.take("bob", clock.monotonic()) is None  # someone else's bucket
    for n in range(2000):
        buckets.take(f"user-{n}", clock.monotonic())
        clock.advance(0.01)
    # A bucket refilled to full is the same as a new one: only the last second's senders are
    # kept (a hundred here), and the map never passes its sweep threshold.
    assert len(buckets) <= 1024


def test_socket_quota_counts_per_user_and_releases() -> None:
    quota = SocketQuota(per_user=2)
    assert quota.acquire("ann")
    assert quota.acquire("ann")
    assert not quota.acquire("ann")
    assert quota.acquire("bob")
    quota.release("ann")
    assert quota.acquire("ann")
    quota.release("ann")
    quota.release("ann")
    quota.release("bob")
    assert quota.count("ann") == 0
    assert quota.count("bob") == 0
