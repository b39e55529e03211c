"""The one value format of every vector cache (disk and Redis): checked float32 bytes.

An entry is ``MAGIC`` (4 bytes, holds the format version) + CRC-32 of the payload (4 bytes,
little-endian) + the vector as little-endian float32. Reading checks all three plus length and
finiteness, so a flipped bit, a truncated write, an entry from an older format or right-length
garbage reads as a miss (recomputed and overwritten), never as a vector. Nothing here unpickles.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

MAGIC = b"EKv2"
"""Format tag; entries written by older releases (bare float32 bytes) lack it and are misses."""
_CHECKSUM = struct.Struct("<I")
HEADER_BYTES = len(MAGIC) + _CHECKSUM.size
NORM_TOLERANCE = 1e-3
"""How far from 1 the norm of a cached vector of a normalizing embedder may be (float32 rounding
is ~1e-7; anything past this tolerance was not written by us)."""


def encode_vector(vector: np.ndarray) -> bytes:
    """Bytes to store for one vector: header with checksum, then float32 values."""
    payload = np.ascontiguousarray(vector, dtype="<f4").tobytes()
    return MAGIC + _CHECKSUM.pack(zlib.crc32(payload)) + payload


def decode_vector(raw: object, dimension: int) -> np.ndarray | None:
    """The float32 vector in ``raw``, or None when the entry is corrupt, foreign or mis-sized."""
    if not isinstance(raw, bytes | bytearray | memoryview):
        return None
    raw = bytes(raw)
    if len(raw) != HEADER_BYTES + dimension * 4 or not raw.startswith(MAGIC):
        return None
    payload = raw[HEADER_BYTES:]
    (checksum,) = _CHECKSUM.unpack_from(raw, len(MAGIC))
    if zlib.crc32(payload) != checksum:
        return None
    vector = np.frombuffer(payload, dtype="<f4").astype(np.float32, copy=False)
    return vector if np.isfinite(vector).all() else None


def is_unit_norm(vector: np.ndarray) -> bool:
    """True when ``vector`` has L2 norm 1 (within `NORM_TOLERANCE`)."""
    return abs(float(np.linalg.norm(vector)) - 1.0) <= NORM_TOLERANCE
