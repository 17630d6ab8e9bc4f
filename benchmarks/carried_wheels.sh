# Sourced by the GPU scripts (benchmarks/*_gpu.sh): the GPU machine lacks some of posevideo's
# packages (PyAV, pose-format); their wheels travel in .whl (git-ignored, `carry` of the run tool)
# and are installed into /tmp/site unless the import statement given as $1 already works there.
#   source benchmarks/carried_wheels.sh "import av, pose_format"
if ! ${PY:-python3} -c "$1" 2>/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || exit 1
    export PYTHONPATH=/tmp/site:$PWD
fi
