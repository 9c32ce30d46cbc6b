"""The nodes' inbox: filled by the transport's own thread, or pumped by the node's thread.

A node bus made with ``own_thread_receives`` has no receive thread; nothing arrives unless the
node waits through its inbox. These tests use real Cyclone DDS and zmq traffic on loopback.
"""

from __future__ import annotations

import os
import threading
import time

import pytest

from edge_autopilot.msgs.rosgraph_msgs import Clock
from edge_autopilot.nodes.common import make_node_bus
from edge_autopilot.nodes.inbox import Inbox, bus_pump
from edge_autopilot.nodes.params import CommonParams
from edge_autopilot.transport import make_bus

DOMAIN = 201 + os.getpid() % 30  # 201..230, apart from the transport tests' ranges
TIMEOUT_S = 5.0
TOPIC = "/clock"


def _clock(sec: int) -> Clock:
    msg = Clock()
    msg.clock.sec = sec
    return msg


def test_inproc_inbox_waits_on_the_publishers_thread():
    with make_bus("inproc", domain_id=DOMAIN) as bus:
        assert bus_pump(bus) is None
        inbox = Inbox()
        bus.subscribe(TOPIC, Clock, inbox.callback(TOPIC))
        pub = bus.publisher(TOPIC, Clock)
        timer = threading.Timer(0.05, pub.publish, args=(_clock(7),))
        timer.start()
        try:
            msg = inbox.pop(TOPIC, TIMEOUT_S)
        finally:
            timer.cancel()
        assert msg is not None and msg.clock.sec == 7
        assert inbox.pop(TOPIC, 0.0) is None


def test_pumped_dds_inbox_receives_only_when_the_node_waits():
    pytest.importorskip("cyclonedds")
    with make_bus("dds", domain_id=DOMAIN, spin_thread=False) as node_bus, \
            make_bus("dds", domain_id=DOMAIN) as sender:
        assert node_bus.needs_spin and not sender.needs_spin
        inbox = Inbox(pump=bus_pump(node_bus))
        node_bus.subscribe(TOPIC, Clock, inbox.callback(TOPIC))
        pub = sender.publisher(TOPIC, Clock)
        assert pub.wait_for_subscribers(1, TIMEOUT_S)
        for sec in (1, 2, 3):
            pub.publish(_clock(sec))
        time.sleep(0.2)
        # no thread of this bus has received anything: the samples wait in Cyclone
        assert inbox.pending(TOPIC) == 0
        first = inbox.pop(TOPIC, TIMEOUT_S)
        assert first is not None and first.clock.sec == 1
        deadline = time.monotonic() + TIMEOUT_S
        while inbox.pending(TOPIC) < 2 and time.monotonic() < deadline:
            inbox.receive()
        assert [m.clock.sec for m in inbox.drain(TOPIC)] == [2, 3]


def test_pumped_wait_times_out_and_idle_receives_meanwhile():
    pytest.importorskip("cyclonedds")
    with make_bus("dds", domain_id=DOMAIN + 1, spin_thread=False) as node_bus, \
            make_bus("dds", domain_id=DOMAIN + 1) as sender:
        inbox = Inbox(pump=bus_pump(node_bus))
        node_bus.subscribe(TOPIC, Clock, inbox.callback(TOPIC))
        node_bus.subscribe("/autopilot/sim/step", callback=inbox.callback("step"))
        t0 = time.monotonic()
        assert inbox.pop("step", 0.05) is None
        assert time.monotonic() - t0 >= 0.05
        pub = sender.publisher(TOPIC, Clock)
        assert pub.wait_for_subscribers(1, TIMEOUT_S)
        pub.publish(_clock(5))
        # a message on another topic neither ends idling early nor is left unreceived
        t0 = time.monotonic()
        deadline = t0 + TIMEOUT_S
        while inbox.pending(TOPIC) == 0 and time.monotonic() < deadline:
            inbox.idle(0.1)
        assert inbox.drain(TOPIC)[0].clock.sec == 5
        assert time.monotonic() - t0 >= 0.1


def test_pumped_zmq_inbox():
    pytest.importorskip("zmq")
    with make_bus("zmq", domain_id=DOMAIN, spin_thread=False) as bus:
        inbox = Inbox(pump=bus_pump(bus))
        bus.subscribe(TOPIC, Clock, inbox.callback(TOPIC))
        pub = bus.publisher(TOPIC, Clock)
        deadline = time.monotonic() + TIMEOUT_S
        msg = None
        while msg is None and time.monotonic() < deadline:
            pub.publish(_clock(9))  # zmq drops what is sent before the subscription joins
            msg = inbox.pop(TOPIC, 0.02)
        assert msg is not None and msg.clock.sec == 9


@pytest.mark.parametrize("transport", ["inproc", "zmq", "dds"])
def test_node_buses_receive_on_the_node_thread(transport):
    pytest.importorskip({"inproc": "json", "zmq": "zmq", "dds": "cyclonedds"}[transport])
    common = CommonParams(transport=transport, domain_id=DOMAIN + 2)
    with make_node_bus(common, "test_node", own_thread_receives=True) as bus:
        # inproc delivers on publish; the network transports wait for the node's pump
        assert bus.needs_spin is (transport != "inproc")
    with make_node_bus(common, "test_node") as bus:
        assert not bus.needs_spin

