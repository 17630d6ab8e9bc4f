#!/bin/bash
# The adversarial-loss runs of issue 15, one GPU call: eight `fast` trainings side by side on one
# GPU for the same time budget (small models: the step is launch-bound, so they share it), on the
# honest split (synthetic speaker with --sentence-bank). L1 alone; the paper's GAN (lambda 1 from
# step 0); then the GAN after L1 warm-up with the field's stabilizers. Each exports its generator in
# float16 (model.safetensors + checkpoint.json, with its metrics.jsonl) to NAME/ inside
# $OUT/runs_a.tgz and runs_b.tgz (four runs each: the tool brings back files of at most 16 MiB);
# evaluate them on the CPU afterwards with `posevideo evaluate gestures --also ...`.
# SET=voice runs the voice-augmentation set instead (real speech, issue 15 §4): L1 and the GAN setup
# with `--voice-augment 0.8`, and both without it at a second seed (the spread between seeds).
# SET=seeds: L1 alone and the GAN setup (`g01_sn_fm_pose`) at seeds 0, 1, 2 and 3, side by side;
# SET=motion: the same eight with `--lambda-motion 1` (velocity and acceleration L1) as well.
#   usage: OUT=dir [SET=gan|voice|seeds|motion] bash benchmarks/gestures_gan_gpu.sh DATA MINUTES
# DATA needs only synth0/gesture_clips.npz (the gesture cache that `train gestures` writes).
set -u
DATA=$1; MINUTES=$2; OUT=${OUT:-/tmp/gestures-gan}; SPEAKER=${SPEAKER:-synth0}
RUNS=/tmp/gruns
export PYTHONUNBUFFERED=1
R=/tmp/gexport
mkdir -p "$OUT" $RUNS $R
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__)"
train() {  # name [options]
  python3 -m posevideo train gestures --data "$DATA" --speaker "$SPEAKER" --out $RUNS/$1 --preset fast \
    --steps 1000000 --batch 32 --lr 1e-4 --max-minutes "$MINUTES" --log-every 500 \
    --checkpoint-every 1000000 --export "$R/$1" "${@:2}" > $RUNS/$1.log 2>&1
}
W="--gan-start 1500"
GAN="--lambda-gan 0.1 $W --spectral-norm --feature-matching 1 --d-poses"
if [ "${SET:-gan}" = seeds ] || [ "${SET:-gan}" = motion ]; then
  # seeds: L1 alone and the GAN setup at seeds 0-3, all in one call (paired). motion: the same two
  # with the velocity and acceleration loss (--lambda-motion 1) as well.
  a=l1; b=gan; M=""
  [ "$SET" = motion ] && a=l1m && b=ganm && M="--lambda-motion 1"
  for seed in 0 1 2 3; do
    train ${a}_s$seed --lambda-gan 0 $M --seed $seed &
    train ${b}_s$seed $GAN $M --seed $seed &
  done
  wait
  for r in $RUNS/*.log; do n=$(basename $r .log); echo "== $n"; tail -c 400 $r | tr '\r' '\n' | tail -2
    tail -n 1 $RUNS/$n/metrics.jsonl; cp $RUNS/$n/metrics.jsonl "$R/$n/metrics.jsonl"; done
  tar czf "$OUT/runs_${SET}_$a.tgz" -C $R ${a}_s0 ${a}_s1 ${a}_s2 ${a}_s3
  tar czf "$OUT/runs_${SET}_$b.tgz" -C $R ${b}_s0 ${b}_s1 ${b}_s2 ${b}_s3
  ls -la "$OUT"
  exit 0
fi
if [ "${SET:-gan}" = voice ]; then
  train l1_aug --lambda-gan 0 --voice-augment 0.8 &
  train l1_aug_s1 --lambda-gan 0 --voice-augment 0.8 --seed 1 &
  train l1_aug05 --lambda-gan 0 --voice-augment 0.5 &
  train gan_aug $GAN --voice-augment 0.8 &
  train gan_aug_s1 $GAN --voice-augment 0.8 --seed 1 &
  train l1_s1 --lambda-gan 0 --seed 1 &
  train gan_s1 $GAN --seed 1 &
  wait
  for r in $RUNS/*.log; do n=$(basename $r .log); echo "== $n"; tail -c 400 $r | tr '\r' '\n' | tail -2
    tail -n 1 $RUNS/$n/metrics.jsonl; cp $RUNS/$n/metrics.jsonl "$R/$n/metrics.jsonl"; done
  tar czf "$OUT/runs_voice.tgz" -C $R l1_aug l1_aug_s1 l1_aug05 gan_aug gan_aug_s1
  tar czf "$OUT/runs_seed1.tgz" -C $R l1_s1 gan_s1
  ls -la "$OUT"
  exit 0
fi
train l1 --lambda-gan 0 &
train paper --lambda-gan 1 &
train g01 --lambda-gan 0.1 $W &
train g01_sn_ttur --lambda-gan 0.1 $W --spectral-norm --d-lr 4e-4 &
train g01_sn_fm_pose --lambda-gan 0.1 $W --spectral-norm --feature-matching 1 --d-poses &
train g003_sn_fm_pose --lambda-gan 0.03 $W --spectral-norm --feature-matching 1 --d-poses &
train g1_sn_fm10_pose --lambda-gan 1 $W --spectral-norm --feature-matching 10 --d-poses &
train g01_fm_pose_slowd --lambda-gan 0.1 $W --feature-matching 1 --d-poses --d-lr 2.5e-5 &
wait
for r in $RUNS/*.log; do n=$(basename $r .log); echo "== $n"; tail -c 400 $r | tr '\r' '\n' | tail -2
  tail -n 1 $RUNS/$n/metrics.jsonl; cp $RUNS/$n/metrics.jsonl "$R/$n/metrics.jsonl"; done
tar czf "$OUT/runs_a.tgz" -C $R l1 paper g01 g01_sn_ttur
tar czf "$OUT/runs_b.tgz" -C $R g01_sn_fm_pose g003_sn_fm_pose g1_sn_fm10_pose g01_fm_pose_slowd
ls -la "$OUT"
