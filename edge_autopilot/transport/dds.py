"""Cyclone DDS transport speaking ROS 2's wire conventions, without ROS 2 installed.

A ROS 2 node on rmw_cyclonedds sees these endpoints as its own kind: topic ``/a/b`` is DDS
topic ``rt/a/b``, type ``pkg/msg/Name`` is ``pkg::msg::dds_::Name_`` (final, keyless), data is
XCDR1 with encapsulation ``00 01 00 00``, sensor topics best-effort keep-last 5, the others
reliable keep-last 10, all volatile.

Bytes on the wire: the codec's ``serialize`` output, zero-padded to a multiple of 4 exactly as
rmw_cyclonedds pads its serdata (RTPS payloads are 4-byte aligned; the decoder skips up to 3
trailing bytes). They are handed to Cyclone through the same C entry point that
cyclonedds-python's ``DataWriter.write`` uses after *its* serializer (``ddspy_write``), and
taken raw on the reader side (``ddspy_take``), so no per-field Python conversion happens and we
decode (and count) every sample ourselves.

What reaches the counters: Cyclone validates incoming CDR against the reader's type before
delivery, so structurally broken samples are dropped inside Cyclone and are not counted here
(they appear only in a Cyclone trace as "malformed packet"). Samples that are valid CDR but not
a valid message for us (an unknown encapsulation, a string that is not UTF-8, too many trailing
bytes) are counted as malformed. Cyclone matches by type *structure*, so a writer of a
same-shaped type under another name can match; its samples are counted as wrong type.

Configuration: unless ``CYCLONEDDS_URI`` is set, every domain this process joins gets the
shipped loopback configuration (cyclonedds_loopback.xml), passed to Cyclone when the domain is
created, so nothing is sent to any interface but 127.0.0.1.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from importlib import resources
from typing import Any

from cyclonedds._clayer import ddspy_take, ddspy_write
from cyclonedds.core import (
    DDSException,
    Entity,
    GuardCondition,
    InstanceState,
    Policy,
    Qos,
    ReadCondition,
    SampleState,
    ViewState,
    WaitSet,
)
from cyclonedds.domain import Domain, DomainParticipant
from cyclonedds.pub import DataWriter
from cyclonedds.sub import DataReader
from cyclonedds.topic import Topic
from cyclonedds.util import duration

from edge_autopilot.errors import TransportError
from edge_autopilot.msgs import DEFAULT_DISTRO, ros_type, serialize
from edge_autopilot.transport.bus import Bus
from edge_autopilot.transport.dds_types import dds_name, idl_type
from edge_autopilot.transport.topics import QoS, dds_topic_name

MAX_DOMAIN_ID = 232  # RTPS port mapping: 7400 + 250 * domain_id must stay below 65536
_ANY_STATE = SampleState.Any | ViewState.Any | InstanceState.Any
_TAKE_BATCH = 64
_PAD = (b"", b"\x00\x00\x00", b"\x00\x00", b"\x00")
_JOIN_TIMEOUT_S = 2.0
_MAX_KNOWN_WRITERS = 4096

_log = logging.getLogger(__name__)


def loopback_config() -> str:
    """The shipped Cyclone DDS XML that keeps all traffic on 127.0.0.1."""
    return resources.files(__package__).joinpath("cyclonedds_loopback.xml").read_text("utf-8")


def with_tracing(config_xml: str, trace_file: str, verbosity: str = "fine") -> str:
    """``config_xml`` plus a Cyclone trace to ``trace_file``.

    "fine" records the configuration, the interfaces chosen, the peers probed and every
    participant discovered with the addresses it advertises: enough to see why nodes do or do
    not find each other, and to prove where traffic goes.
    """
    tracing = (f"<Tracing><Verbosity>{verbosity}</Verbosity>"
               f"<OutputFile>{trace_file}</OutputFile></Tracing>")
    if "</Domain>" not in config_xml:
        raise TransportError("the Cyclone DDS configuration has no <Domain> element to trace")
    return config_xml.replace("</Domain>", tracing + "</Domain>", 1)


def dds_qos(qos: QoS) -> Qos:
    reliability = (Policy.Reliability.Reliable(max_blocking_time=duration(milliseconds=0))
                   if qos.reliable else Policy.Reliability.BestEffort)
    return Qos(reliability, Policy.History.KeepLast(qos.depth), Policy.Durability.Volatile,
               Policy.DataRepresentation(use_cdrv0_representation=True))


class _DomainRef:
    """A Cyclone domain created by this process with our configuration, shared by its buses."""

    def __init__(self, domain: Domain | None, source: str) -> None:
        self.domain = domain
        self.source = source
        self.users = 0


_DOMAINS: dict[int, _DomainRef] = {}
_DOMAINS_LOCK = threading.Lock()


def _acquire_domain(domain_id: int, config: str | None, trace_file: str | None) -> _DomainRef:
    """Create (or reuse) the process's domain ``domain_id`` with the configuration asked for."""
    if not 0 <= domain_id <= MAX_DOMAIN_ID:
        raise TransportError(f"DDS domain_id must be 0..{MAX_DOMAIN_ID}, got {domain_id}")
    env_uri = os.environ.get("CYCLONEDDS_URI", "").strip()
    if config is None and env_uri and trace_file is not None:
        raise TransportError("trace_file works with the shipped or an explicit config; "
                             "CYCLONEDDS_URI is set, so add <Tracing> to that file instead")
    if config is None and env_uri:
        xml, source = None, f"CYCLONEDDS_URI={env_uri}"
    elif config is None:
        xml, source = loopback_config(), "shipped loopback config (cyclonedds_loopback.xml)"
    else:
        xml, source = config, "explicit config"
    if xml is not None and trace_file is not None:
        xml = with_tracing(xml, trace_file)
    with _DOMAINS_LOCK:
        ref = _DOMAINS.get(domain_id)
        if ref is None:
            domain = None
            if xml is not None:
                try:
                    domain = Domain(domain_id, xml)
                except DDSException as e:
                    raise TransportError(
                        f"Cyclone DDS rejected the configuration for domain {domain_id} "
                        f"({source}), or the domain was already opened in this process "
                        f"outside edge_autopilot: {e}") from None
            ref = _DOMAINS[domain_id] = _DomainRef(domain, source)
        elif ref.source != source:
            raise TransportError(f"DDS domain {domain_id} is already open in this process with "
                                 f"{ref.source}; cannot also open it with {source}")
        ref.users += 1
        return ref


def _release_domain(domain_id: int) -> None:
    with _DOMAINS_LOCK:
        ref = _DOMAINS[domain_id]
        ref.users -= 1
        if ref.users == 0:
            del _DOMAINS[domain_id]
            if ref.domain is not None:
                _delete(ref.domain)


def _delete(entity: Entity) -> None:
    """Delete a Cyclone entity now (children included) and keep Python from deleting it again."""
    Entity._entities.pop(entity._ref, None)
    entity._delete(entity._ref)


class DdsBus(Bus):
    kind = "dds"

    def __init__(self, distro: str = DEFAULT_DISTRO, *, domain_id: int = 0,
                 config: str | None = None, trace_file: str | None = None,
                 spin_thread: bool = True) -> None:
        """``config``: Cyclone XML text or a ``file://`` URI; default: CYCLONEDDS_URI if set,
        else the shipped loopback file. ``trace_file``: write a Cyclone discovery trace there
        (see ``with_tracing``)."""
        super().__init__(distro)
        self.domain_id = domain_id
        self._domain = _acquire_domain(domain_id, config, trace_file)
        self.config_source = self._domain.source
        try:
            self._participant = DomainParticipant(domain_id)
        except DDSException as e:
            _release_domain(domain_id)
            raise TransportError(f"cannot join DDS domain {domain_id} "
                                 f"({self.config_source}): {e}") from None
        self._topics: dict[str, Topic[Any]] = {}
        self._writers: list[DataWriter[Any]] = []
        # (ROS topic, reader); replaced, not mutated, so the receive thread reads it unlocked.
        # Holding the readers also keeps them alive: cyclonedds deletes an entity whose
        # Python object is collected.
        self._readers: list[tuple[str, DataReader[Any]]] = []
        self._writer_types: dict[int, str] = {}  # publication handle -> ROS type it carries
        self._guard = GuardCondition(self._participant)
        self._waitset = WaitSet(self._participant)
        self._waitset.attach(self._guard)
        self._conditions: list[ReadCondition] = []
        self._dds_lock = threading.Lock()  # entity creation vs. close
        self._thread: threading.Thread | None = None
        if spin_thread:
            self._thread = threading.Thread(target=self._run, name=f"dds-bus-{domain_id}",
                                            daemon=True)
            self._thread.start()

    # --- Bus hooks ---

    def _topic(self, topic: str, msg_type: type) -> Topic[Any]:
        found = self._topics.get(topic)
        if found is None:
            data_type = idl_type(ros_type(msg_type), self.distro)
            found = self._topics[topic] = Topic(self._participant, dds_topic_name(topic),
                                                data_type)
        return found

    def _open_writer(self, topic: str, msg_type: type, qos: QoS
                     ) -> tuple[Callable[[Any], None], Callable[[], int]]:
        with self._dds_lock:
            writer = DataWriter(self._participant, self._topic(topic, msg_type),
                                qos=dds_qos(qos))
            self._writers.append(writer)
        ref, distro = writer._ref, self.distro

        def send(msg: Any) -> None:
            if self._closed:
                raise TransportError("dds bus is closed")
            data = serialize(msg, distro)
            rc = ddspy_write(ref, data + _PAD[len(data) & 3])
            if rc < 0:
                name = DDSException.error_message_mapping.get(rc, (f"error {rc}",))[0]
                raise TransportError(f"DDS write on {topic} failed ({name})")

        def count() -> int:
            return len(writer.get_matched_subscriptions())

        return send, count

    def _open_reader(self, topic: str, msg_type: type, qos: QoS) -> None:
        with self._dds_lock:
            reader = DataReader(self._participant, self._topic(topic, msg_type),
                                qos=dds_qos(qos))
            condition = ReadCondition(reader, _ANY_STATE)
            self._conditions.append(condition)
            self._readers = [*self._readers, (topic, reader)]
            self._waitset.attach(condition)

    @property
    def needs_spin(self) -> bool:
        return self._thread is None

    def spin_once(self, timeout_s: float = 0.0) -> int:
        if self._thread is not None:
            raise TransportError("this dds bus receives on its own thread; spin_once is for "
                                 "buses made with spin_thread=False")
        if self._closed:
            return 0
        timeout_ns = max(0, int(timeout_s * 1e9))
        if timeout_ns > 0:
            self._waitset.wait(timeout_ns)
        return self._take_all_readers()

    def _shutdown(self) -> None:
        if self._thread is not None:
            self._guard.set(True)
            self._thread.join(timeout=_JOIN_TIMEOUT_S)
            if self._thread.is_alive():
                # Stuck in a callback: deleting the readers under it could crash the process.
                _log.warning("dds bus: receive thread still busy after %.0f s; participant "
                             "left open", _JOIN_TIMEOUT_S)
                return
        with self._dds_lock:
            # The participant's deletion takes its children along; forget their Python
            # objects so that collecting them later does not delete recycled handles.
            for e in (*self._conditions, self._waitset, self._guard, *self._topics.values(),
                      *self._writers, *(r for _, r in self._readers)):
                Entity._entities.pop(e._ref, None)
            _delete(self._participant)
        _release_domain(self.domain_id)

    # --- receive side ---

    def _run(self) -> None:
        self._receive_forever(self._wait_and_take)

    def _wait_and_take(self) -> None:
        self._waitset.wait(duration(seconds=1))
        if not self._closed:
            self._take_all_readers()

    def _take_all_readers(self) -> int:
        handled = 0
        for topic, reader in self._readers:
            while True:
                batch = ddspy_take(reader._ref, _ANY_STATE, _TAKE_BATCH)
                if isinstance(batch, int) or not batch:
                    break
                t_ns = time.monotonic_ns()
                for data, info in batch:
                    if not info.valid_data:
                        continue  # a writer left or disposed: no data to deliver
                    handled += 1
                    type_name = self._writer_type(topic, reader, info.publication_handle)
                    self._dispatch_bytes(topic, type_name, data, t_ns)
                if len(batch) < _TAKE_BATCH:
                    break
        return handled

    def _writer_type(self, topic: str, reader: DataReader[Any], handle: int) -> str:
        """The ROS type a matched writer carries, looked up once per writer.

        Cyclone matches assignable types regardless of their names; ROS 2 peers do not, so a
        sample from a differently named type is not ours, whatever its shape.
        """
        known = self._writer_types.get(handle)
        if known is None:
            if len(self._writer_types) >= _MAX_KNOWN_WRITERS:
                self._writer_types.clear()  # writers come and go; forget the departed
            expected = self._subscriptions(topic)[0].type_name
            endpoint = reader.get_matched_publication_data(handle)
            if endpoint is None or endpoint.type_name == dds_name(expected):
                known = expected  # left already; Cyclone matched it, decoding will judge
            else:
                known = endpoint.type_name
            self._writer_types[handle] = known
        return known
