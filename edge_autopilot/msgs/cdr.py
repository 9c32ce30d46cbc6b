"""CDR (XCDR1, "plain CDR") encoding of the message dataclasses, byte for byte as ROS 2 sends.

Wire rules (OMG CDR as rmw_cyclonedds / rmw_fastrtps / rosbags use them for ROS 2):

- a 4-byte encapsulation header ``00 01 00 00`` (little endian; ``00 00`` is big endian, which
  we decode too); alignment is relative to the first byte after it;
- each primitive aligned to its own size (8 for 64-bit types), structs add no padding of their
  own, so nested messages are simply their fields in order;
- string: uint32 length including the NUL, the UTF-8 bytes, NUL; sequence: uint32 count, then
  the elements; fixed array: the elements only.

Per (type, distro) the codec is compiled once, at first use, into two small Python functions
(generated source, cached): nested single messages are flattened so that adjacent primitives
across struct boundaries become one ``struct.Struct`` call. Padding inside such a run depends on
the run's start offset modulo 8, which is known only at run time after a string or sequence, so
each run has eight precomputed ``Struct`` objects, picked by ``offset & 7``.

Decoding never trusts a length: every read is bounds-checked first, a sequence count is checked
against the bytes left (times the element's minimum size) before anything is allocated, and all
failures are ``MessageError`` naming the type and the byte offset (counted from the start of the
data, header included).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, fields
from functools import cache, lru_cache
from typing import Any, TypeVar

import numpy as np

from edge_autopilot.errors import MessageError
from edge_autopilot.msgs.msgdef import (
    DEFAULT_DISTRO,
    OCTET_TYPES,
    PRIMITIVES,
    Container,
    Distro,
    FieldKind,
    check_distro,
    load_spec,
)
from edge_autopilot.msgs.registry import MESSAGE_TYPES, ros_type

M = TypeVar("M")

HEADER_LE = b"\x00\x01\x00\x00"
_HEADER_SIZE = 4
_MAX_TRAILING = 3  # writers may pad the payload to a multiple of 4 (cyclonedds does)
_ZEROS = tuple(bytes(n) for n in range(8))

Serializer = Callable[[Any, bytearray], None]
Deserializer = Callable[[Any, int, int], tuple[Any, int]]


def serialize(msg: object, distro: Distro = DEFAULT_DISTRO) -> bytes:
    """Encode ``msg`` as ROS 2 would for ``distro``: header ``00 01 00 00`` + little-endian CDR.

    Fields that ``distro``'s layout lacks (``Range.variance`` in Humble) are not sent.
    Out-of-range integers, floats too large for float32, non-str strings or wrong-length fixed
    arrays raise ``MessageError``.
    """
    codec = _codec(type(msg), distro, "<")
    out = bytearray(HEADER_LE)
    try:
        codec.ser(msg, out)
    except MessageError:
        raise
    except (struct.error, TypeError, ValueError, AttributeError, OverflowError,
            UnicodeError) as e:
        raise MessageError(f"cannot serialize {codec.name} ({distro}): {e}") from e
    return bytes(out)


def deserialize(data: bytes | bytearray | memoryview, msg_type: type[M],
                distro: Distro = DEFAULT_DISTRO) -> M:
    """Decode CDR bytes (with their 4-byte encapsulation header) into a ``msg_type``.

    Accepts little- and big-endian plain CDR; up to 3 trailing padding bytes are allowed, more
    is an error (e.g. Jazzy ``Range`` bytes decoded as Humble). Raises ``MessageError`` only.
    """
    name = ros_type(msg_type)
    buf = data if isinstance(data, bytes) else _as_octet_view(data, name)
    end = len(buf)
    if end < _HEADER_SIZE:
        raise MessageError(f"{name}: {end} bytes is shorter than the CDR encapsulation header")
    if buf[0] != 0 or buf[1] not in (0, 1) or buf[2] != 0 or buf[3] > _MAX_TRAILING:
        raise MessageError(
            f"{name}: encapsulation header {bytes(buf[:4]).hex(' ')} is not plain CDR "
            "(expected 00 01 00 00, little endian, or 00 00 00 00, big endian)")
    codec = _codec(msg_type, distro, "<" if buf[1] == 1 else ">")
    try:
        msg, pos = codec.de(buf, _HEADER_SIZE, end)
    except MessageError:
        raise
    except (struct.error, IndexError, ValueError, TypeError, OverflowError) as e:
        raise MessageError(f"{name} ({distro}): malformed CDR data: {e}") from e
    if end - pos > _MAX_TRAILING:
        raise MessageError(f"{name} ({distro}): {end - pos} unexpected bytes after the message "
                           f"at offset {pos} (wrong type or distro?)")
    return msg  # type: ignore[no-any-return]


def _as_octet_view(data: object, name: str) -> memoryview:
    try:
        view = memoryview(data)  # type: ignore[arg-type]
        return view if view.format == "B" and view.ndim == 1 else view.cast("B")
    except (TypeError, ValueError) as e:
        raise MessageError(f"{name}: cannot read message bytes from {type(data).__name__}: "
                           f"{e}") from e


# ---------------------------------------------------------------------------------------------
# Compiled codecs


@dataclass(frozen=True, slots=True)
class Codec:
    """The compiled encoder/decoder of one type, distro and byte order."""

    name: str
    ser: Serializer
    de: Deserializer
    min_size: int  # lower bound of the encoded size: guards sequence counts


def _codec(msg_type: type, distro: Distro, endian: str) -> Codec:
    name = getattr(msg_type, "ROS_TYPE", None)
    if not isinstance(name, str) or MESSAGE_TYPES.get(name) is not msg_type:
        raise MessageError(f"{msg_type!r} is not a message type of edge_autopilot.msgs")
    return _compile(name, check_distro(distro), endian)


@dataclass(frozen=True, slots=True)
class _Prim:
    path: tuple[str, ...]
    prim: str
    count: int  # 0 = a single value, else a fixed array of count values


@dataclass(frozen=True, slots=True)
class _Var:
    """A leaf that is not a fixed-size primitive: string, octets, or any sequence."""

    path: tuple[str, ...]
    kind: FieldKind
    element_type: str
    container: Container
    length: int


def _flatten(ros_type_name: str, distro: Distro,
             prefix: tuple[str, ...] = ()) -> list[_Prim | _Var]:
    """Leaves of a type in wire order, with nested single messages expanded in place."""
    leaves: list[_Prim | _Var] = []
    for f in load_spec(ros_type_name, distro).fields:
        path = (*prefix, f.name)
        if f.kind is FieldKind.MESSAGE and f.container is Container.SINGLE:
            leaves += _flatten(f.element_type, distro, path)
        elif (f.kind is FieldKind.PRIMITIVE and f.container is not Container.SEQUENCE
              and not (f.container is Container.ARRAY and f.element_type in OCTET_TYPES)):
            leaves.append(_Prim(path, f.element_type, f.length))
        else:
            leaves.append(_Var(path, f.kind, f.element_type, f.container, f.length))
    return leaves


def _run_structs(run: list[_Prim], endian: str) -> tuple[struct.Struct, ...]:
    """One Struct per start offset modulo 8, with the padding that offset implies."""
    out = []
    for start in range(8):
        pos, fmt = start, endian
        for leaf in run:
            code, size = PRIMITIVES[leaf.prim]
            pad = -pos % size
            fmt += f"{pad}x" if pad else ""
            n = max(leaf.count, 1)
            fmt += f"{n}{code}"
            pos += pad + n * size
        out.append(struct.Struct(fmt))
    return tuple(out)


def _min_size(ros_type_name: str, distro: Distro) -> int:
    total = 0
    for leaf in _flatten(ros_type_name, distro):
        if isinstance(leaf, _Prim):
            total += PRIMITIVES[leaf.prim][1] * max(leaf.count, 1)
        elif leaf.container is Container.SEQUENCE:
            total += 4
        else:
            n = max(leaf.length, 1)
            if leaf.kind is FieldKind.STRING:
                total += 5 * n
            elif leaf.kind is FieldKind.MESSAGE:
                total += n * _min_size(leaf.element_type, distro)
            else:
                total += n * PRIMITIVES[leaf.element_type][1]
    return max(total, 1)


class _Source:
    """Generated code of one type: two functions and the constants they refer to."""

    def __init__(self, name: str, endian: str) -> None:
        self.endian = endian
        self.ns: dict[str, object] = {"NAME": name}
        self.ser = ["def ser(m, out):"]
        self.de = ["def de(b, pos, end):"]
        self._n = 0

    def const(self, value: object, stem: str = "K") -> str:
        self._n += 1
        key = f"{stem}{self._n}"
        self.ns[key] = value
        return key

    def var(self) -> str:
        self._n += 1
        return f"v{self._n}"


def _access(obj: str, path: tuple[str, ...]) -> str:
    return ".".join((obj, *path))


@cache
def _compile(name: str, distro: Distro, endian: str) -> Codec:
    cls = MESSAGE_TYPES[name]
    _check_fields(cls, name, distro)
    src = _Source(name, endian)
    src.ns.update(_helpers(endian))
    values: dict[tuple[str, ...], str] = {}  # leaf path -> decoded variable
    leaves = _flatten(name, distro)
    i = 0
    while i < len(leaves):
        leaf = leaves[i]
        if isinstance(leaf, _Prim):
            run = [leaf]
            while i + 1 < len(leaves) and isinstance(nxt := leaves[i + 1], _Prim):
                run.append(nxt)
                i += 1
            _emit_run(src, run, "m", values, "    ")
        else:
            _emit_var(src, leaf, distro, values)
        i += 1
    src.ser.append("    return None")
    src.de.append(f"    return {_construct(src, name, distro, (), values)}, pos")
    code = "\n".join(src.ser + src.de)
    # Source generated here from the package's own .msg files: no outside text reaches exec.
    exec(compile(code, f"<cdr {name} {distro} {endian}>", "exec"), src.ns)
    return Codec(name, src.ns["ser"], src.ns["de"], _min_size(name, distro))  # type: ignore[arg-type]


def _check_fields(cls: type, name: str, distro: Distro) -> None:
    """The dataclass must hold every wire field, in wire order (the .msg is the truth)."""
    have = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    want = [f.name for f in load_spec(name, distro).fields]
    if [n for n in have if n in want] != want:
        raise MessageError(f"{cls.__qualname__} fields {have} do not match the {distro} .msg "
                           f"of {name}: {want}")


def _emit_run(src: _Source, run: list[_Prim], obj: str, values: dict[tuple[str, ...], str],
              indent: str) -> None:
    """One struct call for consecutive fixed-size primitives (the common case)."""
    structs = src.const(_run_structs(run, src.endian), "R")
    args = ", ".join(f"*{_access(obj, p.path)}" if p.count else _access(obj, p.path)
                     for p in run)
    ind = indent
    src.ser.append(f"{ind}out += {structs}[(len(out) - 4) & 7].pack({args})")
    src.de += [
        f"{ind}s = {structs}[(pos - 4) & 7]",
        f"{ind}if pos + s.size > end:",
        f"{ind}    raise TRUNC(NAME, pos, s.size, end)",
        f"{ind}t = s.unpack_from(b, pos)",
        f"{ind}pos += s.size",
    ]
    k = 0
    for p in run:
        v = src.var()
        values[p.path] = v
        if p.count:
            src.de.append(f"{ind}{v} = t[{k}:{k + p.count}]")
            k += p.count
        else:
            src.de.append(f"{ind}{v} = t[{k}]")
            k += 1


def _emit_var(src: _Source, leaf: _Var, distro: Distro,
              values: dict[tuple[str, ...], str]) -> None:
    acc = _access("m", leaf.path)
    v = src.var()
    values[leaf.path] = v
    seq = leaf.container is Container.SEQUENCE
    n = leaf.length
    if leaf.kind is FieldKind.PRIMITIVE and leaf.element_type in OCTET_TYPES:
        if seq:
            src.ser.append(f"    W_OCTETS(out, {acc})")
            src.de.append(f"    {v}, pos = R_OCTETS(b, pos, end, NAME)")
        else:
            src.ser.append(f"    W_OCTET_ARRAY(out, {acc}, {n}, NAME)")
            src.de.append(f"    {v}, pos = R_OCTET_ARRAY(b, pos, end, {n}, NAME)")
    elif leaf.kind is FieldKind.PRIMITIVE:  # numeric/bool sequence (arrays are runs)
        code, size = PRIMITIVES[leaf.element_type]
        src.ser.append(f"    W_PRIMS(out, {acc}, {code!r}, {size})")
        src.de.append(f"    {v}, pos = R_PRIMS(b, pos, end, {code!r}, {size}, NAME)")
    elif leaf.kind is FieldKind.STRING:
        if leaf.container is Container.SINGLE:
            src.ser.append(f"    W_STR(out, {acc})")
            src.de.append(f"    {v}, pos = R_STR(b, pos, end, NAME)")
        else:
            count = f"n{v}" if seq else str(n)
            if seq:
                src.ser.append(f"    W_COUNT(out, len({acc}))")
                src.de.append(f"    {count}, pos = R_COUNT(b, pos, end, 5, NAME)")
            else:
                src.ser.append(f"    CHECK_LEN({acc}, {n}, NAME)")
            src.ser.append(f"    for e in {acc}:")
            src.ser.append("        W_STR(out, e)")
            src.de.append(f"    {v} = []")
            src.de.append(f"    for _ in range({count}):")
            src.de.append("        e, pos = R_STR(b, pos, end, NAME)")
            src.de.append(f"        {v}.append(e)")
            src.de.append(f"    {v} = tuple({v})")
    else:
        _emit_message_array(src, leaf, distro, acc, v)


def _emit_message_array(src: _Source, leaf: _Var, distro: Distro, acc: str, v: str) -> None:
    sub = _compile(leaf.element_type, distro, src.endian)
    seq = leaf.container is Container.SEQUENCE
    count = f"n{v}" if seq else str(leaf.length)
    if seq:
        src.ser.append(f"    W_COUNT(out, len({acc}))")
        src.de.append(f"    {count}, pos = R_COUNT(b, pos, end, {sub.min_size}, NAME)")
    else:
        src.ser.append(f"    CHECK_LEN({acc}, {leaf.length}, NAME)")
    sub_leaves = _flatten(leaf.element_type, distro)
    if all(isinstance(x, _Prim) and not x.count for x in sub_leaves):
        _emit_flat_elements(src, leaf.element_type, distro, sub_leaves, acc, v, count)  # type: ignore[arg-type]
        return
    fn_ser, fn_de = src.const(sub.ser, "S"), src.const(sub.de, "D")
    src.ser += [f"    for e in {acc}:", f"        {fn_ser}(e, out)"]
    src.de += [
        f"    {v} = []",
        f"    for _ in range({count}):",
        f"        e, pos = {fn_de}(b, pos, end)",
        f"        {v}.append(e)",
        f"    {v} = tuple({v})",
    ]


def _emit_flat_elements(src: _Source, name: str, distro: Distro, run: list[_Prim], acc: str,
                        v: str, count: str) -> None:
    """Elements made of single primitives only (RadarReturn, Track): no call per element.

    When all their primitives have one size (RadarReturn: five float32) no element ever needs
    padding, so the whole array is one struct call; otherwise one call per element, with the
    padding its start offset implies.
    """
    cls = MESSAGE_TYPES[name]
    positional = [f.name for f in fields(cls)] == [p.path[0] for p in run]  # type: ignore[arg-type]
    ctor = src.const(cls, "C")
    sizes = {PRIMITIVES[p.prim][1] for p in run}
    attrs = ", ".join(f"e.{p.path[0]}" for p in run)
    if len(sizes) == 1 and positional:
        (size,) = sizes
        fmt = src.const("".join(PRIMITIVES[p.prim][0] for p in run))
        stride = size * len(run)
        src.ser += [
            f"    if {acc}:",
            f"        out += ZEROS[(4 - len(out)) & {size - 1}]",
            f"        out += PACK_REPEATED({fmt}, len({acc}))"
            f"(*[x for e in {acc} for x in ({attrs},)])",
        ]
        src.de += [
            f"    if {count}:",
            f"        pos += (4 - pos) & {size - 1}",
            f"        if pos + {count} * {stride} > end:",
            f"            raise TRUNC(NAME, pos, {count} * {stride}, end)",
            f"        {v} = tuple([{ctor}(*t) for t in ITER_UNPACK({fmt}, b, pos, {count})])",
            f"        pos += {count} * {stride}",
            "    else:",
            f"        {v} = ()",
        ]
        return
    src.ser.append(f"    for e in {acc}:")
    sub_values: dict[tuple[str, ...], str] = {}
    src.de += [f"    {v} = []", f"    for _ in range({count}):"]
    _emit_run(src, run, "e", sub_values, "        ")
    if positional:
        args = ", ".join(sub_values[p.path] for p in run)
        src.de.append(f"        {v}.append({ctor}({args}))")
    else:
        src.de.append(f"        {v}.append({_construct(src, name, distro, (), sub_values)})")
    src.de.append(f"    {v} = tuple({v})")


def _construct(src: _Source, name: str, distro: Distro, prefix: tuple[str, ...],
               values: dict[tuple[str, ...], str]) -> str:
    """Constructor expression that rebuilds a (nested) message from decoded leaf variables.

    Positional when the dataclass has exactly the wire fields (faster), else by keyword.
    """
    cls = MESSAGE_TYPES[name]
    specs = load_spec(name, distro).fields
    positional = [f.name for f in fields(cls)] == [f.name for f in specs]
    args = []
    for f in specs:
        path = (*prefix, f.name)
        if f.kind is FieldKind.MESSAGE and f.container is Container.SINGLE:
            arg = _construct(src, f.element_type, distro, path, values)
        else:
            arg = values[path]
        args.append(arg if positional else f"{f.name}={arg}")
    return f"{src.const(cls, 'C')}({', '.join(args)})"


# ---------------------------------------------------------------------------------------------
# Helpers the generated code calls (one set per byte order)


def _truncated(name: str, pos: int, need: int, end: int) -> MessageError:
    return MessageError(f"{name}: truncated data: need {need} bytes at offset {pos}, "
                        f"{max(end - pos, 0)} left")


def _check_len(value: object, n: int, name: str) -> None:
    if len(value) != n:  # type: ignore[arg-type]
        raise MessageError(f"{name}: fixed array needs {n} elements, got {len(value)}")  # type: ignore[arg-type]


def _octets(value: object) -> bytes | bytearray | memoryview:
    """A flat octet view of a uint8[] value, without copying where possible."""
    if isinstance(value, bytes | bytearray):
        return value
    if isinstance(value, np.ndarray):
        if value.dtype != np.uint8:
            raise MessageError(f"octet data must be a uint8 array, not {value.dtype}")
        return memoryview(np.ascontiguousarray(value).reshape(-1))
    if isinstance(value, memoryview):
        return value.cast("B") if value.format != "B" or value.ndim != 1 else value
    return bytes(value)  # type: ignore[call-overload]


@cache
def _helpers(endian: str) -> dict[str, object]:
    u32 = struct.Struct(endian + "I")
    pack_u32, unpack_u32 = u32.pack, u32.unpack_from
    zeros = _ZEROS

    def w_count(out: bytearray, n: int) -> None:
        pad = (4 - len(out)) & 3  # = -(len(out) - header) mod 4
        if pad:
            out += zeros[pad]
        out += pack_u32(n)

    def w_str(out: bytearray, s: str) -> None:
        if not isinstance(s, str):
            raise MessageError(f"string field needs str, got {type(s).__name__}")
        data = s.encode("utf-8")
        w_count(out, len(data) + 1)
        out += data
        out += b"\x00"

    def w_octets(out: bytearray, value: object) -> None:
        data = _octets(value)
        w_count(out, len(data) if not isinstance(data, memoryview) else data.nbytes)
        out += data

    def w_octet_array(out: bytearray, value: object, n: int, name: str) -> None:
        data = _octets(value)
        size = len(data) if not isinstance(data, memoryview) else data.nbytes
        if size != n:
            raise MessageError(f"{name}: fixed octet array needs {n} bytes, got {size}")
        out += data

    def w_prims(out: bytearray, value: Any, code: str, size: int) -> None:
        n = len(value)
        w_count(out, n)
        if n:
            pad = (4 - len(out)) & (size - 1)
            if pad:
                out += zeros[pad]
            out += struct.pack(f"{endian}{n}{code}", *value)

    def r_count(b: Any, pos: int, end: int, min_size: int, name: str) -> tuple[int, int]:
        pos += (4 - pos) & 3
        if pos + 4 > end:
            raise _truncated(name, pos, 4, end)
        (n,) = unpack_u32(b, pos)
        pos += 4
        if n * min_size > end - pos:
            raise MessageError(f"{name}: sequence count {n} at offset {pos - 4} needs at least "
                               f"{n * min_size} bytes, only {end - pos} left")
        return n, pos

    def r_str(b: Any, pos: int, end: int, name: str) -> tuple[str, int]:
        pos += (4 - pos) & 3
        if pos + 4 > end:
            raise _truncated(name, pos, 4, end)
        (n,) = unpack_u32(b, pos)
        pos += 4
        if n > end - pos:
            raise MessageError(f"{name}: string length {n} at offset {pos - 4} exceeds the "
                               f"{end - pos} bytes left")
        stop = pos + n - 1
        if n == 0 or b[stop] != 0:
            raise MessageError(f"{name}: string at offset {pos - 4} is not NUL-terminated")
        try:
            return str(b[pos:stop], "utf-8"), stop + 1
        except UnicodeDecodeError as e:
            raise MessageError(f"{name}: string at offset {pos - 4} is not UTF-8: {e}") from None

    def r_octets(b: Any, pos: int, end: int, name: str) -> tuple[bytes, int]:
        n, pos = r_count(b, pos, end, 1, name)
        return bytes(b[pos:pos + n]), pos + n

    def r_octet_array(b: Any, pos: int, end: int, n: int, name: str) -> tuple[bytes, int]:
        if pos + n > end:
            raise _truncated(name, pos, n, end)
        return bytes(b[pos:pos + n]), pos + n

    def r_prims(b: Any, pos: int, end: int, code: str, size: int,
                name: str) -> tuple[tuple[Any, ...], int]:
        n, pos = r_count(b, pos, end, size, name)
        if not n:
            return (), pos
        pos += (4 - pos) & (size - 1)
        if pos + n * size > end:
            raise _truncated(name, pos, n * size, end)
        return struct.unpack_from(f"{endian}{n}{code}", b, pos), pos + n * size

    @lru_cache(maxsize=64)
    def pack_repeated(fmt: str, n: int) -> Callable[..., bytes]:
        return struct.Struct(endian + fmt * n).pack

    @lru_cache(maxsize=16)
    def element_struct(fmt: str) -> struct.Struct:
        return struct.Struct(endian + fmt)

    def iter_unpack(fmt: str, b: Any, pos: int, n: int) -> Any:
        s = element_struct(fmt)
        return s.iter_unpack(memoryview(b)[pos:pos + n * s.size])

    return {
        "TRUNC": _truncated, "CHECK_LEN": _check_len, "ZEROS": zeros,
        "PACK_REPEATED": pack_repeated, "ITER_UNPACK": iter_unpack,
        "W_COUNT": w_count, "W_STR": w_str, "W_OCTETS": w_octets,
        "W_OCTET_ARRAY": w_octet_array, "W_PRIMS": w_prims,
        "R_COUNT": r_count, "R_STR": r_str, "R_OCTETS": r_octets,
        "R_OCTET_ARRAY": r_octet_array, "R_PRIMS": r_prims,
    }
