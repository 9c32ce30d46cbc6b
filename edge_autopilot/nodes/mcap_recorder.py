"""The recorder as a node: every topic it is given (default: all the project's), written to a
rosbag2 MCAP file as ``ros2 bag record`` would, until it is stopped (SIGINT/SIGTERM).

Log times are the simulator's clock (``/clock``) with ``use_sim_time``, else the system clock,
as ros2 bag does. The file gets its final name only when the recorder stops cleanly, so a
killed recorder leaves no truncated file under that name. A recording made here carries no
scenario, so ``edge-autopilot replay`` needs one made by ``run --record``; Foxglove and ros2 bag
open both.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from edge_autopilot.errors import ConfigError
from edge_autopilot.msgs import convert
from edge_autopilot.msgs.rosgraph_msgs import Clock
from edge_autopilot.nodes.common import StopFlag, make_node_bus, node_params, node_parser, run_main
from edge_autopilot.nodes.params import RecorderParams

NODE_NAME = "mcap_recorder"


def recorded_topics(names: list[str]) -> dict[str, type]:
    """Topic -> message type; every known topic when ``names`` is empty."""
    from edge_autopilot.transport.topics import topic_table

    table = {name: entry[0] for name, entry in topic_table().items()}
    if not names:
        return table
    unknown = [n for n in names if n not in table]
    if unknown:
        raise ConfigError(f"{NODE_NAME}: unknown topic(s) {', '.join(unknown)}; known: "
                          f"{', '.join(sorted(table))}")
    return {n: table[n] for n in names}


class McapRecorderNode:
    def __init__(self, bus: Any, params: RecorderParams, distro: str,
                 use_sim_time: bool) -> None:
        from edge_autopilot.record.mcap_writer import Rosbag2McapWriter

        self.writer = Rosbag2McapWriter(params.output, distro)
        self.use_sim_time = use_sim_time
        self._sim_ns = 0
        self._lock = threading.Lock()  # one transport thread or several: one writer
        self.topics = recorded_topics(list(params.topics))
        for topic, msg_type in self.topics.items():
            self.writer.add_topic(topic, msg_type)
            bus.subscribe(topic, msg_type, self._writer_for(topic))
        if use_sim_time and "/clock" not in self.topics:
            bus.subscribe("/clock", Clock, self._on_clock)

    def _on_clock(self, msg: Clock) -> None:
        self._sim_ns = max(self._sim_ns, convert.time_to_ns(msg.clock))

    def _writer_for(self, topic: str) -> Any:
        def write(msg: Any) -> None:
            if topic == "/clock":
                self._on_clock(msg)
            t_ns = self._sim_ns if self.use_sim_time else time.time_ns()
            with self._lock:
                self.writer.write(topic, msg, t_ns)

        return write

    def close(self) -> None:
        with self._lock:
            path = self.writer.close()
        print(f"recorded {self.writer.message_count} messages: {path}", file=sys.stderr)


def _main(argv: Sequence[str] | None) -> int:
    ap = node_parser("mcap_recorder", "Record the project's topics to a rosbag2 MCAP file.")
    ap.add_argument("--output", metavar="FILE.mcap", help="where to write (default run.mcap)")
    args = ap.parse_args(argv)
    params, common = node_params(RecorderParams, NODE_NAME, args, {"output": args.output})
    stop = StopFlag()
    with make_node_bus(common, NODE_NAME) as bus:
        node = McapRecorderNode(bus, params, common.distro, common.use_sim_time)
        try:
            stop.event.wait()
        finally:
            node.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
