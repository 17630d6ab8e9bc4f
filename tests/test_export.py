"""ONNX export (posevideo/export.py, `posevideo export`) and the demo server's plumbing (no browser)."""
from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from click.testing import CliRunner

from posevideo.cli import cli
from posevideo.errors import InputError
from posevideo.export import FILES, export_generator, read_export, skeleton_inputs
from posevideo.renderer.model import Generator, make_generator, preset
from posevideo.training import save_checkpoint

PLACEMENT = {"center": [128.0, 110.0], "scale": 80.0, "box": [8.0, 10.0, 240.0], "width": 256, "height": 256,
             "layout": "reduced", "speaker": "synthetic_0"}


def lively_generator(name: str = "small", size: int = 256, seed: int = 0, **overrides) -> Generator:
    """A generator whose outputs use the whole [-1, 1] range: PyTorch's default (Kaiming) init and
    random BatchNorm statistics instead of pix2pix's N(0, 0.02), whose untrained outputs are all
    near 0 and would make any parity figure look good. `overrides`: RendererConfig fields (e.g.
    base_size=128 for a two-stage model, whose Enhancer then corrects its first stage's frame)."""
    torch.manual_seed(seed)
    G = make_generator(preset(name, size=size, **overrides))
    for module in G.modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
            module.reset_parameters()
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 2.0)
    return G.eval()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "small"
    G = lively_generator()
    parity = export_generator(G, 256, out, placement=PLACEMENT, source={"preset": "small"})
    return G, out, parity


def test_export_writes_one_file_models_and_a_description(exported):
    _, out, _ = exported
    assert sorted(p.name for p in out.iterdir()) == ["model.fp16.onnx", "model.json", "model.onnx"]
    for precision, name in FILES.items():
        model = onnx.load(str(out / name))  # one file: loading needs nothing beside it
        onnx.checker.check_model(model)
        assert {o.domain or "ai.onnx": o.version for o in model.opset_import}["ai.onnx"] == 18
        assert not any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer)
        (inp,), (outp,) = model.graph.input, model.graph.output
        assert (inp.name, outp.name) == ("skeleton", "frame")
        # float32 in and out for both files, so a runtime feeds them alike
        assert inp.type.tensor_type.elem_type == outp.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
        dims = [d.dim_value for d in inp.type.tensor_type.shape.dim]
        assert dims == [1, 3, 256, 256]
    half = onnx.load(str(out / "model.fp16.onnx"))
    assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in half.graph.initializer)
    ratio = (out / "model.fp16.onnx").stat().st_size / (out / "model.onnx").stat().st_size
    assert 0.45 < ratio < 0.6

    description = read_export(out)
    assert description["resolution"] == 256 and description["opset"] == 18
    assert description["inputs"][0]["shape"] == [1, 3, 256, 256] and description["inputs"][0]["range"] == [-1.0, 1.0]
    assert description["outputs"][0]["name"] == "frame"
    assert description["placement"]["box"] == PLACEMENT["box"]
    spec = json.loads((Path(__file__).parents[1] / "posevideo" / "skeleton_spec.json").read_text())
    assert description["skeleton_spec"] == spec


def test_parity_figures_are_true_and_small(exported):
    """The figures printed are what onnxruntime gives here, and they are small against the output
    range [-1, 1]; the float16 file differs more, but by less than one uint8 level (1/127.5) ~ 0.008,
    on average."""
    G, out, parity = exported
    images = skeleton_inputs(256, count=2, seed=1)
    with torch.no_grad():
        expected = G(torch.from_numpy(images)).numpy()
    assert expected.std() > 0.1  # spread outputs (pix2pix's init gives ~0.01: see lively_generator)
    got = {}
    for precision, name in FILES.items():
        session = ort.InferenceSession(str(out / name), providers=["CPUExecutionProvider"])
        got[precision] = np.concatenate([session.run(None, {"skeleton": x[None]})[0] for x in images])
    assert np.abs(got["float32"] - expected).max() < 1e-4
    assert np.abs(got["float16"] - expected).mean() < 1 / 127.5
    assert parity.float32 < 1e-4 and parity.float16 < 0.1
    assert read_export(out)["parity"]["float32"] == parity.float32


def test_skeleton_inputs_are_skeleton_images():
    images = skeleton_inputs(256, count=2)
    assert images.shape == (2, 3, 256, 256) and images.dtype == np.float32
    assert images.min() == -1.0 and images.max() <= 1.0
    assert 0.02 < (images.max(axis=1) > -1).mean() < 0.2  # mostly black background, some limbs


def test_cli_export_from_a_checkpoint_prints_parity(tmp_path):
    run = tmp_path / "run"
    G = lively_generator(size=64)
    meta = {"kind": "renderer", "step": 7, "model": preset("small", size=64).to_dict(),
            "train": {"preset": "small"}, "stats": PLACEMENT}
    save_checkpoint(run / "checkpoints" / "step-0000007", {"G": G}, None, meta, dtype=torch.float16)
    result = CliRunner().invoke(cli, ["export", "--renderer", str(run), "--out", str(tmp_path / "onnx")])
    assert result.exit_code == 0, result.output
    assert "parity with PyTorch" in result.output and "float32" in result.output and "float16" in result.output
    description = read_export(tmp_path / "onnx")
    assert description["resolution"] == 64
    assert description["source"]["step"] == 7 and description["source"]["preset"] == "small"
    assert description["placement"]["center"] == PLACEMENT["center"]


def test_serve_exports_a_run_folder_once_into_the_cache(tmp_path, monkeypatch):
    from posevideo.web.serve import resolve_model

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    run = tmp_path / "run"
    meta = {"kind": "renderer", "step": 3, "model": preset("small", size=32).to_dict(), "stats": PLACEMENT}
    save_checkpoint(run / "checkpoints" / "step-0000003", {"G": lively_generator(size=32)}, None, meta)
    said = []
    first = resolve_model(run, echo=said.append)
    assert first.parent == tmp_path / "cache" / "posevideo" / "exports"
    assert read_export(first)["source"]["step"] == 3 and any("parity" in line for line in said)
    said.clear()
    assert resolve_model(run, echo=said.append) == first and not said  # cached: no second export
    assert resolve_model(first) == first                                # an export folder as it is
    with pytest.raises(InputError, match="neither an export folder"):
        resolve_model(tmp_path / "cache")


def test_cli_export_refuses_a_folder_without_checkpoint(tmp_path):
    result = CliRunner().invoke(cli, ["export", "--renderer", str(tmp_path), "--out", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert "neither a checkpoint folder nor a run folder" in result.output
    assert not (tmp_path / "x").exists()


def test_read_export_names_what_is_missing(tmp_path, exported):
    with pytest.raises(InputError, match="no model.json"):
        read_export(tmp_path)
    _, out, _ = exported
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "model.json").write_text((out / "model.json").read_text())
    with pytest.raises(InputError, match="missing from the export folder"):
        read_export(partial)


# --- the demo server (HTTP only; the page itself is tested in test_web.py) ---------------------------

@pytest.fixture(scope="module")
def server(exported):
    from posevideo.web.serve import make_server

    srv = make_server(exported[1], "127.0.0.1", 0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def fetch(url, data=None, headers=None):
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def test_server_isolates_the_page_and_serves_only_what_it_should(server):
    status, headers, body = fetch(server + "/")
    assert status == 200 and b"app.js" in body
    # COOP + COEP make the page cross-origin isolated: SharedArrayBuffer, so WASM threads.
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert headers["Cross-Origin-Embedder-Policy"] == "require-corp"
    status, headers, _ = fetch(server + "/node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm")
    assert status == 200 and headers["Content-Type"] == "application/wasm"
    assert fetch(server + "/model/model.onnx")[0] == 200
    assert fetch(server + "/skeleton_spec.json")[0] == 200
    for path in ("/serve.py", "/node_modules/protobufjs/package.json", "/model/../serve.py", "/%2e%2e/cli.py",
                 "/model/", "/node_modules/"):
        assert fetch(server + path)[0] == 404, path


def test_server_converts_pose_files_and_reports_bad_ones(server, tmp_path):
    from posevideo.skeleton import EXAMPLE

    status, _, body = fetch(server + "/api/pose", EXAMPLE.read_bytes(), {"X-Filename": "talk.pose"})
    pose = json.loads(body)
    assert status == 200 and pose["name"] == "talk.pose" and pose["points"] == 178
    assert len(pose["xy"]) == pose["frames"] * 178 * 2 and len(pose["boxes"]) == pose["frames"] * 3
    # placed in the trained person's frame: the model's median box on every frame
    assert pose["placed"] and pose["boxes"][:3] == PLACEMENT["box"]
    status, _, body = fetch(server + "/api/pose", b"not a pose at all", {"X-Filename": "notes.pose"})
    assert status == 400
    error = json.loads(body)["error"]
    assert error.startswith("notes.pose: ") and "not a .pose file" in error and str(tmp_path) not in error
