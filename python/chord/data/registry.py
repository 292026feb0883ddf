"""Dataset names -> files, and the built-in ML-100K default fetched from PyPI into a cache.

``load_dataset("beauty")`` resolves under ``data_dir`` (argument, else ``$CHORD_DATA_DIR``, else
``../shared/data`` or ``./shared/data`` relative to the working directory when present).
``load_dataset("ml-100k")`` uses ``<data_dir>/ml-100k`` when present, else the cache
(``$CHORD_CACHE_DIR`` or ``~/.cache/chord``), filling it with
``pip download --no-deps recbole==1.2.1`` (the wheel ships ``recbole/dataset_example/ml-100k``)
and checking sha256 of every file. Any existing file or directory path overrides the names.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from .dataset import SequenceDataset
from .formats import read_file

#: name -> (directory under data_dir, file, format)
KNOWN = {
    "beauty": ("beauty", "Beauty.txt", "s3rec"),
    "toys": ("toys", "Toys_and_Games.txt", "s3rec"),
    "yelp": ("yelp", "Yelp.txt", "s3rec"),
    "video_games": ("video_games", "Video.txt", "sasrec"),
    "ml-100k": ("ml-100k", "ml-100k.inter", "atomic"),
}
ALIASES = {
    "games": "video_games",
    "video-games": "video_games",
    "ml100k": "ml-100k",
    "movielens-100k": "ml-100k",
    "toys_and_games": "toys",
}
DEFAULT_DATASET = "ml-100k"

RECBOLE_PIN = "recbole==1.2.1"
ML100K_SHA256 = {
    "ml-100k.inter": "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff",
    "ml-100k.item": "51d7cdf777ce5c0f5b32c1d947a4a81fe07d75e78abbe761e0cd4d0756064532",
    "ml-100k.user": "4f670007d9cfbeb9807e757209af1555b9bcc186bde25e767f67cb67c6dd5972",
}


def default_data_dir() -> Path | None:
    """$CHORD_DATA_DIR, else ../shared/data or ./shared/data when it exists, else None."""
    env = os.environ.get("CHORD_DATA_DIR")
    if env:
        return Path(env)
    for cand in (Path.cwd().parent / "shared" / "data", Path.cwd() / "shared" / "data"):
        if cand.is_dir():
            return cand
    return None


def cache_dir() -> Path:
    return Path(os.environ.get("CHORD_CACHE_DIR", Path.home() / ".cache" / "chord"))


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _verify_ml100k(directory: Path) -> bool:
    return all((directory / n).is_file() and sha256_file(directory / n) == h for n, h in ML100K_SHA256.items())


def _pip_download(dest: Path) -> Path:
    """Download the pinned RecBole wheel (no dependencies) into ``dest``; return its path."""
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        RECBOLE_PIN,
        "-d",
        str(dest),
        "-q",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wheels = list(dest.glob("recbole-*.whl"))
    if proc.returncode != 0 or not wheels:
        raise RuntimeError(
            f"could not fetch ML-100K: `{' '.join(cmd)}` failed (rc={proc.returncode}): {proc.stderr.strip()[-500:]}"
        )
    return wheels[0]


def fetch_ml100k(cache: Path | None = None, downloader=_pip_download) -> Path:
    """Ensure the sha256-checked ML-100K atomic files are in ``<cache>/ml-100k``; return that dir.

    ``downloader(tmpdir) -> wheel path`` is injectable for tests.
    """
    target = Path(cache or cache_dir()) / "ml-100k"
    if _verify_ml100k(target):
        return target
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        wheel = downloader(Path(tmp))
        with zipfile.ZipFile(wheel) as zf:
            for name, want in ML100K_SHA256.items():
                member = f"recbole/dataset_example/ml-100k/{name}"
                try:
                    data = zf.read(member)
                except KeyError:
                    raise RuntimeError(f"{wheel.name}: missing {member}") from None
                got = hashlib.sha256(data).hexdigest()
                if got != want:
                    raise RuntimeError(f"{member}: sha256 mismatch, expected {want}, got {got}")
                part = target / (name + ".part")
                part.write_bytes(data)
                os.replace(part, target / name)  # atomic: a concurrent reader never sees half a file
    return target


def resolve(name_or_path, data_dir=None) -> tuple[Path, str | None, str]:
    """-> (file path, format or None to detect, dataset name)."""
    p = Path(str(name_or_path)).expanduser()
    key = ALIASES.get(str(name_or_path).lower(), str(name_or_path).lower())
    if p.is_file():
        return p, None, p.stem
    if p.is_dir() and key not in KNOWN:
        files = sorted(f for f in p.iterdir() if f.suffix in (".txt", ".inter", ".dat"))
        if len(files) != 1:
            raise FileNotFoundError(
                f"name_or_path: directory {p} must hold exactly one .txt/.inter/.dat "
                f"file, found {[f.name for f in files]}"
            )
        return files[0], None, p.name
    if key not in KNOWN:
        raise ValueError(
            f"name_or_path: expected an existing file/directory or one of "
            f"{sorted(KNOWN) + sorted(ALIASES)}, got {name_or_path!r}"
        )
    sub, fname, fmt = KNOWN[key]
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    if root is not None and (root / sub / fname).is_file():
        return root / sub / fname, fmt, key
    if key == "ml-100k":
        return fetch_ml100k() / fname, fmt, key
    raise FileNotFoundError(
        f"dataset {key!r}: {fname} not found under data_dir="
        f"{root if root is not None else '(none: pass data_dir or set CHORD_DATA_DIR)'}/{sub}"
    )


def load_dataset(name_or_path=DEFAULT_DATASET, data_dir=None, fmt: str | None = None) -> SequenceDataset:
    """Load a dataset by name (beauty, toys, yelp, video_games/games, ml-100k) or path.

    Returns a :class:`SequenceDataset` with ``num_users``, ``num_items`` and the sequences.
    """
    path, known_fmt, name = resolve(name_or_path, data_dir)
    return read_file(path, fmt or known_fmt, name)
