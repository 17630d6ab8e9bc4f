#!/usr/bin/env bash
# Renderer v1 vs v2 (issue 13) in one call of the run tool (kind nvidia-h200, at most 9 minutes):
# four trainings of the same preset, data and steps share the one GPU at once:
#   v1        pix2pix as it was (without the crop L1 that every preset has since 2026-12-04);
#   regions   + face and hand discriminators (--face-d 1 --hand-d 1);
#   temporal  + previous frame in, frame-pair discriminator (--temporal);
#   all       + both;
#   peer      the pix2pix peer: pytorch-CycleGAN-and-pix2pix's recipe on the same networks (`esn` is its
#             unet_256 and 70x70 PatchGAN, tests/test_renderer.py checks the parameter count): vanilla
#             GAN + 100 x L1, D loss halved, Adam 2e-4 / 0.5, constant then linear decay, reals and
#             fakes through D in separate calls (--d-batch separate) and no augmentation (--jitter 0);
#   v2        + L1 on the hand and face crops (--hand-l1 5 --face-l1 1: the shipped renderer's, and
#             every preset's since 2026-12-04);
#   v2t       v2 + --temporal;
#   v2s, v2j0, v2p   v2 with the peer's discriminator batching (--d-batch separate), without jitter
#             (--jitter 0), with both;  v2j2: v2 with --jitter 0.02;
#   v2e, v2j0e  v2, v2j0 with the generator's weights averaged (--ema 0.999, every preset's since
#             2026-12-04 19:20 UTC; the other runs pass --ema 0); such a run is evaluated
#             twice: RUN (the average, its renderer) and RUN_trained (the weights trained, the same run);
#   RUN_sN    RUN with --seed N (the run-to-run spread), e.g. v1_s1;
#   RUN_lN    RUN with --l1-weight N00 (pix2pix's lambda times N: pixels over texture), e.g. v2j0_l3;
#   RUN_pN    RUN with --pair-l1 N (L1 between the output's and the truth's frame-to-frame change, on
#             pairs of consecutive frames: against flicker, for any model), e.g. v2j0e_l10_st_p1, v2j0e_l10_st_p0.3;
#   RUN_pdN   RUN with --pair-d N (the temporal model's frame-pair discriminator, at GAN weight N, for a
#             generator without the previous frame), e.g. v2j0e_l10_st_p3_pd1;
#   RUN_peN   RUN with --pair-energy N (L1 on how much each 8x8 patch changes from t - 1 to t), e.g.
#             v2j0e_l10_st_p3_pe3;
#   RUN_rd    RUN with the face and hand discriminators (--face-d 1 --hand-d 1), e.g. v2j0e_l10_st_p3_rd;
#   RUN_st    RUN as two stages (--stages 2: the preset's U-Net at half the size under the default
#             64x3 Enhancer, pix2pixHD's coarse-to-fine generator; `esn` at 256: 5.26 GMAC against 6.05), e.g. v2j0e_l10_st;
#   RUN_nN    RUN with --ngf N (the generator's width; with _pg, the first stage's), e.g. v2j0e_l10_pg_n24;
#   RUN_arms  RUN on $ARMS_BANK in place of $BANK: the same bank packed with turned-arm copies of its
#             train frames (`pack-frames --arm-warps N`: mediapipe, which cuts the arms out, is not on
#             the GPU machine), e.g. v2j0e_l10_st_p3_pe10_arms;
#   RUN_pg    RUN as the browser page's two-stage model (--preset medium --stages 2 --enhancer-ngf 16
#             --enhancer-blocks 1: 40-42 frames/s in the page on 2 cores, BENCHMARKS.md "Distilling"), e.g. v2j0e_l10_pg;
#             every run above trains at pix2pix's lambda, 100, unless its name says _lN (the presets'
#             1,000 since 2026-12-05 19:00 UTC is v2e_l10: the names keep the recipes measured before);
# then each is evaluated on the synthetic speaker's held-out frames (PSNR/SSIM frame/hands/face,
# flicker against the ground truth's own frame-to-frame change), and renders real poses
# (.devcarry/poses: the signers and one talker) so that pose consistency (MediaPipe, which the GPU
# machine lacks) runs back on the CPU machine from the returned files.
# Carries (git-ignored): .devcarry/bank660 (see benchmarks/renderer_quality_gpu.sh for how it was
# packed), .devcarry/poses (see benchmarks/real_person_gpu.sh) and pose-format's wheel:
#   run(kind=nvidia-h200, timeout_s=600,
#       carry=[".devcarry/bank660", ".devcarry/poses", ".whl/pose_format-0.15.0-py3-none-any.whl"],
#       command="bash benchmarks/renderer_v2_gpu.sh 330")
# The run tool's 64 MiB counts the tracked tree (~21 MB) with the carried paths. Beside bank_sign3
# (43 MiB) the poses fit in the reduced layout (a third of holistic's size), made on the CPU machine:
#   python -c "from pathlib import Path; import shutil
#   from posevideo.pose import read_pose, to_layout, write_pose
#   from posevideo.pose.extract import extract_video
#   out, real = Path('.devcarry/poses'), Path('../shared/real'); out.mkdir(parents=True, exist_ok=True)
#   poses = {n: read_pose(real / f'{n}.pose') for n in ('signer_example', 'signer_mediapipe')}
#   poses.update({f'driver_{n}': extract_video(real / f'{n}.mp4') for n in ('signer_football', 'signer_soup', 'signer_test_video')})
#   [write_pose(to_layout(p, 'reduced'), out / f'{n}.pose') for n, p in poses.items()]"
# Usage: bash benchmarks/renderer_v2_gpu.sh SECONDS   (training budget of each run, compile included;
#        SIGTERM then saves and stops: a run cut short shows fewer steps in the table)
#        PRESET=medium STEPS=5000 RUNS='v1 all' bash benchmarks/renderer_v2_gpu.sh 330
#        BANK=.devcarry/bank_sign3 RUNS="peer v1 v2 v2t" STEPS=5000 EVAL=170 bash benchmarks/renderer_v2_gpu.sh 360
#        (the pix2pix peer beside v1 and v2 on the signing bank; EVAL: seconds of `evaluate renderer` per run)
#        RUNS=v1 STEPS=100000 COMPILE=0 BANK=.devcarry/bank_sign POSES_DIR=$PWD/.devcarry/poses_sign POSES='...' \
#          bash benchmarks/renderer_v2_gpu.sh 200      (one run on another bank, its poses in another folder)
#        TRAINED=0 ...: a run with the weight average is evaluated once, as its renderer (the average),
#        not also as RUN_trained (the run tool brings back 8 files: summary.md and 7 runs' tars)
#        QUICK=1 QUICK_STEPS=2 OUT=/tmp/x PY=.venv/bin/python BANK=/tmp/bank48 POSES_DIR=.../poses \
#          POSES="driver_signer_soup signer_example" bash benchmarks/renderer_v2_gpu.sh 240
#        (a few steps of `small` at batch 4 on a CPU machine: checks the script itself, ~5 minutes on
#        the shared 2-core CPU; the wheel step is skipped where pose_format imports; BANK: a smaller
#        bank, since bank660 takes 3 GB a run in memory: /tmp/bank48 was frames 0-23 and 150-173 of
#        bank660's test split, written by write_bank as both train and test)
# Comes back in $OUT (8 files at most, 16 MiB each): summary.md (the table, and each run's last log
# lines) and renders_<run>.tar: <run>/{eval.json, eval-sheet.jpg, progress.png, metrics.jsonl,
# train.log, <pose>.mp4, <pose>.drawn.npz}. Back on the CPU machine:
#   for t in OUTDIR/renders_*.tar; do tar xf $t -C /tmp/v2; done
#   python benchmarks/renderer_v2.py consistency /tmp/v2/v1 /tmp/v2/regions /tmp/v2/temporal /tmp/v2/all
set -uo pipefail
export PYTHONUNBUFFERED=1
PY=${PY:-python3}
source benchmarks/carried_wheels.sh "import pose_format"
BUDGET=${1:-330}
R=${R:-/tmp/runs_v2}
PRESET=${PRESET:-esn}; STEPS=${STEPS:-2000}; BATCH=${BATCH:-32}; EXTRA=()
RUNS=${RUNS:-"v1 regions temporal all"}
BANK=${BANK:-.devcarry/bank660}
POSES_DIR=${POSES_DIR:-$PWD/.devcarry/poses}
POSES=${POSES:-"signer_example signer_mediapipe driver_signer_football driver_signer_soup driver_signer_test_video driver_talking_woman"}
[ "${COMPILE:-1}" = 0 ] && EXTRA=(--no-compile)   # short budgets: torch.compile's first minute would eat them
if [ -n "${QUICK:-}" ]; then PRESET=small; STEPS=${QUICK_STEPS:-4}; BATCH=4; EXTRA=(--no-compile); fi
rm -rf $R; mkdir -p $R/poses $OUT
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null
for p in $POSES; do ln -s "$POSES_DIR/$p.pose" $R/poses/; done

bank_of() {   # the bank a run trains on: RUN_arms anywhere in the name, $ARMS_BANK
    if [[ $1 =~ _arms ]]; then echo "${ARMS_BANK:?RUN_arms needs ARMS_BANK}"; else echo "$BANK"; fi
}
options() {
    if [[ $1 =~ ^(.+)_arms(_.+)?$ ]]; then   # RUN_arms: RUN on $ARMS_BANK (bank_of); the options are RUN's
        options "${BASH_REMATCH[1]}${BASH_REMATCH[2]}"; return
    fi
    if [[ $1 =~ ^(.+)_s([0-9]+)$ ]]; then    # RUN_sN: RUN with --seed N
        echo "$(options "${BASH_REMATCH[1]}") --seed ${BASH_REMATCH[2]}"; return
    fi
    if [[ $1 =~ ^(.+)_l([0-9]+)$ ]]; then    # RUN_lN: RUN with --l1-weight N x 100 (pix2pix's lambda x N)
        echo "$(options "${BASH_REMATCH[1]}") --l1-weight ${BASH_REMATCH[2]}00"; return
    fi
    if [[ $1 =~ ^(.+)_rd$ ]]; then           # RUN_rd: RUN with the face and hand discriminators
        echo "$(options "${BASH_REMATCH[1]}") --face-d 1 --hand-d 1"; return
    fi
    if [[ $1 =~ ^(.+)_pe([0-9]+(\.[0-9]+)?)$ ]]; then   # RUN_peN: RUN with --pair-energy N (each patch's amount of change)
        echo "$(options "${BASH_REMATCH[1]}") --pair-energy ${BASH_REMATCH[2]}"; return
    fi
    if [[ $1 =~ ^(.+)_pd([0-9]+(\.[0-9]+)?)$ ]]; then   # RUN_pdN: RUN with --pair-d N (the frame-pair discriminator)
        echo "$(options "${BASH_REMATCH[1]}") --pair-d ${BASH_REMATCH[2]}"; return
    fi
    if [[ $1 =~ ^(.+)_p([0-9]+(\.[0-9]+)?)$ ]]; then    # RUN_pN: RUN with --pair-l1 N (L1 on the frame-to-frame change)
        echo "$(options "${BASH_REMATCH[1]}") --pair-l1 ${BASH_REMATCH[2]}"; return
    fi
    if [[ $1 =~ ^(.+)_n([0-9]+)$ ]]; then    # RUN_nN: RUN with --ngf N (the generator's width), e.g. v2j0e_l10_pg_n24
        echo "$(options "${BASH_REMATCH[1]}") --ngf ${BASH_REMATCH[2]}"; return
    fi
    if [[ $1 =~ ^(.+)_pg$ ]]; then           # RUN_pg: RUN as the page's two-stage model (`medium` at half size under a 16x1 Enhancer)
        echo "$(options "${BASH_REMATCH[1]}") --preset medium --stages 2 --enhancer-ngf 16 --enhancer-blocks 1"; return
    fi
    if [[ $1 =~ ^(.+)_st$ ]]; then           # RUN_st: RUN as a two-stage model (the preset at half size under an Enhancer)
        echo "$(options "${BASH_REMATCH[1]}") --stages 2"; return
    fi
    # The presets' crop L1 and weight average (on since 2026-12-04) off: v1 and the peer as they were
    # measured; every other run without the average unless its name says e.
    local off="--hand-l1 0 --face-l1 0 --ema 0 --l1-weight 100" crop="--hand-l1 5 --face-l1 1 --l1-weight 100"
    local v2="$crop --ema 0"
    case $1 in
        v1) echo $off ;;
        regions) echo $off --face-d 1 --hand-d 1 ;;
        temporal) echo $off --temporal ;;
        all) echo $off --face-d 1 --hand-d 1 --temporal ;;
        peer) echo $off --d-batch separate --jitter 0 ;;
        v2) echo $v2 ;;
        v2t) echo $v2 --temporal ;;
        v2s) echo $v2 --d-batch separate ;;
        v2j0) echo $v2 --jitter 0 ;;
        v2p) echo $v2 --d-batch separate --jitter 0 ;;
        v2j2) echo $v2 --jitter 0.02 ;;
        v2e) echo $crop --ema 0.999 ;;
        v2j0e) echo $crop --jitter 0 --ema 0.999 ;;
        *) echo "unknown run $1" >&2; exit 2 ;;
    esac
}
start=$(date +%s)
for run in $RUNS; do
    # shellcheck disable=SC2046
    timeout -s TERM "$BUDGET" $PY -m posevideo train renderer --data $(bank_of $run) --preset $PRESET --steps $STEPS \
        --batch $BATCH --out $R/$run --image-every $(( STEPS < 1000 ? STEPS : 1000 )) --checkpoint-every 1000 --log-every 250 "${EXTRA[@]}" \
        $(options $run) > $R/$run.log 2>&1 &
done
wait
echo "training done in $(( $(date +%s) - start )) s"

# Evaluate and render, the four at once, each packed into $OUT as soon as it is done (a call cut at
# its limit still returns the finished runs). Scoring runs on the GPU; the CPU-bound parts (drawing,
# optical flow) get 4 threads each so that four processes do not oversubscribe the machine's cores.
source benchmarks/evaluate_run.sh
EVALUATED=""
for run in $RUNS; do
    EVALUATED="$EVALUATED $run"
    if [[ ${TRAINED:-1} = 1 && $(options $run) =~ --ema\ 0\.[0-9] ]]; then   # the trained weights beside their average
        $PY benchmarks/renderer_v2.py trained $R/$run $R/${run}_trained > /dev/null && cp $R/$run.log $R/${run}_trained.log \
            && cp $R/$run/metrics.jsonl $R/${run}_trained/ && cp -r $R/$run/progress $R/${run}_trained/ \
            && EVALUATED="$EVALUATED ${run}_trained"
    fi
done
for run in $EVALUATED; do
    evaluate_run $run renders_$run ${EVAL:-150} &
done
wait
echo "evaluated and rendered in $(( $(date +%s) - start )) s"

{
    echo "# Renderer v1 vs v2: preset $PRESET, $STEPS steps at batch $BATCH, budget $BUDGET s each, runs side by side"
    echo "$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null || echo cpu), $(date -u +%F)"
    echo
    $PY benchmarks/renderer_v2.py summary $R/table
    for run in $EVALUATED; do echo; echo "## $run"; tail -n 6 $R/out/$run/train.log; done
} > $OUT/summary.md
cat $OUT/summary.md
ls -la $OUT
