"""Python types of message fields, shared by the message modules."""

from __future__ import annotations

from typing import Union

import numpy as np

OctetData = Union[bytes, bytearray, memoryview, np.ndarray]  # noqa: UP007 (runtime alias)
"""A ``uint8[]``/``byte[]``/``char[]`` field: serialize takes any C-contiguous buffer of octets
(``bytes``, ``bytearray``, ``memoryview``, a ``np.uint8`` array of any shape); deserialize always
yields ``bytes``. Wrap with ``np.frombuffer(data, np.uint8)`` for a zero-copy array view."""

ZERO_COVARIANCE: tuple[float, ...] = (0.0,) * 36
"""Default of a ``float64[36]`` covariance: fixed arrays decode to tuples."""
