"""``chord export``: the model file of the Python-free runtime (read back here with safetensors;
the C reader is tested in tests/capi/)."""

import json

import pytest
import torch
from safetensors import safe_open

from chord import Strategy, model_fingerprint, quantizable_layers, quantize_
from chord.checkpoint import save_checkpoint
from chord.cli import main
from chord.export import export_model
from chord.models import Caser, SASRec


def _header(path):
    with safe_open(str(path), "np") as f:
        return json.loads(f.metadata()["chord"]), {k: f.get_tensor(k) for k in f.keys()}


@pytest.mark.parametrize(
    "make,emb",
    [
        (lambda: SASRec(30, dim=8, max_len=6, dropout=0.0), False),
        (lambda: Caser(30, dim=8, L=3, n_v=2, n_h=2, num_users=4, dropout=0.0), True),
    ],
)
def test_export_writes_every_layer_and_the_fingerprint(tmp_path, make, emb):
    torch.manual_seed(0)
    model = make().eval()
    export_model(model, tmp_path / "m.chord", embeddings=emb)
    head, tensors = _header(tmp_path / "m.chord")
    assert head["format"] == "chord.model" and head["version"] == 1
    assert head["fingerprint"] == model_fingerprint(model).hex()
    layers = quantizable_layers(model, embeddings=emb)
    assert [l["name"] for l in head["layers"]] == list(layers)
    for name, li in layers.items():  # the frozen weight a strategy re-packs, bit for bit
        w = li.module.weight.detach().reshape(li.channels, -1).numpy()
        assert (tensors[f"{name}.weight"] == w).all()


def test_export_refuses_a_quantized_model(tmp_path):
    model = SASRec(30, dim=8, max_len=6, dropout=0.0).eval()
    quantize_(model, bits=4)
    with pytest.raises(ValueError, match="already quantized"):
        export_model(model, tmp_path / "m.chord")


def test_export_cli_from_a_checkpoint(tmp_path, capsys):
    torch.manual_seed(0)
    model = SASRec(30, dim=8, max_len=6, dropout=0.0).eval()
    save_checkpoint(tmp_path / "ckpt", model)
    assert (
        main(
            [
                "export",
                str(tmp_path / "ckpt"),
                "-o",
                str(tmp_path / "m.chord"),
                "--demo-strategy",
                str(tmp_path / "s.bin"),
                "--avg-bits",
                "3",
            ]
        )
        == 0
    )
    head, _ = _header(tmp_path / "m.chord")
    s = Strategy.from_bytes((tmp_path / "s.bin").read_bytes(), expected_fingerprint=bytes.fromhex(head["fingerprint"]))
    assert s.layer_names == [l["name"] for l in head["layers"]]
    assert "wrote" in capsys.readouterr().out
