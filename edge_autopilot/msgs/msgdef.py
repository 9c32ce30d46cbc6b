"""The .msg files shipped in ``definitions/``: loading, parsing, and rosbag2 schema text.

The .msg files are the one source of truth for every layout: the CDR codec, the DDS type
builder and ``msg_definition`` all read the parsed ``MsgSpec``. Layouts that differ between
distros live in ``definitions/<distro>/<pkg>/msg/<Name>.msg`` and take precedence over the
common ``definitions/<pkg>/msg/<Name>.msg``.

Supported .msg syntax (what ROS 2 interface packages use for plain messages): comments,
constants ``TYPE NAME=VALUE``, fields ``TYPE name [default]``, fixed arrays ``T[N]`` and
unbounded sequences ``T[]``. Bounded strings and sequences (``string<=N``, ``T[<=N]``) are
rejected: no type here needs them.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from functools import cache
from pathlib import Path
from typing import Literal

from edge_autopilot.errors import MessageError

Distro = Literal["humble", "jazzy"]
DISTROS: tuple[Distro, ...] = ("humble", "jazzy")
DEFAULT_DISTRO: Distro = "humble"

DEFINITIONS_DIR = Path(__file__).resolve().parent / "definitions"

# Primitive type -> (struct code, size in bytes). CDR aligns each primitive to its own size.
# byte and char are one octet each in ROS 2 (rosidl maps char to uint8).
PRIMITIVES: dict[str, tuple[str, int]] = {
    "bool": ("?", 1),
    "byte": ("B", 1),
    "char": ("B", 1),
    "int8": ("b", 1),
    "uint8": ("B", 1),
    "int16": ("h", 2),
    "uint16": ("H", 2),
    "int32": ("i", 4),
    "uint32": ("I", 4),
    "int64": ("q", 8),
    "uint64": ("Q", 8),
    "float32": ("f", 4),
    "float64": ("d", 8),
}
OCTET_TYPES = frozenset({"byte", "char", "uint8"})
"""Element types whose arrays/sequences are carried as ``bytes`` (no per-element Python loop)."""

_Fail = Callable[[str], MessageError]  # builds the error for the line being parsed
_SEPARATOR = "=" * 80
_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_TYPE_RE = re.compile(
    r"^(?:(?P<pkg>[a-z][a-z0-9_]*)/)?(?P<name>[A-Za-z][A-Za-z0-9_]*)"
    r"(?P<array>\[(?P<len>[^\]]*)\])?$"
)


class FieldKind(Enum):
    """What one element of a field is on the wire."""

    PRIMITIVE = "primitive"  # fixed-size number or bool (see PRIMITIVES)
    STRING = "string"  # uint32 length incl. NUL, UTF-8 bytes, NUL
    MESSAGE = "message"  # a nested message, laid out field by field (no header, no padding)


class Container(Enum):
    """How many elements a field has."""

    SINGLE = "single"
    ARRAY = "array"  # fixed length, no count on the wire
    SEQUENCE = "sequence"  # uint32 count, then the elements


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of a message, as the codec and the DDS type builder see it.

    ``element_type`` is the primitive name (``"float32"``), ``"string"``, or the full ROS type
    name of a nested message (``"std_msgs/msg/Header"``). ``length`` is the element count of a
    fixed array and 0 otherwise. ``default`` is the default value the .msg declares, if any.
    """

    name: str
    kind: FieldKind
    element_type: str
    container: Container = Container.SINGLE
    length: int = 0
    default: float | int | bool | None = None

    @property
    def msg_type_text(self) -> str:
        """The field's type as rosbag2 schema text writes it (``geometry_msgs/Pose``)."""
        base = self.element_type
        if self.kind is FieldKind.MESSAGE:
            pkg, _, name = base.split("/")
            base = f"{pkg}/{name}"
        if self.container is Container.ARRAY:
            return f"{base}[{self.length}]"
        if self.container is Container.SEQUENCE:
            return f"{base}[]"
        return base


@dataclass(frozen=True, slots=True)
class ConstantSpec:
    """A constant declared in a .msg (``uint8 ULTRASOUND=0``): not on the wire."""

    name: str
    type_name: str
    value: int | float | bool | str


@dataclass(frozen=True, slots=True)
class MsgSpec:
    """A parsed .msg file: its ROS type name, constants and fields in wire order."""

    ros_type: str
    constants: tuple[ConstantSpec, ...]
    fields: tuple[FieldSpec, ...]
    path: Path

    def dependencies(self) -> tuple[str, ...]:
        """Nested message types this type uses directly, in field order, each once."""
        seen: dict[str, None] = {}
        for f in self.fields:
            if f.kind is FieldKind.MESSAGE:
                seen.setdefault(f.element_type, None)
        return tuple(seen)


def check_distro(distro: str) -> Distro:
    if distro not in DISTROS:
        raise MessageError(f"unknown ROS 2 distro {distro!r}; supported: {', '.join(DISTROS)}")
    return distro  # type: ignore[return-value]


def split_ros_type(ros_type: str) -> tuple[str, str]:
    """``"sensor_msgs/msg/Range"`` -> ``("sensor_msgs", "Range")``."""
    parts = ros_type.split("/")
    if len(parts) != 3 or parts[1] != "msg" or not all(_NAME_RE.match(p) for p in parts):
        raise MessageError(f"not a ROS 2 message type name (pkg/msg/Name): {ros_type!r}")
    return parts[0], parts[2]


def msg_path(ros_type: str, distro: Distro) -> Path:
    """The .msg file that defines ``ros_type`` in ``distro``."""
    pkg, name = split_ros_type(ros_type)
    for path in (
        DEFINITIONS_DIR / distro / pkg / "msg" / f"{name}.msg",
        DEFINITIONS_DIR / pkg / "msg" / f"{name}.msg",
    ):
        if path.is_file():
            return path
    raise MessageError(f"no .msg definition for {ros_type} ({distro}) under {DEFINITIONS_DIR}")


@cache
def load_spec(ros_type: str, distro: Distro) -> MsgSpec:
    """Parse the .msg of ``ros_type`` for ``distro`` (cached: files are read once)."""
    check_distro(distro)
    path = msg_path(ros_type, distro)
    return parse_msg(path.read_text(encoding="utf-8"), ros_type, path)


def parse_msg(text: str, ros_type: str, path: Path | None = None) -> MsgSpec:
    """Parse .msg text for ``ros_type`` (whose package resolves unqualified type names)."""
    pkg, _ = split_ros_type(ros_type)
    where = str(path) if path is not None else ros_type
    constants: list[ConstantSpec] = []
    fields: list[FieldSpec] = []
    names: set[str] = set()
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue

        def fail(why: str, lineno: int = lineno, raw: str = raw) -> MessageError:
            return MessageError(f"{where}:{lineno}: {why}: {raw.strip()!r}")

        type_text, _, rest = line.partition(" ")
        rest = rest.strip()
        if not rest:
            raise fail("expected 'TYPE name'")
        if "=" in rest and not rest.startswith("="):
            name, _, value_text = (s.strip() for s in rest.partition("="))
            constants.append(_parse_constant(type_text, name, value_text, fail))
            names.add(name)
            continue
        name, _, default_text = rest.partition(" ")
        if not _NAME_RE.match(name) or name in names or keyword.iskeyword(name):
            raise fail("bad, duplicate or Python-reserved field name")
        names.add(name)
        fields.append(_parse_field(type_text, name, default_text.strip(), pkg, fail))
    if not fields:
        raise MessageError(f"{where}: a message without fields is not supported")
    return MsgSpec(ros_type, tuple(constants), tuple(fields), path or Path(ros_type))


def _parse_constant(type_text: str, name: str, value_text: str, fail: _Fail) -> ConstantSpec:
    if not _NAME_RE.match(name) or (type_text not in PRIMITIVES and type_text != "string"):
        raise fail("bad constant")
    return ConstantSpec(name, type_text, _parse_value(type_text, value_text, fail))


def _parse_value(type_text: str, value_text: str, fail: _Fail) -> int | float | bool | str:
    try:
        if type_text == "string":
            return value_text
        if type_text == "bool":
            if value_text.lower() not in ("true", "false", "1", "0"):
                raise ValueError(value_text)
            return value_text.lower() in ("true", "1")
        if type_text.startswith("float"):
            return float(value_text)
        return int(value_text, 0)
    except ValueError:
        raise fail(f"bad {type_text} value") from None


def _parse_field(type_text: str, name: str, default_text: str, pkg: str,
                 fail: _Fail) -> FieldSpec:
    m = _TYPE_RE.match(type_text)
    if m is None or "<=" in type_text:
        raise fail("unsupported field type (bounded types are not supported)")
    base, type_pkg = m["name"], m["pkg"]
    if type_pkg is None and base in PRIMITIVES:
        kind, element = FieldKind.PRIMITIVE, base
    elif type_pkg is None and base == "string":
        kind, element = FieldKind.STRING, "string"
    else:
        if type_pkg is None:
            type_pkg = "std_msgs" if base == "Header" else pkg
        kind, element = FieldKind.MESSAGE, f"{type_pkg}/msg/{base}"
    container, length = Container.SINGLE, 0
    if m["array"] is not None:
        if m["len"] == "":
            container = Container.SEQUENCE
        elif m["len"].isdigit() and int(m["len"]) > 0:
            container, length = Container.ARRAY, int(m["len"])
        else:
            raise fail("bad array length")
    default = None
    if default_text:
        if kind is not FieldKind.PRIMITIVE or container is not Container.SINGLE:
            raise fail("defaults are supported for single primitive fields only")
        value = _parse_value(element, default_text, fail)
        assert not isinstance(value, str)
        default = value
    return FieldSpec(name, kind, element, container, length, default)


def spec_closure(ros_type: str, distro: Distro) -> tuple[MsgSpec, ...]:
    """``ros_type``'s spec followed by every nested dependency, depth first, each once."""
    order: dict[str, MsgSpec] = {}

    def visit(t: str) -> None:
        spec = load_spec(t, distro)
        order[t] = spec
        for dep in spec.dependencies():
            if dep not in order:
                visit(dep)

    visit(ros_type)
    return tuple(order.values())


def normalized_text(spec: MsgSpec) -> str:
    """One type's .msg text without comments or defaults: constants first, then fields."""
    lines = [f"{c.type_name} {c.name}={_value_text(c.value)}" for c in spec.constants]
    lines += [f"{f.msg_type_text} {f.name}" for f in spec.fields]
    return "".join(line + "\n" for line in lines)


def _value_text(value: int | float | bool | str) -> str:
    return str(value)


@cache
def full_definition(ros_type: str, distro: Distro) -> str:
    """The schema text rosbag2 stores for a topic of ``ros_type`` (MCAP encoding "ros2msg").

    The type's own definition, then for each nested type (depth first, each once, in order of
    first use) a line of 80 '=', ``MSG: pkg/Name`` and its definition. The text is normalized
    (no comments, constants first) exactly as ``rosbags``' ``generate_msgdef(..., ros_version=2)``
    writes it; ``ros2 bag``, Foxglove and rosbags all parse it.
    """
    root, *deps = spec_closure(ros_type, distro)
    parts = [normalized_text(root)]
    for spec in deps:
        pkg, name = split_ros_type(spec.ros_type)
        parts.append(f"{_SEPARATOR}\nMSG: {pkg}/{name}\n{normalized_text(spec)}")
    return "".join(parts)
