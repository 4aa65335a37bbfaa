#!/usr/bin/env bash
# Stop the throwaway single-node SLURM started by start_slurm.sh and remove its state directory.
set -euo pipefail
exec "${PYTHON:-python3}" "$(dirname "$0")/cluster.py" stop "$@"
