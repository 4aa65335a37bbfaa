#!/usr/bin/env bash
# Start (or find running) the throwaway single-node SLURM used by tests/test_slurm.py.
# Needs root; installs Debian's slurm-wlm, munge and mariadb packages if missing.
# Prints `export SLURM_CONF=...`; plain sinfo/sbatch/sacct work without it too.
set -euo pipefail
exec "${PYTHON:-python3}" "$(dirname "$0")/cluster.py" start "$@"
