#!/usr/bin/env bash
# Build the compiled core profile-guided into the project's venv, as pydantic-core's releases
# are built: an instrumented build runs core/pgo_train.py (the shipped catalogue over generated
# traffic, through the engine and the worker's processing), LLVM merges what it counted, and the
# release build then lays out, inlines and orders branches by those counts. On this project's
# benchmark that made the engine 1.23 times as fast (median of six paired sets,
# docs/performance.md).
#
# It needs the llvm-profdata of rustc's own LLVM: rustup's llvm-tools component, added here
# when missing, or the one $LLVM_PROFDATA names. Without it the core stays built as plain
# release, and this says so.
#
# Usage: core/pgo.sh [python of the venv]   (make setup runs it)
set -euo pipefail
cd "$(dirname "$0")/.."
python=${1:-.venv/bin/python}
work=core/target/pgo

host=$(rustc -vV | sed -n 's/^host: //p')
profdata=${LLVM_PROFDATA:-"$(rustc --print sysroot)/lib/rustlib/$host/bin/llvm-profdata"}
if [ ! -x "$profdata" ] && [ -z "${LLVM_PROFDATA:-}" ]; then
    echo "core/pgo.sh: adding rustup's llvm-tools (llvm-profdata) for the profile-guided build"
    rustup component add llvm-tools >/dev/null 2>&1 || true
fi
if [ ! -x "$profdata" ]; then
    echo "core/pgo.sh: WARNING: no llvm-profdata at $profdata (rustup component add" \
        "llvm-tools, or LLVM_PROFDATA): the core stays a plain release build, slower than" \
        "the one docs/performance.md measures" >&2
    exit 0
fi

rm -rf "$work"
mkdir -p "$work/counts"
echo "core/pgo.sh: instrumented build, training run, profile-guided build"
RUSTFLAGS="-Cprofile-generate=$PWD/$work/counts" \
    "$python" -m pip install --quiet --no-deps -e .
"$python" core/pgo_train.py
"$profdata" merge -o "$work/core.profdata" "$work/counts"
RUSTFLAGS="-Cprofile-use=$PWD/$work/core.profdata" \
    "$python" -m pip install --quiet --no-deps -e .
