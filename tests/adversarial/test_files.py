"""Files from outside: data sets, checkpoints, MixedWeight safetensors -- bounded reads, text
decoded with a clear error, every error naming the file (and line / field)."""

from __future__ import annotations

import json
import os

import pytest
import torch

from chord import FormatError, MixedWeight
from chord.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from chord.data.formats import DataFormatError, read_file

from .helpers import clear_error, correct, packed

FORMATS = ["sasrec", "s3rec", "atomic", "movielens"]
GOOD = {
    "sasrec": "1 2\n1 3\n2 4\n",
    "s3rec": "1 2 3\n2 4 5\n",
    "atomic": "user_id:token\titem_id:token\ttimestamp:float\n1\t2\t10\n1\t3\t11\n2\t4\t5\n",
    "movielens": "1::2::5::10\n1::3::4::11\n2::4::3::5\n",
}
BAD_TEXT = {
    "binary": bytes(range(256)) * 4,
    "latin1": "1 2\n1 caf\xe9\n".encode("latin-1"),
    "nul": b"1 2\n\x00\x00\x00\n",
    "no-newline-huge": b"1" * ((1 << 20) + 10),
    "empty": b"",
    "id-beyond-int64": None,  # per format below
}


def _write(tmp_path, fmt, data: bytes):
    name = {"atomic": "x.inter", "movielens": "ratings.dat"}.get(fmt, "x.txt")
    p = tmp_path / name
    p.write_bytes(data)
    return p


@clear_error
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", ["binary", "latin1", "nul", "no-newline-huge", "empty"])
def test_bad_text_names_file_and_line(tmp_path, fmt, kind):
    data = BAD_TEXT[kind]
    if fmt == "atomic" and kind != "empty":
        data = GOOD["atomic"].split("\n")[0].encode() + b"\n" + data
    p = _write(tmp_path, fmt, data)
    with pytest.raises(DataFormatError) as e:
        read_file(p, fmt)
    assert str(p) in str(e.value) and e.value.line_no >= 1


@clear_error
@pytest.mark.parametrize("fmt", ["sasrec", "s3rec", "movielens"])
@pytest.mark.parametrize("big", ["99999999999999999999999", "2147483648", "-5", "0"])
def test_ids_out_of_range(tmp_path, fmt, big):
    line = {"sasrec": f"1 {big}\n", "s3rec": f"3 2 {big}\n", "movielens": f"1::{big}::5::10\n"}[fmt]
    p = _write(tmp_path, fmt, (GOOD[fmt] + line).encode())
    with pytest.raises(DataFormatError, match=r"item: expected a positive integer id"):
        read_file(p, fmt)


@correct
def test_atomic_tokens_beyond_int64_are_mapped(tmp_path):
    p = _write(tmp_path, "atomic", (GOOD["atomic"] + "3\t99999999999999999999999\t12\n").encode())
    ds = read_file(p, "atomic")
    assert ds.num_items == 4 and ds.num_interactions == 4


@clear_error
@pytest.mark.parametrize("fmt", ["atomic", "movielens"])
@pytest.mark.parametrize("ts", ["nan", "inf", "-inf", "NaN", "1e999"])
def test_non_finite_timestamps(tmp_path, fmt, ts):
    line = {"atomic": f"3\t5\t{ts}\n", "movielens": f"3::5::1::{ts}\n"}[fmt]
    p = _write(tmp_path, fmt, (GOOD[fmt] + line).encode())
    with pytest.raises(DataFormatError, match="timestamp: expected a finite number"):
        read_file(p, fmt)


@clear_error
@pytest.mark.parametrize("fmt", FORMATS)
def test_dev_zero_is_not_read(fmt):
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero")
    with pytest.raises(DataFormatError, match="not a regular file"):
        read_file("/dev/zero", fmt)


@clear_error
def test_detect_format_dev_zero():
    with pytest.raises(DataFormatError, match="not a regular file"):
        read_file("/dev/zero")


@correct
@pytest.mark.parametrize("fmt", FORMATS)
def test_good_files_still_parse(tmp_path, fmt):
    ds = read_file(_write(tmp_path, fmt, GOOD[fmt].encode()), fmt)
    assert ds.num_users == 2


# -- checkpoints -----------------------------------------------------------------------------------
@pytest.fixture
def ckpt(tmp_path):
    from chord.models import SASRec

    torch.manual_seed(0)
    m = SASRec(num_items=30, dim=16, blocks=1, heads=1, max_len=10)
    return save_checkpoint(tmp_path / "ck", m), m


def _config(d):
    return json.loads((d / "config.json").read_text())


@clear_error
@pytest.mark.parametrize(
    "edit, rx",
    [
        (lambda c: c["model"].update(num_items=10**11), r"model.safetensors: tensor 'item_emb.weight' has shape"),
        (lambda c: c["model"].update(dim=2**40), r"has shape|field 'model': does not describe a model"),
        (lambda c: c["model"].update(max_len=10**9), r"has shape|would allocate"),
        (lambda c: c["model"].update(model="nope"), r"config.json: field 'model'"),
        (lambda c: c["model"].update(bogus=1), r"config.json: field 'model'"),
        (lambda c: c.update(model=[1, 2]), r"config.json: field 'model': expected an object"),
        (lambda c: c.pop("model"), r"config.json: field 'model': expected an object"),
    ],
)
def test_checkpoint_config_fields(ckpt, edit, rx):
    d, _ = ckpt
    c = _config(d)
    edit(c)
    (d / "config.json").write_text(json.dumps(c))
    with pytest.raises(CheckpointError, match=rx):
        load_checkpoint(d)


@clear_error
@pytest.mark.parametrize(
    "content, rx",
    [
        (b"[1, 2, 3]", "expected a JSON object, got a list"),
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe\x00", "not UTF-8"),
        (b"[" * 100000 + b"]" * 100000, "not valid JSON"),
        (b"", "not valid JSON"),
    ],
)
def test_checkpoint_config_content(ckpt, content, rx):
    d, _ = ckpt
    (d / "config.json").write_bytes(content)
    with pytest.raises(CheckpointError, match=rx):
        load_checkpoint(d)


@clear_error
@pytest.mark.parametrize("mutate", ["truncate-half", "truncate-8", "random", "header-huge", "empty"])
def test_checkpoint_weights_file(ckpt, mutate):
    d, _ = ckpt
    p = d / "model.safetensors"
    data = p.read_bytes()
    new = {
        "truncate-half": data[: len(data) // 2],
        "truncate-8": data[:8],
        "random": os.urandom(4096),
        "header-huge": (2**62).to_bytes(8, "little") + data[8:],
        "empty": b"",
    }[mutate]
    p.write_bytes(new)
    with pytest.raises(CheckpointError, match="model.safetensors: not a readable safetensors file"):
        load_checkpoint(d)


@correct
def test_checkpoint_round_trip(ckpt):
    d, m = ckpt
    m2, _ = load_checkpoint(d)
    seq = torch.randint(1, 31, (2, 10))
    m.eval()
    assert torch.equal(m(seq), m2(seq))


# -- MixedWeight files ---------------------------------------------------------------------------
@clear_error
@pytest.mark.parametrize("mutate", ["truncate", "random", "flip-meta", "empty", "shape-mismatch"])
def test_mixed_weight_bytes(mutate):
    mw = packed(8, 64)
    data = mw.to_bytes()
    if mutate == "truncate":
        bad = data[: len(data) - 7]
    elif mutate == "random":
        bad = os.urandom(len(data))
    elif mutate == "flip-meta":
        bad = data.replace(b'"buckets"', b'"bucketz"')
    elif mutate == "empty":
        bad = b""
    else:
        meta = mw.metadata()
        meta["shape"] = "[9, 64]"
        from safetensors.torch import save

        bad = save({k: v for k, v in mw.tensors().items()}, metadata=meta)
    with pytest.raises(FormatError):
        MixedWeight.from_bytes(bad)


@clear_error
def test_mixed_weight_load_dev_zero():
    with pytest.raises(FormatError, match="not a regular file"):
        MixedWeight.load("/dev/zero")
