"""Parsers for the standard sequential-recommendation file formats.

Every parser returns a :class:`SequenceDataset` and raises :class:`DataFormatError` naming the
file, the 1-based line number and the reason on the first malformed line.

- ``sasrec``: ``user item`` per line, lines of a user in chronological order (kang205/SASRec).
- ``s3rec``: ``user i1 i2 ...`` per line, oldest first (S3-Rec / ICLRec / CoSeRec).
- ``atomic``: RecBole ``.inter`` TSV with a ``name:type`` header; rows sorted by (user, timestamp)
  with a stable sort, so ties keep file order.
- ``movielens``: ``ratings.dat`` lines ``UserID::MovieID::Rating::Timestamp``, sorted like atomic.
"""

from __future__ import annotations

import itertools
import math
import os
import stat
from pathlib import Path

import numpy as np

from .dataset import SequenceDataset

FORMATS = ("sasrec", "s3rec", "atomic", "movielens")
#: largest user / item id kept as given (ids index embedding tables: rows are int32-indexed)
MAX_ID = 2**31 - 1
#: longest line read (a file without newlines -- /dev/zero, a binary -- is an error, not a hang)
MAX_LINE_BYTES = 1 << 20


class DataFormatError(ValueError):
    """A data file is malformed; the message names the file, line and reason."""

    def __init__(self, path, line_no: int, reason: str):
        self.path, self.line_no, self.reason = str(path), line_no, reason
        super().__init__(f"{path}:{line_no}: {reason}")


def _positive_int(tok: str, path, line_no: int, what: str) -> int:
    try:
        v = int(tok)
    except ValueError:
        raise DataFormatError(path, line_no, f"{what}: expected a positive integer id, got {tok[:40]!r}") from None
    if not 1 <= v <= MAX_ID:
        raise DataFormatError(
            path, line_no, f"{what}: expected a positive integer id in 1..{MAX_ID} (0 is padding), got {tok[:40]}"
        )
    return v


def _open_regular(path: Path):
    """Open ``path`` for binary reading; only regular files (a device or pipe such as /dev/zero
    could grow without bound)."""
    try:
        f = open(path, "rb")
    except OSError as e:
        raise DataFormatError(path, 0, f"cannot open ({e.strerror})") from None
    if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
        f.close()
        raise DataFormatError(path, 0, "not a regular file")
    return f


def _lines(path: Path, limit: int | None = None):
    """(1-based line number, text without the line break), each line UTF-8 and at most
    ``MAX_LINE_BYTES`` long, else :class:`DataFormatError` naming the line."""
    with _open_regular(path) as f:
        for i in itertools.count(1):
            if limit is not None and i > limit:
                return
            raw = f.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return
            if len(raw) > MAX_LINE_BYTES:
                raise DataFormatError(path, i, f"line longer than {MAX_LINE_BYTES} bytes (not a text data file?)")
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise DataFormatError(
                    path, i, f"not UTF-8 text (byte 0x{raw[e.start]:02x} at column {e.start + 1})"
                ) from None
            if "\0" in line:
                raise DataFormatError(path, i, "NUL byte in a text line (not a text data file?)")
            yield i, line.rstrip("\r\n")


def detect_format(path) -> str:
    """Guess the format of ``path`` from its name and first lines."""
    path = Path(path)
    if path.suffix == ".inter":
        return "atomic"
    if path.suffix == ".dat" or path.name.startswith("ratings"):
        return "movielens"
    head = [ln.split() for _, ln in _lines(path, limit=200) if ln.strip()]
    if not head:
        raise DataFormatError(path, 1, "file is empty")
    if "::" in " ".join(head[0]):
        return "movielens"
    if any(":" in t for t in head[0]):
        return "atomic"
    # `user item` pairs repeat the user on consecutive lines; S3-Rec lines hold a whole user
    pairs = all(len(t) == 2 for t in head)
    repeated = any(a[0] == b[0] for a, b in zip(head, head[1:]))
    return "sasrec" if pairs and (repeated or len(head) == 1) else "s3rec"


def read_sasrec(path, name: str | None = None) -> SequenceDataset:
    """``user item`` per line (no header); each user's lines oldest first."""
    path = Path(path)
    users, items = [], []
    for i, line in _lines(path):
        if not line.strip():
            continue
        toks = line.split()
        if len(toks) != 2:
            raise DataFormatError(path, i, f"expected 2 fields 'user item', got {len(toks)}")
        users.append(_positive_int(toks[0], path, i, "user"))
        items.append(_positive_int(toks[1], path, i, "item"))
    if not users:
        raise DataFormatError(path, 1, "no interactions found")
    return SequenceDataset.from_pairs(name or path.stem, np.array(users), np.array(items), source=str(path))


def read_s3rec(path, name: str | None = None) -> SequenceDataset:
    """``user i1 i2 ...`` per line (no header), oldest first; a user may appear once only."""
    path = Path(path)
    user_ids, chunks = [], []
    seen = set()
    for i, line in _lines(path):
        if not line.strip():
            continue
        toks = line.split()
        if len(toks) < 2:
            raise DataFormatError(
                path, i, f"expected 'user item1 item2 ...' with at least one item, got {len(toks)} field(s)"
            )
        u = _positive_int(toks[0], path, i, "user")
        if u in seen:
            raise DataFormatError(path, i, f"user {u} appears on more than one line")
        seen.add(u)
        seq = np.array([_positive_int(t, path, i, "item") for t in toks[1:]], dtype=np.int64)
        user_ids.append(u)
        chunks.append(seq)
    if not chunks:
        raise DataFormatError(path, 1, "no users found")
    order = np.argsort(np.array(user_ids), kind="stable")
    chunks = [chunks[j] for j in order]
    lengths = np.array([c.size for c in chunks])
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    items = np.concatenate(chunks)
    return SequenceDataset(name or path.stem, int(items.max()), items, offsets, np.array(user_ids)[order], str(path))


def _timestamp(tok: str, path, line_no: int) -> float:
    """A finite number (NaN or inf would sort arbitrarily)."""
    try:
        v = float(tok)
    except ValueError:
        raise DataFormatError(path, line_no, f"timestamp: expected a number, got {tok[:40]!r}") from None
    if not math.isfinite(v):
        raise DataFormatError(path, line_no, f"timestamp: expected a finite number, got {tok[:40]!r}")
    return v


def _tokens_to_ids(tokens: list[str]) -> tuple[np.ndarray, int]:
    """Keep integer tokens as ids when they are all positive ints, else map sorted tokens to 1..N."""
    try:
        ids = np.array(tokens, dtype=np.int64)
        if ids.size and ids.min() >= 1 and ids.max() <= MAX_ID:
            return ids, int(ids.max())
    except (ValueError, OverflowError):  # not all integers, or beyond int64: map them
        pass
    uniq, inv = np.unique(np.array(tokens), return_inverse=True)
    return inv.astype(np.int64) + 1, int(uniq.size)


def _from_rows(name, path, users: list[str], items: list[str], ts: np.ndarray | None) -> SequenceDataset:
    u, _ = _tokens_to_ids(users)
    it, n_items = _tokens_to_ids(items)
    # stable: interactions with equal (user, timestamp) keep file order
    order = np.lexsort((ts, u)) if ts is not None else np.argsort(u, kind="stable")
    ds = SequenceDataset.from_pairs(name, u[order], it[order], num_items=n_items, source=str(path))
    return ds


def read_atomic(path, name: str | None = None) -> SequenceDataset:
    """RecBole atomic ``.inter``: TSV, header ``user_id:token item_id:token [rating:float] [timestamp:float]``."""
    path = Path(path)
    lines = _lines(path)
    try:
        _, header = next(lines)
    except StopIteration:
        raise DataFormatError(path, 1, "file is empty (expected a 'field:type' header)") from None
    fields = header.split("\t")
    names = [f.split(":")[0] for f in fields]
    if not all(":" in f for f in fields):
        raise DataFormatError(path, 1, f"header: expected tab-separated 'name:type' fields, got {header!r}")
    for req in ("user_id", "item_id"):
        if req not in names:
            raise DataFormatError(path, 1, f"header: missing field {req!r} (got {names})")
    cu, ci = names.index("user_id"), names.index("item_id")
    ct = names.index("timestamp") if "timestamp" in names else None
    users, items, ts = [], [], []
    for i, line in lines:
        if not line.strip():
            continue
        toks = line.split("\t")
        if len(toks) != len(fields):
            raise DataFormatError(path, i, f"expected {len(fields)} tab-separated fields, got {len(toks)}")
        users.append(toks[cu])
        items.append(toks[ci])
        if ct is not None:
            ts.append(_timestamp(toks[ct], path, i))
    if not users:
        raise DataFormatError(path, 2, "no interactions found")
    return _from_rows(name or path.stem, path, users, items, np.array(ts) if ct is not None else None)


def read_movielens(path, name: str | None = None) -> SequenceDataset:
    """MovieLens ``ratings.dat``: ``UserID::MovieID::Rating::Timestamp`` (every rating = one interaction)."""
    path = Path(path)
    users, items, ts = [], [], []
    for i, line in _lines(path):
        if not line.strip():
            continue
        toks = line.split("::")
        if len(toks) != 4:
            raise DataFormatError(path, i, f"expected 4 '::'-separated fields, got {len(toks)}")
        _positive_int(toks[0], path, i, "user")
        _positive_int(toks[1], path, i, "item")
        ts.append(_timestamp(toks[3], path, i))
        users.append(toks[0])
        items.append(toks[1])
    if not users:
        raise DataFormatError(path, 1, "no interactions found")
    return _from_rows(name or path.parent.name or path.stem, path, users, items, np.array(ts))


READERS = {"sasrec": read_sasrec, "s3rec": read_s3rec, "atomic": read_atomic, "movielens": read_movielens}


def read_file(path, fmt: str | None = None, name: str | None = None) -> SequenceDataset:
    """Parse ``path`` in format ``fmt`` (one of :data:`FORMATS`; guessed when None)."""
    fmt = fmt or detect_format(path)
    if fmt not in READERS:
        raise ValueError(f"fmt: expected one of {FORMATS}, got {fmt!r}")
    return READERS[fmt](path, name)
