#!/bin/sh
# tools/experiment/run.sh [OPTIONS]: the experiment runner (experiment.py;
# tools/experiment/README.md). Root on a sched_ext kernel, e.g.
#   tools/dev vm -- tools/experiment/run.sh --out build/rootfs/experiments/quick
exec python3 -B "$(dirname "$0")/experiment.py" "$@"
