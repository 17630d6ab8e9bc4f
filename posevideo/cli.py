"""The one `posevideo` command line. Options are typed and validated here, at the edge; the work is
done by functions in the package, imported inside each command so that `--help` stays fast."""
from __future__ import annotations

import atexit
import gc
import sys

import click

from posevideo.errors import InputError


class _Group(click.Group):
    """Turns an `InputError` anywhere below into one line on stderr and exit code 2."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except InputError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(package_name="posevideo")
def cli():
    """Video of a specific person from speech or from poses."""


# --- foundation: synthetic speaker, demo, skeleton -----------------------------------------------------

@cli.command("synth-speaker")
@click.option("--seed", type=int, required=True, help="Picks the voice, the sentences, the look and the gesture style.")
@click.option("--seconds", type=click.FloatRange(1, 3600), required=True, help="Length of the clip.")
@click.option("--out", "out", type=click.Path(file_okay=False), required=True, help="Folder for synthetic_<seed>.mp4/.pose/.json.")
@click.option("--size", type=click.Choice(["256", "512"]), default="256", help="Frame side in pixels.")
@click.option("--fps", type=click.IntRange(1, 120), default=30, help="Video frames per second.")
@click.option("--sentence-bank", is_flag=True,
              help="Read the 497-sentence bank, none twice, with the index's 10 s interval cuts between "
                   "sentences: test intervals hold only sentences train never heard. Default: the 67 bundled "
                   "sentences in a cycle.")
@click.option("--no-draw", is_flag=True,
              help="Flat grey frames (speech and .pose unchanged): gesture data only, several times faster.")
@click.option("--signing", is_flag=True,
              help="The same person signs instead of gesturing (hands at the face, across the body, many "
                   "handshapes, both hands together): renderer training data for sign-language poses. Writes synthetic_<seed>_signing.*")
@click.option("--room", type=click.FloatRange(0, 0.5), default=0.0, show_default=True,
              help="Picture past the --size frame on every side, as a share of it (the video is size x (1 + 2 ROOM) "
                   "square, the person as placed without it): 0.25 keeps the person crop of `prepare` inside the "
                   "picture, so renderer data has no repeated-edge streaks under the body.")
@click.option("--sleeves", type=click.Choice(["long", "short", "none"]), default=None,
              help="Long, short or no sleeves in place of the seed's (the rest of its look kept); short: bare forearms, "
                   "which MediaPipe reads across the body where dark sleeves on a dark dress are lost; none: bare "
                   "upper arms too.")
@click.option("--wide-arms", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="With --signing: the share of signing holds in which a hand reaches out wide or above the head "
                   "(arms spread, waving), as some drivers do and signing never does. 0: none.")
@click.option("--motion-seed", type=click.IntRange(0), default=None,
              help="The person of --seed (look, size, place) says and moves as this seed would (voice, sentences, "
                   "style, every random choice): more of one person in other styles, drawn as they are drawn. "
                   "Writes synthetic_<seed>_motion<N>*")
def synth_speaker_command(seed, seconds, out, size, fps, sentence_bank, no_draw, signing, room, sleeves, wide_arms,
                          motion_seed):
    """Make a synthetic speaker: video with speech, its ground-truth .pose and a JSON description."""
    from posevideo.synthetic import synth_speaker

    paths = synth_speaker(seed, seconds, out, size=int(size), fps=fps, progress=True, sentence_bank=sentence_bank,
                          draw=not no_draw, signing=signing, room=room, sleeves=sleeves, wide=wide_arms,
                          motion_seed=motion_seed)
    for path in paths.values():
        click.echo(path)


@cli.command("demo")
@click.option("--out", "out", type=click.Path(file_okay=False), default=".", help="Folder for the demo files.")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default=None, help="Default: cuda when there is one.")
def demo_command(out, device):
    """Show what posevideo does: a bundled speech sample -> gestures -> video of the synthetic
    speaker, with the shipped models; writes the video and a side-by-side preview (skeleton | video)."""
    from posevideo.demo import demo

    for path in demo(out, device=device):
        click.echo(path)


@cli.command("skeleton")
@click.option("--pose", "pose_path", type=click.Path(dir_okay=False), required=True, help="A .pose file (holistic, reduced or s2g49).")
@click.option("--out", "out", type=click.Path(dir_okay=False), required=True, help="The stick-figure video, OUT.mp4.")
@click.option("--size", type=click.Choice(["256", "512"]), default="256", help="Video side in pixels.")
@click.option("--crop", type=click.Choice(["person", "frame"]), default="person",
              help="person: the stable person-centred crop the renderer sees; frame: the whole frame, letterboxed.")
def skeleton_command(pose_path, out, size, crop):
    """Draw a .pose file as a skeleton video (the renderer's input image, docs/skeleton-spec.md)."""
    from posevideo.skeleton import write_skeleton_video

    frames = write_skeleton_video(pose_path, out, size=int(size), crop=crop)
    click.echo(f"{out} ({frames} frames)")


# --- data: prepare and index ---------------------------------------------------------------------

def _rgb(ctx, param, value):
    try:
        rgb = tuple(int(v) for v in value.split(","))
        if len(rgb) != 3 or not all(0 <= v <= 255 for v in rgb):
            raise ValueError
    except ValueError:
        raise click.BadParameter("three numbers 0-255, like 0,177,64") from None
    return rgb


def _shard(ctx, param, value):
    if value is None:
        return None
    try:
        i, n = (int(v) for v in value.split("/"))
        if not 0 <= i < n:
            raise ValueError
    except ValueError:
        raise click.BadParameter("i/n with 0 <= i < n, like 0/4 (the first of four parts)") from None
    return i, n


@cli.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option("--speaker", required=True, help="Name of the person (a folder under DATA).")
@click.option("--data", "data", required=True, type=click.Path(file_okay=False), help="Dataset folder.")
@click.option("--size", "sizes", multiple=True, type=click.IntRange(32, 2048), default=(256,),
              help="Crop size in pixels; repeat for several (--size 256 --size 512).")
@click.option("--key", type=click.Choice(["none", "green", "auto"]), default="none",
              help="Green-screen keying: off, on, or on when the video's border is green.")
@click.option("--background", default="0,0,0", callback=_rgb, help="R,G,B replacing the green screen (with --key).")
@click.option("--workers", type=click.IntRange(1, 256), default=1, help="Videos processed in parallel.")
@click.option("--poses-from", type=click.Path(exists=True, file_okay=False), default=None,
              help="Folder of <video>.pose files to use instead of extracting poses.")
@click.option("--shard", callback=_shard, default=None,
              help="i/n: do only the i-th (0-based) of n parts of the inputs; then run `posevideo index`.")
@click.option("--refine-face/--no-refine-face", default=True, help="Holistic's refined face (irises).")
@click.option("--min-seconds", type=click.FloatRange(0.1), default=1.0, help="Shortest interval.")
@click.option("--max-seconds", type=click.FloatRange(1.0), default=10.0, help="Longer intervals are cut.")
def prepare(inputs, speaker, data, sizes, key, background, workers, poses_from, shard, refine_face,
            min_seconds, max_seconds):
    """Videos -> audio, poses, person-centred crops and the dataset index (frames.csv,
    intervals.csv, train.csv, samples). Reruns skip finished work."""
    from posevideo.data.index import IndexOptions
    from posevideo.data.prepare import PrepareOptions, prepare as run, summary_table

    options = PrepareOptions(sizes=tuple(sorted(set(sizes))), key=key, background=background,
                             poses_from=poses_from, refine_face=refine_face)
    if max_seconds < min_seconds:
        raise click.BadParameter("--max-seconds must be at least --min-seconds")
    results, summary = run(list(inputs), speaker, data, options, workers=workers, shard=shard,
                           index_options=IndexOptions(min_seconds=min_seconds, max_seconds=max_seconds),
                           echo=lambda line: click.echo(line, err=True),
                           show_progress=sys.stderr.isatty())  # bars on a terminal; a log file gets lines
    click.echo(summary_table(results, summary, summary["seconds"] if summary else 0.0))
    if shard is not None:
        click.echo(f"shard {shard[0]}/{shard[1]} done; when every shard is, run: posevideo index --data {data}")
    failed = sum(r.status == "failed" for r in results)
    if failed:
        click.echo(f"{failed} of {len(results)} videos failed (see the error lines above)", err=True)
        sys.exit(1)


@cli.command()
@click.option("--data", "data", required=True, type=click.Path(exists=True, file_okay=False), help="Dataset folder.")
@click.option("--from-s2g", "s2g_csv", type=click.Path(exists=True, dir_okay=False), default=None,
              help="speech2gesture's train.csv: import its samples first.")
@click.option("--speaker", default=None, help="With --from-s2g: import only this speaker.")
@click.option("--min-seconds", type=click.FloatRange(0.1), default=1.0, help="Shortest interval.")
@click.option("--max-seconds", type=click.FloatRange(1.0), default=10.0, help="Longer intervals are cut.")
@click.option("--force", is_flag=True, help="Rebuild even when nothing changed.")
def index(data, s2g_csv, speaker, min_seconds, max_seconds, force):
    """(Re)build DATA's index from every finished video: merges what `prepare --shard` runs wrote."""
    from posevideo.data.index import IndexOptions, build_index, import_s2g

    if s2g_csv:
        counts = import_s2g(s2g_csv, data, speaker, show_progress=sys.stderr.isatty())
        click.echo("imported " + ", ".join(f"{k}: {v} samples" for k, v in counts.items()))
    summary = build_index(data, IndexOptions(min_seconds=min_seconds, max_seconds=max_seconds), force=force,
                          show_progress=sys.stderr.isatty())
    s = summary["samples"]
    state = "unchanged, nothing to do" if summary.get("skipped") else f"built in {summary['seconds']:.1f} s"
    click.echo(f"index {state}: {len(summary['speakers'])} speakers, {summary['videos']} videos, "
               f"{summary['frames']} frames, {summary['intervals']} intervals, samples train {s.get('train', 0)}, "
               f"dev {s.get('dev', 0)}, test {s.get('test', 0)}")


# --- train and evaluate (renderer, gestures) -----------------------------------------------------

_resume_option = click.option(
    "--resume", type=click.Path(exists=True, file_okay=False), default=None,
    help="RUN: continue that run exactly where it stopped (step, learning rate, data order, RNG), with its own "
         "options; options given here replace them.")


def _companion(value: str | None) -> str | None:
    """--companion: "signing", or a folder kept whole (a resume runs from any folder)."""
    from pathlib import Path
    if value is None or value == "signing":
        return value
    if not Path(value).is_dir():
        raise click.BadParameter(f"{value}: no such folder (give a pack-frames folder, or 'signing')",
                                 param_hint="'--companion'")
    return str(Path(value).resolve())


def _resumed(options: dict, saved_of, required=("data", "out")) -> dict:
    """`--resume RUN`: the run's stored options (config.json) for every option not given on this
    command line; without it, the options the command needs. Returns the trainer's keyword args."""
    import json
    from pathlib import Path
    from click.core import ParameterSource

    ctx = click.get_current_context()
    run = options.pop("resume")
    if run is None:
        missing = [name for name in required if not options.get(name)]
        if missing:
            raise click.UsageError("missing " + ", ".join(f"--{m}" for m in missing) + " (or --resume RUN)")
        from posevideo.files import check_writable
        check_writable(options["out"])  # a read-only --out: one line before the data are loaded
        return {**options, "resume": False}
    config_path = Path(run) / "config.json"
    try:
        saved = saved_of(json.loads(config_path.read_text()))
    except (OSError, ValueError, KeyError) as error:
        raise InputError(config_path, f"cannot be read as a run's config ({error})",
                         "Give the run folder that `posevideo train` made (it holds config.json).") from None
    if options.get("out") and Path(options["out"]).resolve() != Path(run).resolve():
        raise click.UsageError(f"--out {options['out']} and --resume {run} name different runs; give one")
    for name in options:
        if ctx.get_parameter_source(name) is ParameterSource.DEFAULT and name in saved:
            options[name] = saved[name]
    return {**options, "out": run, "resume": True}


@cli.group(cls=_Group)
def train():
    """Train a model (one per person)."""


@cli.group(cls=_Group)
def evaluate():
    """Evaluate a trained model on a dataset split."""


# --- renderer: presets, render, export ------------------------------------------------------------

_RENDERER_PRESETS = ("esn", "medium", "small")  # keys of posevideo.renderer.model.PRESETS (a test checks)


@cli.command()
def presets():
    """List the renderer presets (parameters and GMACs per frame at 256 and 512) and the v2 options."""
    from posevideo.renderer.model import (PRESETS, TRAINING, Discriminator, Generator, count_macs, count_params,
                                          discriminators, preset)
    click.echo(f"{'preset':<8} {'ngf':>4} {'G params 256':>13} {'G GMAC 256':>11} {'G params 512':>13} "
               f"{'G GMAC 512':>11} {'D params':>9} {'D GMAC 256':>11}")
    import torch
    for name in PRESETS:
        row = []
        for size in (256, 512):
            with torch.device("meta"):  # shapes only, no weights: instant
                G = Generator(preset(name, size=size))
            row += [count_params(G) / 1e6, count_macs(G, (1, 3, size, size)) / 1e9]
        cfg = preset(name)
        with torch.device("meta"):
            D = Discriminator(cfg)
        d_macs = count_macs(D, (1, 3, 256, 256), (1, 3, 256, 256)) / 1e9
        click.echo(f"{name:<8} {cfg.ngf:>4} {row[0]:>12.1f}M {row[1]:>11.2f} {row[2]:>12.1f}M {row[3]:>11.2f} "
                   f"{count_params(D) / 1e6:>8.2f}M {d_macs:>11.2f}")
    # The v2 options (issue 13): extra discriminators, sized for each preset at 256.
    trains = {key: f"{value:g}" for key, value in TRAINING.items()}  # what every preset trains with beyond pix2pix
    click.echo("\nv2 options of `train renderer` (any preset; off unless given, but every preset has "
               f"--face-l1 {trains['face_l1']} --hand-l1 {trains['hand_l1']} --ema {trains['ema']} --l1-weight {trains['l1_weight']}):")
    options = (("--face-d W", "face PatchGAN on face crops", dict(face_d=1.0), "D_face"),
               ("--hand-d W", "hands PatchGAN on hand crops", dict(hand_d=1.0), "D_hand"),
               ("--temporal", "previous frame in; pair D", dict(temporal=True), "D_temporal"))
    click.echo(f"{'option':<11} {'what':<29} " + " ".join(f"{n + ' D':>15}" for n in PRESETS))
    for flag, what, override, key in options:
        cells = []
        for name in PRESETS:
            cfg = preset(name, **override)
            with torch.device("meta"):
                D = discriminators(cfg)[key]
            side = cfg.region_size if key != "D_temporal" else cfg.size
            channels = 6 if key == "D_temporal" else 3
            macs = count_macs(D, (1, channels, side, side), (1, channels, side, side)) / 1e9
            cells.append(f"{count_params(D) / 1e6:.2f}M {macs:.2f}G")
        click.echo(f"{flag:<11} {what:<29} " + " ".join(f"{c:>15}" for c in cells))
    temporal_g = []
    for name in PRESETS:
        with torch.device("meta"):
            G = Generator(preset(name, temporal=True))
        temporal_g.append(f"{name} {count_macs(G, (1, 3, 256, 256), (1, 3, 256, 256)) / 1e9:.2f}")
    click.echo("D params and GMACs per crop (64x64 at 256) or frame pair; each W is that D's GAN loss weight (0: off).\n"
               "--feature-matching W: pix2pixHD's feature matching for every D; --face-l1 W, --hand-l1 W: L1 on the same "
               f"crops, x W x the L1 weight (no network; {trains['face_l1']} and {trains['hand_l1']} in every preset, 0: off); "
               f"--ema DECAY: the renderer is the generator's weights averaged over training ({trains['ema']} in every "
               "preset, 0: off); --l1-weight W: the L1 term's weight beside the GAN loss (pix2pix's lambda, 100 in "
               f"pix2pix, {trains['l1_weight']} in every preset; a fine-tune keeps its starting model's); --pair-l1 W: L1 "
               "on the frame-to-frame change, x W x the L1 weight, on pairs of consecutive frames (no network; 0: off); "
               "--pair-d W: the frame-pair discriminator (as --temporal's) for any generator, on the same pairs (0: off); "
               "--pair-energy W: L1 on how much each 8x8 patch (at 256) changes, x W x the L1 weight, on the same "
               "pairs (no network; 0: off).\n"
               "Best measured at 256 on a GPU (batch 32; BENCHMARKS.md): --preset esn --stages 2 --jitter 0 --pair-l1 3 "
               "--pair-energy 10 (the frame and flicker: +1.81 dB over the pix2pix peer, flicker 0.106 against its "
               "0.1125, four seeds; it trains at 78.9 % of v1's images/s on one H200).\n"
               "--temporal G GMAC 256 (3 more input channels): " + ", ".join(temporal_g))
    # Two stages at 512 (issue 14): what the Enhancer and the hand refiner add to the first stage.
    from dataclasses import replace
    from posevideo.renderer.model import Enhancer, HandRefiner
    at512 = preset("small", size=512, base_size=256)
    parts = []
    for what, fields in (("Enhancer 64x3 (default)", {}), ("Enhancer 8x1", dict(enhancer_ngf=8, enhancer_blocks=1))):
        cfg = replace(at512, **fields)
        with torch.device("meta"):
            enhancer = Enhancer(cfg)
        parts.append(f"{what} {count_params(enhancer) / 1e6:.3f}M {count_macs(enhancer, (1, 3, 512, 512), (1, 3, 256, 256)) / 1e9:.2f}G")
    refiners = []
    for stride in (2, 1):
        refiner = HandRefiner(replace(at512, hand_refiner_ngf=32, hand_refiner_blocks=3, hand_refiner_stride=stride))
        macs = count_macs(refiner, (1, 3, 512, 512), (1, 3, 512, 512), (1, 2, 4), device="cpu") / 1e9
        refiners.append(f"{count_params(refiner) / 1e6:.3f}M {macs:.2f}G")
    click.echo("Two stages at 512 (--size 512 --upsample-from RUN256; any preset at 256 under it): "
               + ", ".join(parts) + f"; --hand-refiner-ngf 32 --hand-refiner-blocks 3 (both hands' boxes) "
               f"{refiners[0]} a frame, with --hand-refiner-stride 1 (at the crop's full side) {refiners[1]}.")


@train.command("renderer")
@click.option("--data", type=click.Path(exists=True, file_okay=False, resolve_path=True), default=None, help="DATA folder from `posevideo prepare`, or a folder from `pack-frames`.  [required]")
@click.option("--speaker", default=None, help="Speaker folder inside DATA (not needed with a pack-frames folder).")
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Run folder to create.  [required]")
@click.option("--preset", type=click.Choice(_RENDERER_PRESETS), default="small")
@click.option("--ngf", type=click.IntRange(1), default=None,
              help="The generator's width (pix2pix's ngf; default: the preset's: esn 64, medium 32, small 16; the work "
                   "grows with its square). At 512 in the page, 24 under an 8x1 Enhancer and a 32x3 hand refiner ran "
                   "10.7 frames/s on 2 cores where medium's 32 ran 8.2 (BENCHMARKS.md).")
@click.option("--size", type=click.Choice(["256", "512"]), default="256", help="Image side in pixels.")
@click.option("--steps", type=click.IntRange(1), default=10_000)
@click.option("--batch", type=click.IntRange(1), default=8, help="Images a step, per GPU/process.")
@click.option("--lr", type=click.FloatRange(0, min_open=True), default=None, help="Default: the preset's (2e-4).")
@click.option("--seed", type=int, default=0, help="Global seed; process r uses seed + r.")
@click.option("--jitter", type=click.FloatRange(0, 0.5), default=0.05, help="Scale/aspect augmentation.")
@click.option("--frames", type=click.Choice(["train", "all"]), default="train",
              help="train: the train split (dev and test held out for `evaluate renderer`); all: every interval, "
                   "for the renderer you use once a held-out run has judged the recipe (short footage keeps every "
                   "gesture; its test split is then no longer held out).")
@click.option("--norm", type=click.Choice(["batch", "instance", "none"]), default=None, help="Normalization layers (default: the preset's, batch).")
@click.option("--gan-loss", type=click.Choice(["vanilla", "lsgan", "hinge"]), default=None, help="GAN loss (default: the preset's, vanilla as pix2pix).")
@click.option("--d-batch", type=click.Choice(["joint", "separate"]), default="joint", help="Discriminator step: reals and fakes in one batch (BatchNorm shared: a weaker D, cleaner frames) or in two, as pix2pix.")
@click.option("--face-d", type=click.FloatRange(0), default=None,
              help="Weight of a face discriminator's GAN loss (a PatchGAN on face crops cut from the pose); 0 or unset: none.")
@click.option("--hand-d", type=click.FloatRange(0), default=None,
              help="Weight of a hands discriminator's GAN loss (crops of both hands, the left mirrored); 0 or unset: none.")
@click.option("--feature-matching", type=click.FloatRange(0), default=None,
              help="Weight of pix2pixHD's feature matching: the generator matches every discriminator's inner "
                   "features of the real frame (L1; pix2pixHD uses 10); 0 or unset: none.")
@click.option("--face-l1", type=click.FloatRange(0), default=None,
              help="More L1 on the face: the L1 of the face crops (as the face discriminator sees them), times this "
                   "and the L1 weight, beside the frame's (default: the preset's, 1; 0: none).")
@click.option("--hand-l1", type=click.FloatRange(0), default=None,
              help="More L1 on the hands: the L1 of the hand crops, times this and the L1 weight, beside the frame's "
                   "(a hand is ~2 % of the frame's pixels; default: the preset's, 5; 0: none).")
@click.option("--pair-l1", type=click.FloatRange(0), default=None,
              help="The L1 of the frame-to-frame change (the output's from t - 1 to t against the truth's), times "
                   "this and the L1 weight; trains on pairs of consecutive frames, any model, nothing new to export "
                   "(default: the preset's, 0: none). At batch 32 on a GPU, 1 added 0.3 dB to `esn --stages 2` and 3 "
                   "0.6-0.8 dB, flicker a little higher; at batch 8 it flickers (BENCHMARKS.md).")
@click.option("--l1-weight", type=click.FloatRange(0), default=None,
              help="Weight of the L1 term beside the GAN loss (pix2pix's lambda, 100 in pix2pix; default: the preset's, "
                   "1,000; a fine-tune: its starting model's): higher trades texture for PSNR; 0: the GAN alone "
                   "(pix2pix's cGAN-only ablation).")
@click.option("--ema", type=click.FloatRange(0, 1, max_open=True), default=None,
              help="Average the generator's weights over training (exponential moving average, this decay a step; "
                   "0.999: about the last 1,000 steps): the run's renderer is the average (default: the preset's, 0.999; 0: off).")
@click.option("--temporal/--no-temporal", default=None,
              help="The generator also takes its previous output frame (trained on consecutive pairs; ONNX input 'previous').")
@click.option("--temporal-d", type=click.FloatRange(0), default=None,
              help="With --temporal: weight of the frame-pair discriminator's GAN loss (default 1; 0: none).")
@click.option("--pair-d", type=click.FloatRange(0), default=None,
              help="The frame-pair discriminator (skeletons and frames t - 1 and t, as --temporal's) for a generator "
                   "without --temporal, one stage or two: weight of its GAN loss; trains on pairs of consecutive "
                   "frames, nothing new to export (default: the preset's, 0: none).")
@click.option("--pair-energy", type=click.FloatRange(0), default=None,
              help="The L1 of how much each 8x8 patch (at 256) changes from t - 1 to t, the output's against the "
                   "truth's, times this and the L1 weight: as much change as the truth's, wherever in the patch "
                   "(--pair-l1 alone leaves the output changing less than the truth); trains on pairs of "
                   "consecutive frames, nothing new to export (default: the preset's, 0: none). At batch 32 on a GPU, "
                   "10 beside --pair-l1 3 brought flicker under the pix2pix peer's (BENCHMARKS.md).")
@click.option("--upsample-from", type=click.Path(exists=True), default=None,
              help="Two stages (pix2pixHD): this renderer run at half --size is the first stage, an Enhancer "
                   "brings its frames to --size (e.g. --size 512 --upsample-from RUN256).")
@click.option("--stages", type=click.IntRange(1, 2), default=1,
              help="2: a two-stage model from the start (the preset at half --size under an Enhancer); "
                   "implied by --upsample-from. `esn --stages 2 --jitter 0` at 256 led the same in one stage "
                   "by 1.09 dB on the held-out frame, one seed (BENCHMARKS.md \"Two stages at 256 beside the peer\").")
@click.option("--freeze-base", type=click.IntRange(0), default=1000,
              help="With --upsample-from: steps the first stage is held (eval mode, no gradients) while the Enhancer "
                   "learns; both train after.")
@click.option("--enhancer-ngf", type=click.IntRange(1), default=None, help="Two stages: the Enhancer's width (default 64).")
@click.option("--enhancer-blocks", type=click.IntRange(0), default=None,
              help="Two stages: the Enhancer's residual blocks at half --size (default 3).")
@click.option("--hand-refiner-ngf", type=click.IntRange(0), default=None,
              help="Refine each hand's box (of the last stage) with a residual network this wide (Everybody Dance Now's face "
                   "residual, for hands; default 0: none). The model then also takes the hands' boxes.")
@click.option("--hand-refiner-blocks", type=click.IntRange(0), default=None,
              help="With --hand-refiner-ngf: its residual blocks (default 3).")
@click.option("--hand-refiner-stride", type=click.Choice(["1", "2"]), default=None,
              callback=lambda ctx, param, value: value and int(value),
              help="With --hand-refiner-ngf: 2 (default): its blocks work at half the hand crop's side; 1: at the full "
                   "side (4x the MACs at the same width; at equal MACs 2.2 dB worse on hands at 512, BENCHMARKS.md).")
@click.option("--max-minutes", type=click.FloatRange(0, min_open=True), default=None,
              help="Stop (with a checkpoint) after this long from the first step (data loading not counted).")
@click.option("--init-from", default=None, metavar="RUN|shipped",
              help="Fine-tune: start from this trained renderer's weights (a run or checkpoint folder; 'shipped': "
                   "the shipped small one); its architecture replaces --preset. A new person in fewer steps (BENCHMARKS.md).")
@click.option("--profile-from", default=None, metavar="RUN|shipped",
              help="Keep this renderer's body profile (the proportions, mean hand and face that --retarget full "
                   "draws with) instead of measuring it on --data: for frames added to the person's own, e.g. "
                   "painted on other skeletons (benchmarks/paint_real.py).")
@click.option("--teacher", type=click.Path(exists=True, resolve_path=True), default=None,
              help="Distil: a renderer run trained on the same person (e.g. esn) whose frames are the L1 target.")
@click.option("--teacher-mix", type=click.FloatRange(0, 1), default=1.0,
              help="With --teacher: share of the L1 term toward the teacher's frame; the rest toward the ground truth.")
@click.option("--companion", default=None, metavar="BANK|signing", callback=lambda ctx, param, value: _companion(value),
              help="Another person's frames in every batch beside this person's, told apart by a person plane: what "
                   "this person's footage never shows (other arms, hands) is learnt from the companion's; the "
                   "renderer draws this person. A pack-frames folder, or 'signing': the synthetic speaker signing "
                   "(made once into the cache, about a minute on 2 CPU cores).")
@click.option("--companion-sleeves", type=click.Choice(["short", "none", "long"]), default="short", show_default=True,
              help="With --companion signing: the companion's sleeves; dressed as the person (none: bare arms, "
                   "long: a suit), no patches of its clothes on theirs, fewer other people's hands read (BENCHMARKS.md).")
@click.option("--companion-share", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.5,
              show_default=True, help="With --companion: the share of each batch that is the companion's frames.")
@click.option("--arm-warps", type=click.IntRange(0), default=0, show_default=True,
              help="Train also on this many copies of each frame with the arms cut out along their bones, turned at "
                   "shoulder and elbow and pasted back (the skeleton drawn again): for seconds of a real person, whose "
                   "footage never shows the arms where other people's poses put them (BENCHMARKS.md).")
@click.option("--log-every", type=click.IntRange(1), default=50)
@click.option("--image-every", type=click.IntRange(1), default=500)
@click.option("--checkpoint-every", type=click.IntRange(1), default=1000)
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default=None, help="Default: cuda when there is one.")
@click.option("--compile/--no-compile", default=None, help="torch.compile (default: on with CUDA).")
@_resume_option
def train_renderer(**options):
    """Train the renderer (pix2pix) of one person on prepared frames."""
    from posevideo.renderer.train import TrainConfig, train as run_training
    from posevideo.training import train_options
    options = _resumed(options, train_options)
    options["size"] = int(options["size"])
    if options.get("ngf") and (options.get("init_from") or options.get("upsample_from")):
        raise click.UsageError("--ngf cannot be combined with --init-from or --upsample-from: the generator's width "
                               "is the starting model's.")
    if options.get("init_from") and (options.get("upsample_from") or options["stages"] == 2):
        raise click.UsageError("--init-from cannot be combined with --upsample-from or --stages 2: fine-tune a "
                               "two-stage renderer with --init-from alone.")
    if options.get("upsample_from"):
        options["stages"] = 2
    paired_or_staged = [flag for flag, on in (("--stages 2", options["stages"] == 2), ("--temporal", options.get("temporal")),
                                              ("--pair-l1", options.get("pair_l1")), ("--pair-d", options.get("pair_d")),
                                              ("--pair-energy", options.get("pair_energy"))) if on]
    if options.get("companion") and paired_or_staged:
        raise click.UsageError(f"--companion cannot be combined with {' or '.join(paired_or_staged)} (not implemented): "
                               "train beside a companion with one stage on single frames.")
    last = run_training(TrainConfig(**options))
    click.echo(f"checkpoint: {last}")


@evaluate.command("renderer")
@click.option("--model", type=click.Path(exists=True), required=True, help="Run folder or checkpoint folder.")
@click.option("--data", type=click.Path(exists=True, file_okay=False), required=True)
@click.option("--speaker", default=None, help="Default: the speaker the model was trained on.")
@click.option("--split", type=click.Choice(["train", "dev", "test"]), default="test")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), required=True, help="Metrics JSON to write.")
@click.option("--sheet", type=click.Path(dir_okay=False), default=None, help="Contact sheet PNG (default: beside --json).")
@click.option("--batch", type=click.IntRange(1), default=16)
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default=None)
@click.option("--limit", type=click.IntRange(1), default=None, help="Evaluate at most this many frames (evenly spaced).")
@click.option("--consistency", type=click.IntRange(1), default=None,
              help="Also pose consistency (MediaPipe on the output, ~50 ms a frame on CPU) on this many evenly spaced frames.")
@click.option("--size", type=click.Choice(["256", "512"]), default=None,
              help="Frame side (default: the renderer's; a two-stage 512 model also makes 256, by its first stage).")
@click.option("--adapt-norm/--no-adapt-norm", "adapt", default=False, show_default=True,
              help="Adapt the BatchNorm statistics to the split's skeletons first, as `render` and `transfer` do to "
                   "each input by default (off: the trained statistics, as the browser page runs the model).")
def evaluate_renderer(**options):
    """PSNR/SSIM (frame, hands, face), temporal flicker, frames/s, a contact sheet, optionally pose consistency."""
    from posevideo.renderer.evaluate import evaluate as run_evaluation
    options["size"] = _size(options["size"])
    result = run_evaluation(**options)
    for key, value in result["metrics"].items():
        click.echo(f"{key:<24} {'-' if value is None else f'{value:.4f}'}")
    click.echo(f"wrote {options['json_out']} and {result['sheet']}")


@evaluate.command("consistency")
@click.option("--video", "videos", type=click.Path(dir_okay=False), required=True, multiple=True,
              help="A generated video (render, transfer). Repeat with --pose for several, paired in order.")
@click.option("--pose", "poses", type=click.Path(dir_okay=False), required=True, multiple=True,
              help="The .pose you gave `render` or `speak --pose-out` wrote (the video records how it drew it), or the pose as drawn: the "
                   "file `render --drawn-out` / `transfer --drawn-out` wrote (needed for `transfer`'s videos).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), default=None,
              help="Also write the report (with per-frame arrays) here; for several videos, every report and the pooled figures.")
def evaluate_consistency(videos, poses, json_out):
    """Pose consistency without ground truth: MediaPipe on the generated frames vs the drawn pose.
    Several videos (`--video A.mp4 --pose A.pose --video B.mp4 --pose B.pose`) give a row each and a
    line with them pooled; a pair that fails is one error line and the others go on (exit 1)."""
    from pathlib import Path
    from posevideo.files import write_json
    from posevideo.renderer.consistency import consistency, pooled, pooled_line, table
    if len(videos) != len(poses):
        raise click.BadParameter(f"{len(videos)} --video but {len(poses)} --pose: give one --pose for each --video, in order")
    names = [Path(v).name for v in videos]
    names = [n if names.count(n) == 1 else f"{n} (pair {i + 1})" for i, n in enumerate(names)]  # one file judged twice
    reports, failed = {}, 0
    for name, video, pose_path in zip(names, videos, poses):
        try:  # one pair: its report is the --json file, as before several were taken
            reports[name] = consistency(video, pose_path, json_out if len(videos) == 1 else None)
        except InputError as error:
            if len(videos) == 1:
                raise
            click.echo(f"error: {error}", err=True)  # one bad pair is a line, not the end of the batch
            failed += 1
    click.echo(table({name: report["summary"] for name, report in reports.items()}))
    if len(videos) > 1:
        pool = pooled({name: report["summary"] for name, report in reports.items()})
        click.echo(pooled_line(pool))
        if json_out:
            write_json(json_out, {"videos": reports, "pooled": pool, "failed": failed})
    click.echo("found %: share of frames where the part was drawn; body err: shoulder widths after a similarity fit "
               "(raw: without); hand err: hand sizes after each hand's fit")
    if json_out:
        click.echo(f"wrote {json_out}")
    if failed:
        click.echo(f"{failed} of {len(videos)} videos failed (see the error lines above)", err=True)
        sys.exit(1)


@cli.command()
@click.option("--pose", "pose_path", type=click.Path(exists=True, dir_okay=False), required=True, help="Input .pose (holistic or reduced layout).")
@click.option("--model", type=click.Path(exists=True), default=None,
              help="Run folder or checkpoint folder of a renderer (default: the shipped small renderer, posevideo/models/renderer-small).")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="Video to write (.mp4).")
@click.option("--audio", type=click.Path(exists=True, dir_okay=False), default=None, help="Audio to mux in.")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default=None)
@click.option("--batch", type=click.IntRange(1), default=None,
              help="Frames a generator call (default: 128 on a GPU, 16 on a CPU).")
@click.option("--workers", type=click.IntRange(0), default=None,
              help="Threads drawing skeletons while the generator runs and the encoder writes, and as many placing "
                   "the pose ahead of them (default on a GPU: half the cores, at most 8; on a CPU 0): 0: place, "
                   "draw, generate and encode one batch after another.")
@click.option("--cuda-graph/--no-cuda-graph", default=True, show_default=True,
              help="On a GPU, replay the generator as a CUDA graph (fixed batch, the last one padded).")
@click.option("--segments", type=click.IntRange(1, 64), default=None,
              help="Encoders at once, each on a run of consecutive frames, joined into one mp4 without re-encoding "
                   "(default on a GPU: one per 8 cores, at most 4; on a CPU 1).")
@click.option("--retarget", type=click.Choice(["full", "place", "none"]), default="full", show_default=True,
              help="full: rebuild the pose on the trained person's body (bone lengths, face, contacts kept); "
                   "place: move and scale by the shoulders only; none: keep the pose where it is.")
@click.option("--drawn-out", type=click.Path(dir_okay=False), default=None,
              help="Also write the pose as drawn (reduced, in the video's pixels, parts the input had). `evaluate "
                   "consistency` takes it, or the input .pose itself: the video records how it was drawn from it.")
@click.option("--size", type=click.Choice(["256", "512"]), default=None,
              help="Frame side (default: the renderer's; a two-stage 512 model also makes 256, by its first stage).")
@click.option("--adapt-norm/--no-adapt-norm", default=True, show_default=True,
              help="Adapt the renderer's BatchNorm statistics to this input first (a pass over up to 256 of its "
                   "frames): fewer chequered patches on other people's poses (BENCHMARKS.md).")
@click.pass_obj
def render(process, pose_path, model, out, audio, device, batch, workers, cuda_graph, segments, retarget, drawn_out,
           size, adapt_norm):
    """Render a .pose file as video of the trained person."""
    from posevideo.renderer.predict import render_pose
    if process and process.get("own"):
        # The imports' objects (torch's: millions) live to the end: frozen, the collections during
        # the render skip them (0.2 s of a 300-frame render on a 2-core CPU; BENCHMARKS.md).
        gc.freeze()
    path = render_pose(pose_path, model, out, audio=audio, device=device, batch=batch, retarget=retarget,
                       drawn_out=drawn_out, workers=workers, cuda_graph=cuda_graph, segments=segments,
                       size=_size(size), adapt=adapt_norm)
    click.echo(str(path))


def _size(value: str | None) -> int | None:
    """A --size choice ("256", "512", or None: the renderer's own) as an int."""
    return None if value is None else int(value)


@cli.command("pack-frames")
@click.option("--data", type=click.Path(exists=True, file_okay=False), required=True, help="DATA folder from `posevideo prepare`.")
@click.option("--speaker", required=True)
@click.option("--out", type=click.Path(file_okay=False), required=True, help="Bank folder to write.")
@click.option("--size", type=click.Choice(["256", "512"]), default="256")
@click.option("--split", "splits", type=click.Choice(["train", "dev", "test"]), multiple=True, default=("train", "test"))
@click.option("--arm-warps", type=click.IntRange(0), default=0, show_default=True,
              help="Also pack this many copies of each train frame with the arms turned at shoulder and elbow "
                   "(as `train renderer --arm-warps`), for a machine without mediapipe.")
@click.option("--seed", type=int, default=0, show_default=True, help="With --arm-warps: the turns drawn.")
def pack_frames(data, speaker, out, size, splits, arm_warps, seed):
    """Pack a speaker's renderer frames (skeletons drawn, crops) into small videos that travel:
    `train renderer --data BANK` and `evaluate renderer --data BANK` read them in place of DATA."""
    from posevideo.renderer.augment import warp_arms
    from posevideo.renderer.data import bank_from_data, write_bank
    banks = {split: bank_from_data(data, speaker, int(size), split) for split in splits}
    if arm_warps and "train" in banks:
        banks["train"] = warp_arms(banks["train"], arm_warps, seed)
    path = write_bank(banks, out)
    click.echo(f"{path}: " + ", ".join(f"{k} {len(v)} frames" for k, v in banks.items()))


@cli.command("ship-renderer")
@click.option("--model", type=click.Path(exists=True), required=True, help="Run folder or checkpoint folder.")
@click.option("--out", type=click.Path(file_okay=False), required=True, help="Folder to write.")
def ship_renderer(model, out):
    """Write a renderer's generator alone in float16 (safetensors + JSON): what a repository ships."""
    from posevideo.renderer.predict import ship
    click.echo(str(ship(model, out)))

# --- gestures: speech to pose ----------------------------------------------------------------------

_GESTURE_PRESETS = ("s2g", "fast", "tiny")  # keys of posevideo.gestures.model.PRESETS (a test checks)


@train.command("gestures")
@click.option("--data", type=click.Path(exists=True, file_okay=False, resolve_path=True), default=None,
              help="DATA folder from `posevideo prepare` (or `posevideo index --from-s2g`).  [required]")
@click.option("--speaker", default=None, help="Speaker folder inside DATA.  [required]")
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Run folder to create.  [required]")
@click.option("--preset", type=click.Choice(_GESTURE_PRESETS), default="s2g", help="s2g: the paper's 7.2 M model; fast: 1.2 M, to ship.")
@click.option("--steps", type=click.IntRange(1), default=10_000)
@click.option("--batch", type=click.IntRange(1), default=32, help="Windows of 64 pose frames a step, per GPU/process.")
@click.option("--lr", type=click.FloatRange(0, min_open=True), default=1e-4)
@click.option("--lambda-gan", type=click.FloatRange(0), default=1.0, help="Weight of the motion GAN loss (0: L1 only).")
@click.option("--gan-start", type=click.IntRange(0), default=0, help="Steps of L1 alone before the GAN loss joins.")
@click.option("--d-lr", type=click.FloatRange(0, min_open=True), default=None,
              help="The discriminator's learning rate (two time scales). Default: --lr.")
@click.option("--feature-matching", type=click.FloatRange(0), default=0.0,
              help="Weight of the L1 between D's hidden layers on real and generated motion.")
@click.option("--lambda-motion", type=click.FloatRange(0), default=0.0,
              help="Weight of the L1 between generated and real velocity and acceleration (against jitter; 0: off).")
@click.option("--spectral-norm", is_flag=True, help="Spectral normalization on the discriminator (no BatchNorm there).")
@click.option("--d-poses", is_flag=True, help="The discriminator sees the poses as well as their differences.")
@click.option("--voice-augment", type=click.FloatRange(0, 1), default=0.0,
              help="Share of training windows heard as another voice, level, room noise and microphone "
                   "(robust to speech the model never heard; 0: off).")
@click.option("--seed", type=int, default=0, help="Global seed; process r uses seed + r.")
@click.option("--max-minutes", type=click.FloatRange(0, min_open=True), default=None, help="Stop (with a checkpoint) after this long.")
@click.option("--log-every", type=click.IntRange(1), default=100)
@click.option("--checkpoint-every", type=click.IntRange(1), default=2000)
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default=None, help="Default: cuda when there is one.")
@click.option("--compile/--no-compile", default=False, help="torch.compile the models.")
@_resume_option
@click.option("--export", type=click.Path(file_okay=False), default=None,
              help="Also write the generator alone in float16 here (e.g. posevideo/models/gestures).")
def train_gestures(**options):
    """Train the speech-to-gesture model (speech2gesture) of one speaker."""
    from posevideo.gestures.train import TrainConfig, train as run_training

    from posevideo.training import train_options
    options = _resumed(options, train_options, required=("data", "speaker", "out"))
    click.echo(run_training(TrainConfig(**options)))


@evaluate.command("gestures")
@click.option("--model", type=click.Path(exists=True), required=True, help="Run folder or checkpoint folder.")
@click.option("--data", type=click.Path(exists=True, file_okay=False), required=True, help="DATA folder from `posevideo prepare`.")
@click.option("--speaker", default=None, help="Speaker folder inside DATA (default: the one the model was trained on).")
@click.option("--split", type=click.Choice(["train", "dev", "test"]), default="test")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None, help="Write the results here.")
@click.option("--figure", type=click.Path(dir_okay=False), default=None, help="Diversity/motion figure (PNG).")
@click.option("--trajectories", type=click.Path(dir_okay=False), default=None,
              help="Wrist trajectories of the truth and the models over three test windows (PNG).")
@click.option("--also", multiple=True, type=click.Path(exists=True),
              help="Another model to score in the same table (repeatable), named by its folder.")
@click.option("--no-fgd", is_flag=True, help="Skip the FGD (its encoder trains for about a minute on first use).")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu")
def evaluate_gestures(model, data, speaker, split, json_path, figure, trajectories, also, no_fgd, device):
    """L1 and PCK@0.1/0.2 (pixels) of the model and speech2gesture's baselines; whether it moves
    like the speaker: FGD, wrist speed and acceleration distances, beat alignment, diversity."""
    from posevideo.gestures.evaluate import run_evaluation

    click.echo(run_evaluation(model, data, speaker, split, json_path, figure, device, also=also,
                              trajectories=trajectories, fgd=not no_fgd))


@cli.command("gestures")
@click.option("--audio", type=click.Path(dir_okay=False), required=True, help="Speech: wav, mp3, flac, m4a, any rate, mono or stereo.")
@click.option("--model", type=click.Path(), default=None, help="Run folder or checkpoint (default: the shipped model, posevideo/models/gestures).")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="The .pose to write (15 fps, the speaker's pixels).")
@click.option("--video", type=click.Path(dir_okay=False), default=None, help="Also a stick-figure .mp4 with the audio.")
@click.option("--hop", type=click.IntRange(1, 64), default=48, help="Pose frames between windows (64 - hop are cross-faded).")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu")
@click.option("--adapt-voice", is_flag=True,
              help="Another person's speech: map its log-mel onto the trained speaker's voice first "
                   "(pauses to the speaker's silence, per-band level and spread to the speaker's).")
def gestures_command(audio, model, out, video, hop, device, adapt_voice):
    """Speech -> gestures of the trained speaker: a .pose file (and a stick-figure video)."""
    from posevideo.gestures.predict import gestures

    result = gestures(audio, model, out, video, device=device, hop=hop, adapt=adapt_voice)
    click.echo(f"{result['pose']}: {result['frames']} frames at 15 fps ({result['seconds']:.2f} s)")
    if video:
        click.echo(result["video"])


# --- end to end: speak, transfer, serve ------------------------------------------------------------

@cli.command()
@click.option("--audio", type=click.Path(dir_okay=False), default=None, help="Speech: wav, mp3, flac, m4a, any rate, mono or stereo.")
@click.option("--text", default=None, help="Or text, spoken by espeak-ng (then --audio is not needed).")
@click.option("--gestures", "gestures_model", type=click.Path(), default=None,
              help="Gesture run folder or checkpoint (default: the shipped model, posevideo/models/gestures).")
@click.option("--renderer", type=click.Path(), default=None,
              help="Renderer run folder or checkpoint (default: the shipped small renderer, posevideo/models/renderer-small).")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="The video to write (.mp4).")
@click.option("--fps", type=click.FloatRange(1, 120), default=30.0, help="Frames per second of the video.")
@click.option("--preview", type=click.Path(dir_okay=False), default=None, help="Also a side-by-side .mp4: skeleton | video.")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default=None)
@click.option("--pose-out", type=click.Path(dir_okay=False), default=None,
              help="Also write the gestures as a reduced .pose (render it again with `posevideo render --pose`; "
                   "`evaluate consistency` judges this video against it).")
@click.option("--adapt-voice", is_flag=True,
              help="Another person's speech: map it onto the gesture speaker's voice first (see `gestures`).")
@click.option("--size", type=click.Choice(["256", "512"]), default=None,
              help="Frame side (default: the renderer's; a two-stage 512 model also makes 256, by its first stage).")
def speak(audio, text, gestures_model, renderer, out, fps, preview, device, pose_out, adapt_voice, size):
    """Speech (or text) -> gestures -> video of the person, with the speech muxed in sync."""
    from posevideo.speak import speak as run

    result = run(out, audio=audio, text=text, gestures_model=gestures_model, renderer=renderer, fps=fps,
                 preview=preview, device=device, pose_out=pose_out, adapt_voice=adapt_voice, size=_size(size))
    click.echo(f"{result['video']}: {result['frames']} frames at {result['fps']:g} fps ({result['seconds']:.2f} s of speech)")
    for extra in ("preview", "pose"):
        if result[extra]:
            click.echo(result[extra])


@cli.command()
@click.option("--video", type=click.Path(dir_okay=False), required=True, help="The driver video: a person whose motion to copy.")
@click.option("--renderer", type=click.Path(), default=None,
              help="Renderer run folder or checkpoint of the target person (default: the shipped small renderer).")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="The video to write (.mp4).")
@click.option("--pose-out", type=click.Path(dir_okay=False), default=None, help="Also keep the retargeted .pose here.")
@click.option("--drawn-out", type=click.Path(dir_okay=False), default=None,
              help="Also write the pose as drawn (reduced, in the output video's pixels) for `evaluate consistency`.")
@click.option("--retarget", type=click.Choice(["full", "place", "none"]), default="full", show_default=True,
              help="As `render --retarget`: full rebuilds the driver's pose on the trained person's body; place "
                   "moves and scales it by the shoulders only; none keeps it where it is.")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default=None)
@click.option("--batch", type=click.IntRange(1), default=16)
@click.option("--size", type=click.Choice(["256", "512"]), default=None,
              help="Frame side (default: the renderer's; a two-stage 512 model also makes 256, by its first stage).")
@click.option("--adapt-norm/--no-adapt-norm", default=True, show_default=True,
              help="Adapt the renderer's BatchNorm statistics to this input first (a pass over up to 256 of its "
                   "frames): fewer chequered patches on other people's poses (BENCHMARKS.md).")
def transfer(video, renderer, out, pose_out, drawn_out, retarget, device, batch, size, adapt_norm):
    """Video -> video: the driver's motion, retargeted and smoothed, rendered as the target person."""
    from posevideo.transfer import transfer as run

    click.echo(str(run(video, renderer, out, pose_out=pose_out, device=device, batch=batch, drawn_out=drawn_out,
                       retarget=retarget, size=_size(size), adapt=adapt_norm)))



@cli.command()
@click.option("--renderer", type=click.Path(exists=True, file_okay=False), default=None,
              help="Renderer run folder or checkpoint folder (with --web only: also an export folder; default "
                   "there: the shipped small renderer).")
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Folder to write model.onnx, model.fp16.onnx, model.json into.")
@click.option("--web", type=click.Path(file_okay=False), default=None,
              help="Also (or only) write the whole browser page into this folder: page, model, models of the "
                   "webcam, npm assets, example pose; any static file server hosts it.")
@click.option("--size", type=click.Choice(["256", "512"]), default=None,
              help="Frame side of the exported graph (default: the renderer's; a two-stage 512 model also makes 256, by its first stage).")
def export(renderer, out, web, size):
    """Export a renderer's generator to ONNX (opset 18, one file; float32 and float16) with a parity check;
    --web writes the browser page around it."""
    if out is None and web is None:
        raise click.UsageError("give --out (the ONNX files) or --web (the whole page), or both")
    if out is not None:
        if renderer is None:
            raise click.UsageError("--out needs --renderer")
        from posevideo.export import export_run
        parity = export_run(renderer, out, _size(size))
        click.echo(f"wrote {out}/model.onnx, model.fp16.onnx, model.json")
        click.echo(str(parity))
    if web is not None:
        from posevideo.web.serve import resolve_model
        from posevideo.web.static import export_web
        export_web(resolve_model(out or renderer, echo=click.echo), web)
        click.echo(f"wrote the page to {web}: serve it with any static file server, e.g. "
                   f"python -m http.server -d {web} (one generator thread without COOP/COEP headers; "
                   "`posevideo serve` sends them)")


@cli.command()
@click.option("--model", type=click.Path(exists=True, file_okay=False), default=None,
              help="An export folder (posevideo export), or a renderer run/checkpoint folder (exported on the fly). Default: the shipped small renderer.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, help="0 picks a free port.")
@click.option("--host", default="127.0.0.1", help="Address to listen on; 0.0.0.0 exposes the page to the network.")
def serve(model, port, host):
    """Serve the browser demo: .pose files or the webcam -> skeleton -> generator (onnxruntime-web)."""
    from posevideo.web.serve import resolve_model, make_server
    server = make_server(resolve_model(model, echo=click.echo), host, port)
    bound_host, bound_port = server.server_address[:2]
    click.echo(f"serving the demo on http://{bound_host}:{bound_port}/ (Ctrl+C stops)")
    try:
        server.serve_forever()
    finally:
        server.server_close()


def main():
    # At exit the interpreter's last garbage collections walk every object torch made: 0.4-0.5 s of
    # each command that imports it (BENCHMARKS.md "Render path"). Frozen just before (atexit runs
    # first), the collections skip them; modules are still torn down and every file was closed by
    # its command. Here, not in `cli`, so that tests calling `cli` in their process are untouched
    # (and `obj` tells a command it has this process to itself).
    atexit.register(gc.freeze)
    cli(prog_name="posevideo", obj={"own": True})


if __name__ == "__main__":
    main()
