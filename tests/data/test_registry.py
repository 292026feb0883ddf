"""Named datasets on the real files, and the ML-100K fetch/cache/sha256 logic (download faked)."""

from __future__ import annotations

import hashlib
import zipfile

import pytest

from chord.data import load_dataset, registry
from tests.helpers import data_dir_or_skip

STATS = {  # /work/shared/data/README.md
    "beauty": (22363, 12101, 198502),
    "toys": (19412, 11924, 167597),
    "yelp": (30431, 20033, 316354),
    "games": (31013, 23715, 287107),
    "ml-100k": (943, 1682, 100000),
}


@pytest.mark.data
@pytest.mark.parametrize("name", sorted(STATS))
def test_real_datasets_match_published_stats(name):
    ds = load_dataset(name, data_dir_or_skip())
    assert (ds.num_users, ds.num_items, ds.num_interactions) == STATS[name]


def _fake_wheel(tmp, files):
    whl = tmp / "recbole-1.2.1-py3-none-any.whl"
    with zipfile.ZipFile(whl, "w") as zf:
        for n, b in files.items():
            zf.writestr(f"recbole/dataset_example/ml-100k/{n}", b)
    return whl


def test_fetch_ml100k_checks_sha256_and_caches(tmp_path, monkeypatch):
    files = {n: f"content of {n}".encode() for n in registry.ML100K_SHA256}
    monkeypatch.setattr(registry, "ML100K_SHA256", {n: hashlib.sha256(b).hexdigest() for n, b in files.items()})
    calls = []

    def downloader(d):
        calls.append(d)
        return _fake_wheel(d, files)

    out = registry.fetch_ml100k(tmp_path / "cache", downloader)
    assert {p.name for p in out.iterdir()} == set(files)
    registry.fetch_ml100k(tmp_path / "cache", downloader)
    assert len(calls) == 1  # second call served from the verified cache


def test_fetch_ml100k_rejects_tampered_bytes(tmp_path, monkeypatch):
    files = {n: b"x" for n in registry.ML100K_SHA256}
    with pytest.raises(RuntimeError, match="sha256 mismatch"):
        registry.fetch_ml100k(tmp_path / "cache", lambda d: _fake_wheel(d, files))


@pytest.mark.slow
def test_fetch_ml100k_from_pypi(tmp_path):  # needs network: the real pip download
    out = registry.fetch_ml100k(tmp_path)
    assert load_dataset(out / "ml-100k.inter").num_interactions == 100000
