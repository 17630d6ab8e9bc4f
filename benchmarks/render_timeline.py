"""When each part of one `posevideo render` happens, in a fresh process (issue 13 §5): seconds from
the process's launch to the imports done, the pose read, the model loaded, CUDA started, placing's
whole-pose part done, the generator ready (weights on the device, the graph captured), the first
and last batch placed and generated, the pipeline's end, the parts joined. Where the wall time of
`benchmarks/renderer.py --render` goes (`--render --timeline` runs this and puts it in its table).

    python benchmarks/render_timeline.py POSE --device cuda [--model M] [--launched UNIX_TIME]

Runs `render_pose` with the CLI's defaults (no progress bar), the functions it calls wrapped to
note the time; prints one JSON list of [seconds, what]. `--launched`: the launching process's
time.time() just before it started this one (default: this script's first line).
"""
import time

FIRST_LINE = time.time()

import argparse  # noqa: E402 - the imports are what the first events time
import json  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import posevideo.cli  # noqa: E402,F401 - as `python -m posevideo render` imports
import posevideo.renderer.predict as predict  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("pose")
    parser.add_argument("--device", choices=["cpu", "cuda"], default=None)
    parser.add_argument("--model", default=None)
    parser.add_argument("--launched", type=float, default=FIRST_LINE)
    args = parser.parse_args()
    events, last = [], {}

    def mark(what: str, once: bool = False) -> None:
        now = time.time() - args.launched
        if once and any(w == what for _, w in events):
            return
        events.append((now, what))

    def later(what: str) -> None:  # the last time it happens, noted at the end
        last[what] = time.time() - args.launched

    mark("imports done (posevideo.cli, renderer.predict: torch)")

    def wrap(owner, name: str, after: str):
        original = getattr(owner, name)

        def wrapped(*a, **k):
            out = original(*a, **k)
            mark(after)
            return out
        setattr(owner, name, wrapped)

    import posevideo.pose
    import posevideo.video
    wrap(posevideo.pose, "read_pose", "pose read")
    wrap(predict, "_start_cuda", "CUDA started (start_gpu's thread)")
    wrap(predict, "load_renderer", "model loaded on the CPU")
    wrap(posevideo.video, "join_videos", "parts joined")

    class Placement(predict.Placement):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            mark("placing: whole-pose part done")

        def frames(self, a, b):
            out = super().frames(a, b)
            mark("first batch placed", once=True)
            later("last batch placed")
            return out
    predict.Placement = Placement

    generator, pipeline = predict._generator, predict._pipeline

    def timed_generator(*a, **k):
        run, buffer = generator(*a, **k)
        mark("generator ready (on the device, graph captured)")

        def timed_run(skeletons):
            frames = run(skeletons)
            mark("first batch generated", once=True)
            later("last batch generated")
            return frames
        return timed_run, buffer

    def timed_pipeline(*a, **k):
        mark("pipeline starts")
        pipeline(*a, **k)
        mark("pipeline done (every batch encoded, encoders closing)")
    predict._generator, predict._pipeline = timed_generator, timed_pipeline

    with tempfile.TemporaryDirectory() as tmp:
        predict.render_pose(args.pose, args.model, Path(tmp) / "out.mp4", device=args.device, progress=False)
        mark("render_pose returned (mp4 written)")
    events += [(t, what) for what, t in last.items()]
    print(json.dumps(sorted(events)))


if __name__ == "__main__":
    main()
