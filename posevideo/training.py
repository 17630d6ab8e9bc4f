"""What every trainer shares: the run folder, checkpoints, exact resume, stop signals, DDP, seeds.

One convention for both trainers (renderer, gestures):
- config.json is nested: {"kind": "renderer" | "gestures", "model": <the model dataclass>, "train":
  <the trainer's TrainConfig, exactly the CLI's options>, "seed", "seeds" (one a rank), "world_size",
  then what the trainer adds about its data}: `run_config()` builds it; `train_options()` reads the
  options back (also from the flat files the gesture trainer wrote before 2026-12).
- Checkpoint modules and optimizers are named "G" (the generator), "D" (its discriminator) and
  "D_<what>" for further discriminators; checkpoints written with "generator" / "discriminator"
  (the gesture trainer's names before 2026-12, e.g. posevideo/models/gestures) still load (`LEGACY_NAMES`).
- checkpoint.json holds {"kind", "step", "model", "train", "stats", "world_size", ...}.
- Batch order comes from `rank_sampler(seed, rank)` (seed + rank), saved in every checkpoint; a DDP
  resume gives each rank its own stream again (`reseed_resumed_rank`).

A run folder:
    RUN/config.json        the whole configuration (model, training, seeds, world size), written once
    RUN/metrics.jsonl      one JSON object a line: {"step": .., "time": .., <metric>: ..}
    RUN/progress/*.png     progress images
    RUN/checkpoints/step-0001000/
        checkpoint.json    model config, step, data statistics, optimizer hyper-parameters, RNG scalars
        model.safetensors  every module's weights, keys "<module>.<param>"
        train.safetensors  optimizer moments and RNG byte states (absent in an inference-only export)

No pickle anywhere: tensors go to safetensors, everything else to JSON. A checkpoint folder is
written under a temporary name and renamed when complete, so a killed run never leaves a partial
checkpoint that looks whole.

The trainer owns its loop; this module gives it small pieces (see docs/INTERFACES.md "Training"):

    dist = setup_distributed()                      # torchrun env vars, or one process
    run = Run(out, config, resume=...)              # folder, config.json, metrics.jsonl
    seed_everything(config["seed"] + dist.rank)
    state = load_checkpoint(run.latest(), modules, optimizers)  # on resume: weights, moments, RNG
    with StopSignal() as stop:
        for step in progress_bar(...):
            ...
            check_finite(step, run, loss_g=..., loss_d=...)      # NaN/inf: clear error, nothing saved
            if stop.requested(dist) or step % every == 0:
                save_checkpoint(run.checkpoint_dir(step), modules, optimizers, meta)
"""
from __future__ import annotations

import json
import math
import os
import random
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Collection, Mapping

import numpy as np
import torch
import torch.distributed as torch_dist
from safetensors.torch import load_file, save_file

from posevideo.errors import InputError
from posevideo.files import atomic_dir, check_writable, remove_leftovers, unwritable, write_json

MODEL_FILE = "model.safetensors"
# Older names of checkpoint modules and optimizers -> the convention's (see the module docstring).
LEGACY_NAMES = {"G": "generator", "D": "discriminator"}
TRAIN_FILE = "train.safetensors"
META_FILE = "checkpoint.json"


# --- distributed setup --------------------------------------------------------------------------

@dataclass(frozen=True)
class Dist:
    """Where this process sits: rank 0 of 1 when not started by torchrun."""
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    device: str = "cpu"

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup_distributed(device: str | None = None) -> Dist:
    """Read torchrun's RANK / LOCAL_RANK / WORLD_SIZE and join the process group.

    `device` None picks cuda when there is one. With several processes each takes the GPU of its
    local rank (NCCL); on CPU the group uses gloo, which is how the tests run DDP.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise InputError(None, "--device cuda was asked for but PyTorch sees no GPU", "Use --device cpu.")
        if world_size > 1 or device == "cuda":
            device = f"cuda:{local_rank}"
        torch.cuda.set_device(device)
    if world_size > 1 and not torch_dist.is_initialized():
        torch_dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")
    return Dist(rank=rank, local_rank=local_rank, world_size=world_size, device=device)


def cleanup_distributed() -> None:
    if torch_dist.is_initialized():
        torch_dist.destroy_process_group()


def run_config(kind: str, model: Mapping[str, Any], train: Mapping[str, Any], world_size: int,
               **extra: Any) -> dict[str, Any]:
    """config.json of a run, nested as the module docstring says; `train` is the trainer's options
    (asdict of its TrainConfig), `extra` what the trainer adds about its data."""
    seed = int(train["seed"])
    return {"kind": kind, "model": dict(model), "train": dict(train), "seed": seed,
            "seeds": [seed + r for r in range(world_size)], "world_size": world_size, **extra}


def train_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """The trainer's options stored in a config.json: its "train" entry, or the whole file for the
    flat configs the gesture trainer wrote before the convention."""
    return dict(config["train"]) if isinstance(config.get("train"), dict) else dict(config)


def model_defaults(make: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """An `upgrade` for `Run`: the stored config's "model" rebuilt by `make` (the model config class
    from a dict), so the fields added since the file was written take their defaults (the run
    trained without them) and it still resumes; a config `make` refuses is left as it is."""
    def upgrade(stored: dict[str, Any]) -> dict[str, Any]:
        try:
            return {**stored, "model": make(stored["model"]).to_dict()}
        except (KeyError, TypeError, ValueError):
            return stored
    return upgrade


def rank_sampler(seed: int, rank: int) -> torch.Generator:
    """The generator of batch order (and augmentation) of one process: seed + rank, as the config's "seeds"."""
    return torch.Generator().manual_seed(seed + rank)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (CPU and every GPU). Call with global seed + rank."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# --- the run folder -----------------------------------------------------------------------------

class Run:
    """A run folder. Only rank 0 writes; other ranks get an object whose writes do nothing.

    `resume=False` refuses a folder that already holds checkpoints (so a typo never overwrites a
    week of training); `resume=True` needs one, and checks that the stored config.json agrees with
    `config` on every key in `must_match` (model shape, data), naming the first difference.
    `upgrade`: applied to the stored config before that check, to give a file written before a model
    field existed that field's default (otherwise every added field would refuse older runs).
    """

    def __init__(self, path: str | Path, config: Mapping[str, Any], resume: bool = False,
                 is_main: bool = True, must_match: tuple[str, ...] = ("model",),
                 upgrade: Callable[[dict[str, Any]], dict[str, Any]] | None = None):
        self.path = Path(path)
        self.config = dict(config)
        self.is_main = is_main
        self.started = time.time()
        if resume:
            if self.latest() is None:
                raise InputError(self.path, "has no checkpoint to resume from",
                                 "Give the run folder of an earlier run, or start without --resume.")
            stored = _read_json(self.path / "config.json", "a run's config")
            stored = upgrade(stored) if upgrade else stored
            for key in must_match:
                if stored.get(key) != self.config.get(key):
                    raise InputError(self.path / "config.json",
                                     f"the run was started with {key}={stored.get(key)}, not {self.config.get(key)}",
                                     "Resume with the same options, or start a new run folder.")
        elif (self.path / "checkpoints").exists() and any((self.path / "checkpoints").glob("step-*")):
            raise InputError(self.path, "already holds a run with checkpoints",
                             "Pass --resume to continue it, or choose another --out folder.")
        if is_main:
            check_writable(self.path)  # a read-only --out: one line, before any training
            (self.path / "progress").mkdir(parents=True, exist_ok=True)
            (self.path / "checkpoints").mkdir(parents=True, exist_ok=True)
            # A kill while saving leaves a hidden .step-N.tmp-* folder (hundreds of MB for esn):
            # only this process writes here, so whatever is left is dead.
            for folder in ("checkpoints", "progress"):
                remove_leftovers(self.path / folder)
            if not resume:
                write_json(self.path / "config.json", self.config)

    # Checkpoints ---------------------------------------------------------------------------------
    def checkpoint_dir(self, step: int) -> Path:
        return self.path / "checkpoints" / f"step-{step:07d}"

    def latest(self) -> Path | None:
        return latest_checkpoint(self.path)

    def prune(self, keep: int = 2) -> None:
        """Delete all but the newest `keep` checkpoints."""
        if not self.is_main:
            return
        import shutil
        for old in sorted((self.path / "checkpoints").glob("step-*"))[:-keep]:
            shutil.rmtree(old, ignore_errors=True)

    # Logging -------------------------------------------------------------------------------------
    def log(self, step: int, **metrics: float) -> None:
        """Append one line to metrics.jsonl: numbers rounded to 6 significant digits."""
        if not self.is_main:
            return
        line = {"step": step, "time": round(time.time() - self.started, 3)}
        line.update({k: (float(f"{float(v):.6g}") if isinstance(v, (int, float, np.floating, torch.Tensor)) else v)
                     for k, v in metrics.items()})
        try:
            with open(self.path / "metrics.jsonl", "a") as f:
                f.write(json.dumps(line) + "\n")
        except OSError as error:  # a full disk: one line (the last checkpoint is whole), not a traceback
            raise unwritable(self.path, error) from error

    def truncate_metrics(self, step: int) -> None:
        """On resume, drop metric lines logged after the checkpoint (they will be logged again)
        and continue the run's clock from the last line kept."""
        path = self.path / "metrics.jsonl"
        if not self.is_main or not path.exists():
            return
        lines = [l for l in path.read_text().splitlines() if l.strip() and json.loads(l)["step"] <= step]
        path.write_text("".join(l + "\n" for l in lines))
        if lines:  # the clock continues from the last kept line, so "time" stays training time
            self.started = time.time() - json.loads(lines[-1])["time"]

    def save_image(self, name: str, image: np.ndarray) -> Path | None:
        """Write an (H, W, 3) uint8 RGB image to progress/<name>.png (atomically)."""
        if not self.is_main:
            return None
        from PIL import Image
        from posevideo.files import atomic_output
        path = self.path / "progress" / f"{name}.png"
        with atomic_output(path) as tmp:
            Image.fromarray(np.ascontiguousarray(image)).save(tmp)
        return path


def latest_checkpoint(path: str | Path) -> Path | None:
    """The newest complete checkpoint of a run folder, or the folder itself if it is a checkpoint."""
    path = Path(path)
    if (path / META_FILE).exists():
        return path
    found = sorted((path / "checkpoints").glob("step-*")) if (path / "checkpoints").is_dir() else []
    found = [p for p in found if (p / META_FILE).exists()]
    return found[-1] if found else None


# --- checkpoints --------------------------------------------------------------------------------

def _plain(module: torch.nn.Module) -> torch.nn.Module:
    """The module under DDP and torch.compile wrappers, so keys never carry 'module.' / '_orig_mod.'."""
    while True:
        if hasattr(module, "module") and isinstance(module.module, torch.nn.Module):
            module = module.module
        elif hasattr(module, "_orig_mod"):
            module = module._orig_mod
        else:
            return module


def _rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    tensors["rng.numpy"] = torch.from_numpy(keys.astype(np.int64))
    version, internal, gauss_next = random.getstate()
    scalars = {"numpy": [kind, int(pos), int(has_gauss), float(gauss)],
               "python": [version, list(internal), gauss_next]}
    return tensors, scalars


def _set_rng_state(tensors: Mapping[str, torch.Tensor], scalars: Mapping[str, Any]) -> None:
    torch.set_rng_state(tensors["rng.torch"])
    if "rng.cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng.cuda"])
    kind, pos, has_gauss, gauss = scalars["numpy"]
    np.random.set_state((kind, tensors["rng.numpy"].numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = scalars["python"]
    random.setstate((version, tuple(internal), gauss_next))


def save_checkpoint(path: str | Path, modules: Mapping[str, torch.nn.Module],
                    optimizers: Mapping[str, torch.optim.Optimizer] | None = None,
                    meta: Mapping[str, Any] | None = None,
                    generators: Mapping[str, torch.Generator] | None = None,
                    dtype: torch.dtype | None = None) -> Path:
    """Write a checkpoint folder atomically: weights, optimizer states, RNG states, `meta` (JSON).

    `meta` must hold what is needed to rebuild the models (their config) and anything the trainer
    wants back (step, data statistics). `optimizers` None writes weights only (an inference export);
    `dtype` (e.g. torch.float16) casts floating weights, for shipping.
    Call it on rank 0 only (`dist.is_main`); the RNG saved is rank 0's.
    """
    path = Path(path)
    weights = {}
    for name, module in modules.items():
        for key, value in _plain(module).state_dict().items():
            value = value.detach()
            if dtype is not None and value.is_floating_point():
                value = value.to(dtype)
            weights[f"{name}.{key}"] = value.contiguous().cpu()
    info: dict[str, Any] = {"format": "posevideo-checkpoint-1", **dict(meta or {})}
    train_tensors: dict[str, torch.Tensor] = {}
    if optimizers is not None:
        info["optimizers"] = {}
        for name, opt in optimizers.items():
            sd = opt.state_dict()
            for index, slots in sd["state"].items():
                for slot, value in slots.items():
                    if not isinstance(value, torch.Tensor):
                        value = torch.tensor(value)
                    train_tensors[f"opt.{name}.{index}.{slot}"] = value.detach().contiguous().cpu()
            info["optimizers"][name] = {"param_groups": sd["param_groups"],
                                        "state_keys": sorted(int(i) for i in sd["state"])}
        rng_tensors, rng_scalars = _rng_state()
        train_tensors.update(rng_tensors)
        info["rng"] = rng_scalars
        for name, gen in (generators or {}).items():
            train_tensors[f"gen.{name}"] = gen.get_state()
    with atomic_dir(path) as tmp:
        save_file(weights, str(tmp / MODEL_FILE))
        if train_tensors:
            save_file(train_tensors, str(tmp / TRAIN_FILE))
        (tmp / META_FILE).write_text(json.dumps(info, indent=2) + "\n")
    return path


PICKLE_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin", ".pkl")  # PyTorch/pickle files: never loaded
DAMAGED_FIX = "Copy the checkpoint again from where it was made, or use an earlier one (checkpoints/step-*)."


def _read_json(path: Path, what: str) -> dict[str, Any]:
    """A JSON object from `path`, or an InputError saying the file is damaged."""
    try:
        value = json.loads(path.read_text())
    except UnicodeDecodeError:
        raise InputError(path, f"is damaged: not text, so not {what}", DAMAGED_FIX) from None
    except json.JSONDecodeError as error:
        raise InputError(path, f"is damaged: not valid JSON ({error.msg} at line {error.lineno})", DAMAGED_FIX) from None
    except OSError as error:
        raise InputError(path, f"cannot be read ({error.strerror})", "Check the file and its permissions.") from None
    if not isinstance(value, dict):
        raise InputError(path, f"is not {what} (a JSON {type(value).__name__}, not an object)", DAMAGED_FIX)
    return value


def stored_config(run: str | Path) -> dict[str, Any]:
    """A run folder's config.json ({} where the folder has none); a damaged one is an InputError."""
    path = Path(run) / "config.json"
    return _read_json(path, "a run's config") if path.exists() else {}


def read_meta(path: str | Path) -> dict[str, Any]:
    """The checkpoint.json of a checkpoint folder or of a run folder's newest checkpoint.

    Refused with one line naming the file: a folder of PyTorch pickles (.pt/.pth) or without
    checkpoints, a checkpoint.json that is not valid JSON or not a posevideo checkpoint's, a
    missing model.safetensors."""
    path = Path(path)
    if path.is_file():
        path = path.parent if path.name in (META_FILE, MODEL_FILE) else path
        if path.is_file():
            raise InputError(path, "is a file, not a checkpoint folder",
                             f"Give the folder that holds {META_FILE} and {MODEL_FILE}, or a run folder.")
    ckpt = latest_checkpoint(path)
    if ckpt is None:
        pickles = sorted(p.name for p in path.iterdir() if p.suffix in PICKLE_SUFFIXES) if path.is_dir() else []
        if pickles:
            raise InputError(path / pickles[0], "is a PyTorch pickle file, not a posevideo model (posevideo loads "
                                                "safetensors + checkpoint.json only, never pickle)",
                             "Give a run folder of `posevideo train`, or a model folder it wrote (--export, ship-renderer).")
        raise InputError(path, "is neither a checkpoint folder nor a run folder with checkpoints",
                         f"Give a folder that holds {META_FILE} and {MODEL_FILE}, or a run folder.")
    meta = _read_json(ckpt / META_FILE, "a posevideo checkpoint's description")
    if not str(meta.get("format", "")).startswith("posevideo-checkpoint"):
        raise InputError(ckpt / META_FILE, "is not a posevideo checkpoint description (its 'format' is not "
                                           "posevideo-checkpoint-1)",
                         "Give a checkpoint written by posevideo (a run folder of `posevideo train`).")
    if not (ckpt / MODEL_FILE).is_file():
        other = sorted(p.name for p in ckpt.iterdir() if p.suffix in PICKLE_SUFFIXES)
        problem = f"has no {MODEL_FILE}" + (f" (it holds {other[0]}: posevideo never loads pickle)" if other else "")
        raise InputError(ckpt, problem, DAMAGED_FIX)
    meta["path"] = str(ckpt)
    return meta


def build_model(meta: Mapping[str, Any], make):
    """`make(meta["model"])` (a model from its stored config), or an InputError naming the
    checkpoint.json when that config is missing or does not fit (a damaged or edited file)."""
    try:
        return make(meta["model"])
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise InputError(Path(meta["path"]) / META_FILE,
                         f"is damaged: its 'model' entry does not describe a model ({error.__class__.__name__}: {error})",
                         DAMAGED_FIX) from None


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    """A safetensors file's tensors, checked: a truncated or corrupt file, or one whose floating
    tensors hold NaN or infinity (damaged bytes inside the data), is an InputError naming it."""
    from safetensors import SafetensorError

    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        detail = str(error).splitlines()[0][:120] if str(error) else error.__class__.__name__
        raise InputError(path, f"is damaged: not a valid safetensors file ({detail})", DAMAGED_FIX) from None
    for key, value in tensors.items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            count = int((~torch.isfinite(value)).sum())
            raise InputError(path, f"is damaged: tensor '{key}' holds {count} NaN or infinite values",
                             DAMAGED_FIX)
    return tensors


def load_checkpoint(path: str | Path, modules: Mapping[str, torch.nn.Module],
                    optimizers: Mapping[str, torch.optim.Optimizer] | None = None,
                    generators: Mapping[str, torch.Generator] | None = None,
                    restore_rng: bool = True, optional: Collection[str] = ()) -> dict[str, Any]:
    """Load weights (and, when given, optimizer states, RNG and generators) in place; return meta.
    Modules named in `optional` that the checkpoint holds no weights for are left as they are.

    A model whose shape differs from the stored one fails with an InputError that names the first
    mismatching tensor, instead of PyTorch's page of missing/unexpected keys.
    """
    meta = read_meta(path)
    ckpt = Path(meta["path"])
    weights = load_tensors(ckpt / MODEL_FILE)
    for name, module in modules.items():
        target = _plain(module)
        own = target.state_dict()
        stored = _stored(weights, name)
        if not stored and name in optional:
            continue
        if not stored:
            raise InputError(ckpt / MODEL_FILE, f"holds no weights for '{name}'",
                             "Check that the checkpoint belongs to this kind of model.")
        for key in sorted(set(own) | set(stored)):
            if key not in stored or key not in own or own[key].shape != stored[key].shape:
                got = tuple(stored[key].shape) if key in stored else "nothing"
                want = tuple(own[key].shape) if key in own else "nothing"
                raise InputError(ckpt / MODEL_FILE,
                                 f"does not fit this model config: '{name}.{key}' is {got} in the checkpoint "
                                 f"but {want} in the model",
                                 "Build the model from the checkpoint's own config (checkpoint.json), "
                                 "or pass the preset it was trained with.")
        target.load_state_dict({k: v.to(own[k].dtype) for k, v in stored.items()})
    if optimizers is not None or generators is not None:
        if not (ckpt / TRAIN_FILE).exists():
            raise InputError(ckpt, "holds weights only (no optimizer or RNG state), so training cannot resume from it",
                             "Resume from a run folder's checkpoint, or start a new run.")
        train = load_tensors(ckpt / TRAIN_FILE)
        for name, opt in (optimizers or {}).items():
            if name not in meta["optimizers"] and LEGACY_NAMES.get(name) in meta["optimizers"]:
                name_stored = LEGACY_NAMES[name]                                 # an older checkpoint
            else:
                name_stored = name
            if name_stored not in meta["optimizers"]:
                raise InputError(ckpt / META_FILE, f"holds no optimizer state for '{name}'",
                                 "Resume with the options the run was started with (the same discriminators).")
            saved = meta["optimizers"][name_stored]
            state = {i: {k.split(".", 3)[3]: v for k, v in train.items() if k.startswith(f"opt.{name_stored}.{i}.")}
                     for i in saved["state_keys"]}
            opt.load_state_dict({"state": state, "param_groups": saved["param_groups"]})
            _match_param_layout(opt)
        for name, gen in (generators or {}).items():
            gen.set_state(train[f"gen.{name}"])
        if restore_rng:
            _set_rng_state(train, meta["rng"])
    return meta


def _stored(weights: Mapping[str, torch.Tensor], name: str) -> dict[str, torch.Tensor]:
    """The weights of module `name` ("<name>.<param>" keys), or of its older name (`LEGACY_NAMES`)."""
    for prefix in (name, LEGACY_NAMES.get(name)):
        found = {k[len(prefix) + 1:]: v for k, v in weights.items() if prefix and k.startswith(prefix + ".")}
        if found:
            return found
    return {}


def _match_param_layout(opt: torch.optim.Optimizer) -> None:
    """Give per-parameter state (Adam's moments) the strides of its parameter: safetensors stores
    them contiguous, a channels_last model's parameters are not, and fused optimizers refuse the mix."""
    for group in opt.param_groups:
        for param in group["params"]:
            for key, value in opt.state.get(param, {}).items():
                if torch.is_tensor(value) and value.shape == param.shape and value.stride() != param.stride():
                    opt.state[param][key] = torch.empty_like(param, dtype=value.dtype).copy_(value)


# --- stopping: signals and non-finite losses ----------------------------------------------------

def reseed_resumed_rank(sampler: torch.Generator, seed: int, rank: int, step: int) -> None:
    """After a DDP resume: every rank loaded rank 0's sampler state from the one checkpoint file, so
    all would draw the same batches from here on (each GPU the same windows: a world of N GPUs worth
    one). Give each rank its own stream again, a function of (seed, rank, step), so resuming is
    still exact. Single-process runs keep the saved state untouched (exact to the bit)."""
    sampler.manual_seed(seed + rank + 1000 * step)
    torch.manual_seed(seed + rank + 1000 * step)


class StopSignal:
    """While active, SIGINT / SIGTERM set a flag instead of killing: the loop saves, then exits.

    A second SIGINT while the flag is already set raises KeyboardInterrupt (the impatient way out).
    """

    def __init__(self):
        self.flag = False
        self._old: dict[int, Any] = {}

    def _handle(self, signum, frame):
        if self.flag and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.flag = True

    def __enter__(self) -> "StopSignal":
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: signals cannot be caught here
                pass
        return self

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)

    def requested(self, dist: Dist | None = None) -> bool:
        """True when any rank got a signal (all ranks must stop at the same step under DDP).

        Also puts our handlers back if something replaced them since `__enter__`: a SIGTERM to a
        torch.compile'd run on an H200 once ended it with no checkpoint, as if ours were gone (the
        compilation happens inside the loop, after `__enter__`; cause not confirmed)."""
        for sig in self._old:
            if signal.getsignal(sig) != self._handle:
                signal.signal(sig, self._handle)
        if dist is None or dist.world_size == 1:
            return self.flag
        flag = torch.tensor([float(self.flag)], device=dist.device)
        torch_dist.all_reduce(flag, op=torch_dist.ReduceOp.MAX)
        return bool(flag.item())


def check_finite(step: int, run: Run | None = None, **losses: float | torch.Tensor) -> None:
    """Raise a clear InputError when a loss is NaN or infinite; the last good checkpoint is kept.

    Called before every checkpoint and every metrics line, so nothing non-finite is ever saved.
    """
    values = {k: float(v.detach()) if isinstance(v, torch.Tensor) else float(v) for k, v in losses.items()}
    bad = {k: v for k, v in values.items() if not math.isfinite(v)}
    if not bad:
        return
    where = run.path if run is not None else None
    last = run.latest() if run is not None else None
    keep = f"The last good checkpoint is {last}; " if last else "No checkpoint was written yet; "
    raise InputError(where, f"training stopped at step {step}: loss is not finite ({bad})",
                     keep + "resume from it with a lower learning rate (--lr), or check the data.")


def average_weights(average: torch.nn.Module, model: torch.nn.Module, decay: float, step: int) -> None:
    """One step of an exponential moving average of `model`'s weights into `average` (a copy of
    it): every floating parameter and buffer (BatchNorm's running statistics too) moves toward
    `model`'s by 1 - d, with d = min(decay, (1 + step) / (10 + step)), so that the first steps follow
    the fast-changing weights instead of keeping the initial ones; integer buffers are copied.
    About the mean of the last 1 / (1 - decay) steps' weights: the "G_ema" of Progressive GAN and
    StyleGAN, a generator with less of the last steps' noise in it."""
    d = min(decay, (1 + step) / (10 + step))
    ours = _plain(average).state_dict(keep_vars=True)
    theirs = _plain(model).state_dict(keep_vars=True)
    floats = [k for k, v in ours.items() if v.is_floating_point()]
    with torch.no_grad():
        torch._foreach_lerp_([ours[k] for k in floats], [theirs[k].detach() for k in floats], 1 - d)
        for key, value in ours.items():
            if not value.is_floating_point():
                value.copy_(theirs[key])


def progress_bar(total: int, initial: int = 0, disable: bool = False, desc: str = "train"):
    """A tqdm bar counting steps; its rate reads steps/s."""
    from tqdm import tqdm
    return tqdm(total=total, initial=initial, disable=disable, desc=desc, unit="step",
                dynamic_ncols=True, smoothing=0.1)


def unwrap(module: torch.nn.Module) -> torch.nn.Module:
    """The plain module inside DDP / torch.compile wrappers."""
    return _plain(module)
