"""Two-stage renderer (issue 14, pix2pixHD's coarse-to-fine): a first stage at S/2 under an Enhancer
to S. Sizes here are 32 -> 64 (the code is size-generic; 256 -> 512 in use): it trains with the
first stage held then joint, resumes exactly, loads through safetensors, renders at both sizes,
evaluates, and exports as one ONNX graph that equals PyTorch."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner

from posevideo.cli import cli
from posevideo.errors import InputError
from posevideo.renderer.model import RendererConfig, TwoStage, discriminators, make_generator
from posevideo.renderer.predict import generate, load_renderer, render_poses
from posevideo.renderer.train import TrainConfig, train
from posevideo.training import load_checkpoint
from test_renderer import sigterm_at, tiny_bank

BASE = RendererConfig(size=32, ngf=8, ndf=8, enhancer_ngf=32)  # as a one-stage run stored it before 2026-12-06
TWO = RendererConfig(size=64, ngf=8, ndf=8, base_size=32, enhancer_ngf=8, enhancer_blocks=1, face_d=1.0, hand_d=0.5)
REFINED = RendererConfig(size=64, ngf=8, ndf=8, base_size=32, enhancer_ngf=8, enhancer_blocks=1, hand_refiner_ngf=8,
                         hand_refiner_blocks=1)


def _cfg(out, steps, **kw):
    return TrainConfig(out=str(out), steps=steps, batch=4, device="cpu", jitter=kw.pop("jitter", 0.05), log_every=2,
                       image_every=10 ** 6, checkpoint_every=10 ** 6, size=64, **kw)


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    """A 3-step one-stage run at 32 px: the first stage."""
    run = tmp_path_factory.mktemp("base") / "run"
    train(TrainConfig(out=str(run), steps=3, batch=4, device="cpu", log_every=3, image_every=10 ** 6,
                      checkpoint_every=10 ** 6, size=32), tiny_bank(), BASE)
    return run


def _weights(run, cfg=TWO):
    G, Ds = make_generator(cfg), discriminators(cfg)
    load_checkpoint(run, {"G": G, **Ds})
    return G, Ds


def test_an_untrained_enhancer_gives_the_first_stage_upsampled():
    """The Enhancer's last layer starts at zero: the two-stage model begins as its first stage on the
    2x2-averaged skeleton, upsampled; configs refuse what is not two stages of x2."""
    torch.manual_seed(0)
    G = make_generator(TWO).eval()
    assert isinstance(G, TwoStage) and TWO.sizes == (32, 64) and TWO.base().to_dict()["size"] == 32
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        y = G(x)
        up = F.interpolate(G.base(F.avg_pool2d(x, 2)), scale_factor=2, mode="bilinear", align_corners=False)
    assert y.shape == (2, 3, 64, 64) and (y - up).abs().max() < 1e-5
    with pytest.raises(ValueError, match="base_size"):
        RendererConfig(size=64, base_size=16)
    with pytest.raises(ValueError, match="temporal"):
        RendererConfig(size=64, base_size=32, temporal=True)


def test_two_stages_train_with_the_first_held_then_joint_and_resume_exactly(tmp_path, monkeypatch, base_run):
    """--upsample-from: the first stage starts as the 32 px run's generator and stays exactly so
    (weights and BatchNorm statistics) for --freeze-base steps; after them it trains too. A run cut
    by SIGTERM at step 3 (inside the held phase) and resumed ends bit for bit as one run straight
    through, with the face and hand discriminators at the full size."""
    first = make_generator(BASE)
    load_checkpoint(base_run, {"G": first})
    cfg = dict(upsample_from=str(base_run), stages=2, face_d=1.0, hand_d=0.5, enhancer_ngf=8, enhancer_blocks=1)
    assert TrainConfig(out="x", size=64, **cfg).model_config() == TWO           # the first stage's config, at 64
    # the Enhancer's width the first stage's run stored (its day's default) is not inherited
    made = TrainConfig(out="x", size=64, upsample_from=str(base_run)).model_config()
    assert (made.base_size, made.enhancer_ngf, made.enhancer_blocks) == (32, 64, 3)   # RendererConfig's defaults

    held = train(_cfg(tmp_path / "held", 3, freeze_base=3, **cfg), tiny_bank(size=64))
    G, _ = _weights(held)
    for (name, a), b in zip(G.base.state_dict().items(), first.state_dict().values()):
        assert torch.equal(a, b), name
    assert not torch.equal(G.enhancer.out[1].weight, torch.zeros_like(G.enhancer.out[1].weight))

    train(_cfg(tmp_path / "whole", 6, freeze_base=3, **cfg), tiny_bank(size=64))
    with sigterm_at(monkeypatch, 3):
        assert train(_cfg(tmp_path / "cut", 6, freeze_base=3, **cfg), tiny_bank(size=64)).name == "step-0000003"
    train(_cfg(tmp_path / "cut", 6, freeze_base=3, resume=True, **cfg), tiny_bank(size=64))
    (Gw, Dw), (Gc, Dc) = _weights(tmp_path / "whole"), _weights(tmp_path / "cut")
    for a, b in zip([*Gw.state_dict().values(), *(t for D in Dw.values() for t in D.state_dict().values())],
                    [*Gc.state_dict().values(), *(t for D in Dc.values() for t in D.state_dict().values())]):
        assert torch.equal(a, b)
    assert not torch.equal(Gw.base.down[0][0].weight, first.down[0][0].weight)  # joint after step 3
    meta = json.loads((tmp_path / "cut" / "checkpoints" / "step-0000006" / "checkpoint.json").read_text())
    assert meta["sizes"] == [32, 64] and meta["model"]["base_size"] == 32
    line = json.loads((tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()[-1])
    assert all(np.isfinite(line[k]) for k in ("loss_d", "loss_g_face", "loss_g_hand", "loss_l1"))

    # A first stage that does not fit: one line naming the run.
    with pytest.raises(InputError, match="cannot be the first stage of a 128px model"):
        TrainConfig(out="x", size=128, upsample_from=str(base_run)).model_config()


def test_two_stage_renders_evaluates_and_exports_at_both_sizes(tmp_path):
    """A two-stage model (trained with --pair-l1, which changes nothing it exports): load_renderer
    gives the whole model at 64 and its first stage alone at 32 (any other size: one line); render
    and evaluate take the size; the ONNX export is one graph, skeleton 64 in, frame 64 out, equal to
    PyTorch; the shipped float16 form loads back."""
    from posevideo.export import export_run
    from posevideo.renderer.data import write_bank
    from posevideo.skeleton import EXAMPLE
    from posevideo.pose import arrays, read_pose
    from posevideo.video import probe
    import onnx
    run = tmp_path / "run"
    train(_cfg(run, 2, stages=2, enhancer_ngf=8, enhancer_blocks=1), tiny_bank(size=64),   # trained on pairs too
          RendererConfig(size=64, ngf=8, ndf=8, base_size=32, enhancer_ngf=8, enhancer_blocks=1, pair_l1=1.0))
    assert json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])["loss_l1_pair"] > 0
    G, meta = load_renderer(run)
    small, small_meta = load_renderer(run, size=32)
    assert isinstance(G, TwoStage) and meta["model"]["size"] == 64 and small_meta["model"]["size"] == 32
    assert small is not G and not isinstance(small, TwoStage)
    with pytest.raises(InputError, match="makes 32px and 64px frames, not 128px"):
        load_renderer(run, size=128)

    xy, conf = arrays(read_pose(EXAMPLE))
    for size in (None, 32):
        out = tmp_path / f"out{size}.mp4"
        render_poses(xy[:6], conf[:6], 10.0, run, out, device="cpu", progress=False, size=size)
        assert probe(out).frames == 6 and probe(out).width == (size or 64)
    result = CliRunner().invoke(cli, ["render", "--pose", str(EXAMPLE), "--model", str(run), "--out",
                                      str(tmp_path / "x.mp4"), "--size", "512", "--device", "cpu"])
    assert result.exit_code == 2 and "not 512px" in result.output and "Traceback" not in result.output

    # A bank packed at 64 serves both sizes: at 32 it is halved (2x2 means, as the first stage sees).
    write_bank({"test": tiny_bank(8, size=64)}, tmp_path / "bank")
    from posevideo.renderer.data import load_frames, read_bank
    whole, half = read_bank(tmp_path / "bank", "test"), load_frames(tmp_path / "bank", None, 32, "test")
    assert half.size == 32 and np.array_equal(half.meta["regions"][:, 0], whole.meta["regions"][:, 0] / 2)
    want = F.avg_pool2d(whole.skeletons.permute(0, 3, 1, 2).float(), 2).round().permute(0, 2, 3, 1)
    assert torch.equal(half.skeletons, want.to(torch.uint8)) and (half.regions[:, 1] == -1).all()
    from posevideo.renderer.evaluate import evaluate
    for size in (None, 32):
        result = evaluate(run, tmp_path / "bank", tmp_path / f"eval{size}.json", device="cpu", size=size)
        assert 0 < result["metrics"]["psnr_frame"] < 100 and result["metrics"]["psnr_hands"] is not None

    parity = export_run(run, tmp_path / "onnx")
    model = onnx.load(str(tmp_path / "onnx" / "model.onnx"))
    assert [i.name for i in model.graph.input] == ["skeleton"]
    assert [d.dim_value for d in model.graph.output[0].type.tensor_type.shape.dim] == [1, 3, 64, 64]
    description = json.loads((tmp_path / "onnx" / "model.json").read_text())
    assert description["resolution"] == 64 and description["stages"] == [32, 64]
    assert parity.float32 < 1e-4 and parity.float16 < 0.05

    from posevideo.renderer.predict import ship
    ship(run, tmp_path / "ship")
    shipped, _ = load_renderer(tmp_path / "ship")
    skeletons = tiny_bank(4, size=64).skeletons.numpy()
    assert np.abs(generate(shipped, skeletons, "cpu").astype(int) - generate(G, skeletons, "cpu")).max() <= 3


def test_onnx_of_a_lively_two_stage_model_equals_pytorch(tmp_path):
    """Random weights that use the whole output range (the Enhancer's last layer not zero): parity
    of the one graph with PyTorch, float32 and float16."""
    from posevideo.export import export_generator, skeleton_inputs
    from test_export import lively_generator
    G = lively_generator("small", size=64, base_size=32, enhancer_ngf=8, enhancer_blocks=1)
    x = torch.from_numpy(skeleton_inputs(64, count=2))
    with torch.no_grad():
        assert (G(x) - F.interpolate(G.base(F.avg_pool2d(x, 2)), scale_factor=2, mode="bilinear")).abs().max() > 0.1
    parity = export_generator(G, 64, tmp_path / "onnx")
    assert parity.float32 < 1e-4 and parity.float16 < 0.05


def test_max_minutes_stops_with_a_checkpoint(tmp_path):
    """--max-minutes: a time budget from the first step (the GPU comparison gives both models the
    same seconds); spent, the run saves and stops as after a signal."""
    last = train(TrainConfig(out=str(tmp_path / "run"), steps=50, batch=2, device="cpu", log_every=10,
                             image_every=10 ** 6, checkpoint_every=10 ** 6, size=32, max_minutes=1e-9), tiny_bank(), BASE)
    assert last.name == "step-0000001"


def test_cli_trains_both_stages_from_one_512_bank(tmp_path):
    """The command line end to end: a 256 first stage on a 512 bank (halved), then `--size 512
    --upsample-from` it; a 512 run is refused as a first stage with one line."""
    from posevideo.renderer.data import write_bank
    write_bank({"train": tiny_bank(4, size=512)}, tmp_path / "bank")
    base = ["train", "renderer", "--data", str(tmp_path / "bank"), "--preset", "small", "--batch", "1", "--steps", "1",
            "--device", "cpu", "--no-compile"]
    result = CliRunner().invoke(cli, [*base, "--size", "256", "--out", str(tmp_path / "r256")])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(cli, [*base, "--size", "512", "--upsample-from", str(tmp_path / "r256"),
                                      "--enhancer-ngf", "4", "--enhancer-blocks", "1", "--out", str(tmp_path / "r512")])
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "r512" / "config.json").read_text())
    assert config["model"]["base_size"] == 256 and config["model"]["ngf"] == 16 and config["train"]["stages"] == 2
    result = CliRunner().invoke(cli, [*base, "--size", "512", "--upsample-from", str(tmp_path / "r512"),
                                      "--out", str(tmp_path / "bad")])
    assert result.exit_code == 2 and "cannot be the first stage" in result.output and "Traceback" not in result.output


def test_a_saturated_first_stage_gives_finite_gradients_under_bf16_autocast():
    """Regression: on a GPU the first stage's frame comes in bfloat16, where the Enhancer's clamp at
    +-0.999 rounds to +-1 and atanh to infinity: 0 x inf = NaN gradients into both stages where the
    frame is saturated (a black background is exactly -1). The Enhancer combines in float32."""
    torch.manual_seed(0)
    G = make_generator(REFINED)                                                  # with a hand refiner too
    with torch.no_grad():
        G.base.up[0][1].bias.fill_(-20.0)                                        # the first stage's frame: all -1
        torch.nn.init.normal_(G.refiner.out[1].weight, 0, 0.02)
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    hands = torch.tensor([[[10, 12, 30, 32], [40, 40, 60, 60]]] * 2, dtype=torch.float32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = G(x, hands=hands)
    assert y.dtype == torch.float32
    (y - torch.zeros_like(y)).abs().mean().backward()
    for name, p in G.named_parameters():
        assert p.grad is None or torch.isfinite(p.grad).all(), name


@pytest.mark.parametrize("stride", [2, 1])
def test_a_hand_refiner_changes_only_the_hands_boxes(stride):
    """The hand refiner (Everybody Dance Now's face residual, for hands), working at half the crop's
    side or at its full side: untrained it changes nothing;
    with weights it changes each seen hand's box and nothing else (an unseen hand, -1, nothing at all);
    its crops read the left hand mirrored and its paste puts a crop back where it came from; without
    the boxes it refuses, and a temporal model cannot have one."""
    from dataclasses import replace
    from posevideo.renderer.model import HandRefiner
    torch.manual_seed(0)
    G = make_generator(replace(REFINED, hand_refiner_stride=stride)).eval()
    assert isinstance(G.refiner.out[1], torch.nn.ConvTranspose2d if stride == 2 else torch.nn.Conv2d)
    assert G.needs_hands and not make_generator(TWO).needs_hands
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    hands = torch.tensor([[[10, 12, 30, 32], [-1, -1, -1, -1]], [[40, 40, 60, 60], [5, 5, 25, 25]]], dtype=torch.float32)
    with torch.no_grad():
        assert torch.equal(G(x, hands=hands), G.unrefined(x))
        torch.nn.init.normal_(G.refiner.out[1].weight, 0, 0.5)
        change = (G(x, hands=hands) - G.unrefined(x)).abs().sum(1)              # (2, 64, 64)
    inside = torch.zeros_like(change, dtype=torch.bool)
    inside[0, 12:32, 10:30] = inside[1, 40:60, 40:60] = inside[1, 5:25, 5:25] = True
    assert change[~inside].max() == 0
    assert change[0, 16:28, 14:26].mean() > 0.01 and change[1, 44:56, 44:56].mean() > 0.01
    with pytest.raises(ValueError, match="hands"):
        G(x)

    # the geometry on a smooth image: cut then paste is the image inside the box, for either hand
    R = G.refiner
    yy, xx = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    image = torch.stack([xx / 64, yy / 64, xx * yy / 4096])[None].repeat(2, 1, 1, 1)
    centre, half, seen = HandRefiner.frames_of(hands, 64)
    crops = R.cut(torch.cat([image, image]), centre, half)                       # left hands, then right
    direct = F.interpolate(image[:1, :, 12:32, 10:30], size=R.side, mode="bilinear", align_corners=False)
    assert (crops[0, :, 2:-2, 2:-2] - direct[0, :, 2:-2].flip(-1)[..., 2:-2]).abs().max() < 1e-5   # mirrored
    values, index = R.paste(crops, centre, half, 64)
    back = torch.zeros(4, 3, 64 * 64).scatter_add(2, index.flatten(1)[:, None].expand(-1, 3, -1), values.flatten(2))
    back = back.view(4, 3, 64, 64)
    assert (back[0, :, 13:31, 11:29] - image[0, :, 13:31, 11:29]).abs().max() < 1e-5      # the left hand
    assert (back[3, :, 6:24, 6:24] - image[1, :, 6:24, 6:24]).abs().max() < 1e-5          # the right hand
    assert seen.flatten().tolist() == [True, True, False, True]
    with pytest.raises(ValueError, match="a hand refiner cannot be temporal"):
        RendererConfig(size=64, hand_refiner_ngf=8, temporal=True)
    with pytest.raises(ValueError, match="hand_refiner_stride must be 1"):
        RendererConfig(size=64, hand_refiner_ngf=8, hand_refiner_stride=4)


def test_a_hand_refiner_trains_renders_evaluates_and_exports(tmp_path, base_run):
    """`--hand-refiner-ngf` on a two-stage run: the boxes come from the bank in training and
    evaluation and from the drawn pose in `render`; the export takes them as a second input,
    "hands", and equals PyTorch; a bank without hand boxes is refused with one line."""
    from posevideo.export import export_run
    from posevideo.renderer.data import write_bank
    from posevideo.renderer.evaluate import evaluate
    from posevideo.skeleton import EXAMPLE
    from posevideo.pose import arrays, read_pose
    from posevideo.video import probe
    import onnx
    cfg = dict(upsample_from=str(base_run), stages=2, enhancer_ngf=8, enhancer_blocks=1, hand_refiner_ngf=8,
               hand_refiner_blocks=1)
    run = train(_cfg(tmp_path / "run", 3, freeze_base=1, **cfg), tiny_bank(size=64))
    G, _ = _weights(run, TrainConfig(out="x", size=64, **cfg).model_config())
    assert G.refiner.out[1].weight.abs().sum() > 0                               # it learnt (from zero)

    xy, conf = arrays(read_pose(EXAMPLE))
    render_poses(xy[:6], conf[:6], 10.0, run, tmp_path / "out.mp4", device="cpu", progress=False)
    assert probe(tmp_path / "out.mp4").frames == 6
    write_bank({"test": tiny_bank(8, size=64)}, tmp_path / "bank")
    result = evaluate(run, tmp_path / "bank", tmp_path / "eval.json", device="cpu")
    assert 0 < result["metrics"]["psnr_hands"] < 100

    parity = export_run(run, tmp_path / "onnx")
    assert [i.name for i in onnx.load(str(tmp_path / "onnx" / "model.onnx")).graph.input] == ["skeleton", "hands"]
    description = json.loads((tmp_path / "onnx" / "model.json").read_text())
    assert [i["name"] for i in description["inputs"]] == ["skeleton", "hands"]
    assert parity.float32 < 1e-4 and parity.float16 < 0.05

    bank = tiny_bank(size=64)
    bank.regions[:, :2] = -1                                                     # no hand seen anywhere
    with pytest.raises(InputError, match="no hand boxes, so the hand refiner"):
        train(_cfg(tmp_path / "none", 1, **cfg), bank)


@pytest.mark.parametrize("stride", [2, 1])
def test_onnx_of_a_lively_hand_refiner_equals_pytorch(tmp_path, stride):
    """Random weights everywhere (the refiner's last layer not zero): the graph with its second input
    equals PyTorch on skeletons and their own hands' boxes, float32 and float16, with the refiner at
    half the crop's side or at its full side."""
    from posevideo.export import example_hands, export_generator, skeleton_inputs
    from test_export import lively_generator
    G = lively_generator("small", size=64, base_size=32, enhancer_ngf=8, enhancer_blocks=1, hand_refiner_ngf=8,
                         hand_refiner_blocks=1, hand_refiner_stride=stride)
    x, hands = torch.from_numpy(skeleton_inputs(64, count=2)), torch.from_numpy(example_hands(64, count=2))
    assert (hands[:, :, 0] >= 0).all()                                           # both hands in both poses
    with torch.no_grad():
        assert (G(x, hands=hands) - G.unrefined(x)).abs().max() > 0.1
    parity = export_generator(G, 64, tmp_path / "onnx")
    assert parity.float32 < 1e-4 and parity.float16 < 0.05
