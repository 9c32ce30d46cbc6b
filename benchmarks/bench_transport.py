"""Transport cost per message: a 160x96x3 Image, an Odometry and an AckermannDriveStamped over
inproc, zmq and dds.

- inproc: ``publish`` -> every subscription buffer, on the publishing thread (what the loop
  pays to publish its command in-process).
- zmq, dds: a round trip through an echo process (edge_autopilot.transport.latency --echo):
  two serializations, two decodes, two process hops; one way is about half.

Run: python -m pytest benchmarks/bench_transport.py --benchmark-only
     python -m edge_autopilot.transport.latency        (the same figures as a table, plus
                                                         publish cost and burst throughput)

Budget: the command's publish must stay well inside the cycle's slack; a round trip of a small
message under 2 ms at the median on a 2-core CPU (the supervisor's reaction is two periods).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from edge_autopilot.transport import make_bus
from edge_autopilot.transport.latency import (
    PING,
    PONG,
    await_first_reply,
    sample_messages,
    start_echo,
)

MESSAGES = sample_messages()
ROUNDS = 500
RTT_BUDGET_NS = 2_000_000
DOMAIN = 150 + os.getpid() % 60


@pytest.mark.parametrize("label", list(MESSAGES))
def test_inproc_publish(benchmark: Any, label: str) -> None:
    msg = MESSAGES[label]
    with make_bus("inproc", domain_id=1_000_000 + os.getpid()) as bus:
        sub = bus.subscribe(PING, type(msg))
        pub = bus.publisher(PING, type(msg))
        benchmark.pedantic(pub.publish, (msg,), rounds=ROUNDS, iterations=10)
        assert sub.latest() is msg


@pytest.fixture(scope="module", params=[(k, m) for k in ("zmq", "dds") for m in MESSAGES],
                ids=lambda p: f"{p[0]}-{p[1]}")
def echo_link(request: Any) -> Iterator[tuple[Any, Any, Any]]:
    kind, label = request.param
    msg = MESSAGES[label]
    options = {"domain_id": DOMAIN}
    echo = start_echo(kind, type(msg), options)
    try:
        with make_bus(kind, **options) as bus:
            sub = bus.subscribe(PONG, type(msg), queue_size=0)
            pub = bus.publisher(PING, type(msg))
            assert pub.wait_for_subscribers(1, 20.0)
            await_first_reply(pub, sub, msg, kind)
            yield pub, sub, msg
    finally:
        if echo.stdin:
            echo.stdin.close()
        echo.wait(timeout=10.0)


def test_round_trip(benchmark: Any, echo_link: tuple[Any, Any, Any]) -> None:
    pub, sub, msg = echo_link
    seq = iter(range(1, 10**9))

    def round_trip() -> None:
        n = next(seq)
        msg.header.stamp.nanosec = n
        pub.publish(msg)
        while sub.wait(2.0):
            if sub.latest().header.stamp.nanosec == n:
                return
        raise AssertionError("echo reply lost")

    benchmark.pedantic(round_trip, rounds=ROUNDS, iterations=1, warmup_rounds=20)
    if msg.__class__.__name__ != "Image":
        assert benchmark.stats.stats.median * 1e9 < RTT_BUDGET_NS
