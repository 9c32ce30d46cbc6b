"""Transport latency and throughput: ping-pong through an echo process.

    python -m edge_autopilot.transport.latency                  # all kinds, three messages
    python -m edge_autopilot.transport.latency --kinds dds -n 2000

For ``zmq`` and ``dds`` a second process (this module with ``--echo``) subscribes to
``/latency/ping`` and republishes each message on ``/latency/pong`` from its receive thread;
the round trip therefore includes two serializations, two decodes and two process hops, and the
one-way figure is half of it. ``inproc`` has no second process: its figure is publish ->
subscription buffer -> callback on the same thread. Throughput is a burst of ``n`` messages
published back to back, counted as they come back (``delivered`` < 1 means drops: keep-last
queues overflowed).
"""

from __future__ import annotations

import argparse
import copy
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from edge_autopilot.errors import TransportError
from edge_autopilot.msgs import DEFAULT_DISTRO, message_type, ros_type
from edge_autopilot.transport import bus_class, make_bus

PING = "/latency/ping"
PONG = "/latency/pong"
_READY_TIMEOUT_S = 20.0
_REPLY_TIMEOUT_S = 2.0


def sample_messages() -> dict[str, Any]:
    """The three messages the figures are quoted for: a 160x96 RGB frame, odometry, a command."""
    from edge_autopilot.msgs.ackermann_msgs import AckermannDriveStamped
    from edge_autopilot.msgs.nav_msgs import Odometry
    from edge_autopilot.msgs.sensor_msgs import Image

    image = Image(height=96, width=160, encoding="rgb8", step=160 * 3,
                  data=np.random.default_rng(0).integers(0, 255, 160 * 96 * 3, np.uint8)
                  .tobytes())
    image.header.frame_id = "camera_front"
    odom = Odometry(child_frame_id="base_link")
    odom.header.frame_id = "odom"
    cmd = AckermannDriveStamped()
    cmd.header.frame_id = "base_link"
    return {"image_160x96x3": image, "odometry": odom, "ackermann_drive_stamped": cmd}


def _percentiles_us(samples_ns: list[int]) -> tuple[float, float, float]:
    a = np.asarray(samples_ns, dtype=np.float64) / 1e3
    return float(np.percentile(a, 50)), float(np.percentile(a, 99)), float(a.max())


def _inproc(msg: Any, n: int, options: dict[str, Any]) -> dict[str, Any]:
    received_ns: list[int] = []
    with make_bus("inproc", **options) as bus:
        msg_type = type(msg)
        sub = bus.subscribe(PING, msg_type, lambda _m: received_ns.append(time.perf_counter_ns()),
                            queue_size=0)
        pub = bus.publisher(PING, msg_type)
        one_way: list[int] = []
        for _ in range(n):
            t0 = time.perf_counter_ns()
            pub.publish(msg)
            one_way.append(received_ns[-1] - t0)
        t0 = time.perf_counter_ns()
        for _ in range(n):
            pub.publish(msg)
        burst_s = (time.perf_counter_ns() - t0) / 1e9
        delivered = sub.received - n
    p50, p99, worst = _percentiles_us(one_way)
    # publish() returns after delivering to every subscription: its cost is the one-way time
    return {"one_way_p50_us": p50, "one_way_p99_us": p99, "one_way_max_us": worst,
            "rtt_p50_us": None, "rtt_p99_us": None, "publish_p50_us": p50, "publish_p99_us": p99,
            "msgs_per_s": n / burst_s, "delivered": delivered / n}


def start_echo(kind: str, msg_type: type, options: dict[str, Any]) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "edge_autopilot.transport.latency", "--echo", "--kinds", kind,
           "--type", ros_type(msg_type)]
    for key, value in options.items():
        cmd += ["--option", f"{key}={value}"]
    return subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env=os.environ.copy())


def _networked(kind: str, msg: Any, n: int, options: dict[str, Any]) -> dict[str, Any]:
    msg_type = type(msg)
    msg = copy.deepcopy(msg)  # its stamp numbers the pings
    echo = start_echo(kind, msg_type, options)
    try:
        with make_bus(kind, **options) as bus:
            sub = bus.subscribe(PONG, msg_type, queue_size=0)
            pub = bus.publisher(PING, msg_type)
            if not pub.wait_for_subscribers(1, _READY_TIMEOUT_S):
                raise TransportError(f"{kind}: the echo process never subscribed")
            await_first_reply(pub, sub, msg, kind)
            rtt, publish = _round_trips(pub, sub, msg, n)
            rate, delivered = _burst(pub, sub, msg, n)
    finally:
        if echo.stdin:
            echo.stdin.close()  # the echo exits when its stdin closes
        try:
            echo.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            echo.kill()
    p50, p99, worst = _percentiles_us(rtt)
    pub_p50, pub_p99, _ = _percentiles_us(publish)
    return {"one_way_p50_us": p50 / 2, "one_way_p99_us": p99 / 2, "one_way_max_us": worst / 2,
            "rtt_p50_us": p50, "rtt_p99_us": p99, "publish_p50_us": pub_p50,
            "publish_p99_us": pub_p99, "msgs_per_s": rate, "delivered": delivered}


def await_first_reply(pub: Any, sub: Any, msg: Any, kind: str) -> None:
    # The echo's publisher may match us later than its subscriber matched: ping until a reply.
    msg.header.stamp.nanosec = 0
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while time.monotonic() < deadline:
        pub.publish(msg)
        if sub.wait(0.05):
            return
    raise TransportError(f"{kind}: no reply from the echo process")


def _round_trips(pub: Any, sub: Any, msg: Any, n: int) -> tuple[list[int], list[int]]:
    rtt: list[int] = []
    publish: list[int] = []
    for seq in range(1, n + 1):
        msg.header.stamp.nanosec = seq  # late replies to earlier pings are told apart by it
        t0 = time.perf_counter_ns()
        pub.publish(msg)
        publish.append(time.perf_counter_ns() - t0)
        while True:
            if not sub.wait(_REPLY_TIMEOUT_S):
                raise TransportError("echo reply lost during the round-trip test")
            if sub.latest().header.stamp.nanosec == seq:
                break
        rtt.append(time.perf_counter_ns() - t0)
    return rtt, publish


def _burst(pub: Any, sub: Any, msg: Any, n: int) -> tuple[float, float]:
    before = sub.received
    t0_ns = time.monotonic_ns()
    for _ in range(n):
        pub.publish(msg)
    while sub.received - before < n and sub.wait(0.5):
        pass  # stops after 0.5 s of quiet: the rest were dropped
    got = sub.received - before
    if got == 0:
        return 0.0, 0.0
    return got / max(1e-9, (sub.latest_t_ns - t0_ns) / 1e9), got / n


def measure_latency(kind: str, msg: Any, n: int = 1000, **options: Any) -> dict[str, Any]:
    """Latency percentiles (µs) and throughput for ``msg`` over transport ``kind``.

    Keys: ``one_way_p50_us``, ``one_way_p99_us``, ``one_way_max_us``, ``rtt_p50_us``,
    ``rtt_p99_us`` (None for inproc), ``publish_p50_us``, ``publish_p99_us`` (time spent in
    ``publish``: what the sending loop pays), ``msgs_per_s``, ``delivered`` (fraction of the
    burst that arrived), plus ``kind``, ``type``, ``bytes`` and ``n``. ``options`` go to
    ``make_bus`` (``domain_id`` keeps concurrent measurements apart).
    """
    from edge_autopilot.msgs import serialize

    if n < 1:
        raise TransportError(f"n must be >= 1, got {n}")
    bus_class(kind)  # an unknown kind or a missing package fails here, before any echo starts
    result = _inproc(msg, n, options) if kind == "inproc" else _networked(kind, msg, n, options)
    return {"kind": kind, "type": ros_type(type(msg)), "n": n,
            "bytes": len(serialize(msg, options.get("distro", DEFAULT_DISTRO))), **result}


def _echo(kind: str, type_name: str, options: dict[str, Any]) -> None:
    msg_type = message_type(type_name)
    with make_bus(kind, **options) as bus:
        pong = bus.publisher(PONG, msg_type)
        bus.subscribe(PING, msg_type, pong.publish, queue_size=0)
        sys.stdin.read()  # until the parent closes the pipe


def _parse_options(items: Sequence[str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise TransportError(f"--option wants KEY=VALUE, got {item!r}")
        options[key] = int(value) if value.lstrip("-").isdigit() else value
    return options


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m edge_autopilot.transport.latency",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--kinds", default="inproc,zmq,dds")
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                    help="bus option, e.g. domain_id=42 (repeatable)")
    ap.add_argument("--echo", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--type", default="", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    try:
        options = _parse_options(args.option)
        if args.echo:
            _echo(args.kinds, args.type, options)
            return 0
        print(f"{'kind':7} {'message':24} {'bytes':>6} {'1-way p50':>10} {'1-way p99':>10} "
              f"{'rtt p50':>9} {'rtt p99':>9} {'pub p50':>8} {'pub p99':>8} {'msgs/s':>9} "
              f"{'deliv':>6}   (times in µs)")
        for kind in args.kinds.split(","):
            for label, msg in sample_messages().items():
                r = measure_latency(kind, msg, args.n, **options)
                rtt = (f"{r['rtt_p50_us']:9.1f} {r['rtt_p99_us']:9.1f}" if r["rtt_p50_us"]
                       else f"{'-':>9} {'-':>9}")
                print(f"{kind:7} {label:24} {r['bytes']:6d} {r['one_way_p50_us']:10.1f} "
                      f"{r['one_way_p99_us']:10.1f} {rtt} {r['publish_p50_us']:8.1f} "
                      f"{r['publish_p99_us']:8.1f} {r['msgs_per_s']:9.0f} "
                      f"{r['delivered']:6.2f}")
    except TransportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
