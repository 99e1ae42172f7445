#!/bin/sh
# Builds the fuzz preset's targets, or runs one fuzz target over its corpus.
#
#   tests/fuzz/run_fuzz.sh --build                      configure + build build/fuzz, regenerate the seeds
#   tests/fuzz/run_fuzz.sh <target> [libFuzzer flags]   e.g. ring_fuzz -max_total_time=20
#
# A run reads the kept corpus (tests/fuzz/corpus/<target>: the seed generator's output, named, and the
# minimised finds of a long run, named by their SHA-1), the inputs that once found a bug
# (tests/fuzz/regressions/<target>, kept apart so that regenerating the corpus cannot drop them), the
# freshly generated seeds (build/fuzz/seeds/<target>) and what earlier runs found
# (build/fuzz/fuzz-runs/<target>/found, where new inputs go). A crash is saved in
# build/fuzz/fuzz-runs/<target>/ and the command replaying it printed.
set -u
source_dir=$(cd "$(dirname "$0")/../.." && pwd)
build=$source_dir/build/fuzz
umask 077

if [ "${1:-}" = "--build" ]; then
  cd "$source_dir" || exit 1
  if [ -z "${CMAKE_CXX_COMPILER_LAUNCHER:-}" ] && command -v ccache >/dev/null; then
    export CMAKE_CXX_COMPILER_LAUNCHER=ccache
  fi
  cmake --preset fuzz >/dev/null &&
    cmake --build --preset fuzz --target fuzz_targets &&
    rm -rf "$build/seeds" &&
    "$build/tests/fuzz/fuzz_seed_corpus" "$build/seeds"
  exit
fi

if [ $# -lt 1 ]; then
  echo "usage: $0 --build | <target> [libFuzzer flags...]" >&2
  exit 2
fi
target=$1
shift
binary=$build/tests/fuzz/$target
# The storage target writes a node directory per run: keep it off the disk where tmpfs is available.
[ -d /dev/shm ] && export TMPDIR=/dev/shm
# ASan holds freed memory in a quarantine (256 MB by default) before reusing it, so allocations keep
# landing on fresh pages: a page fault each, on a PVM guest an exit to the hypervisor. 16 MB is 30 times
# what one execution allocates (the most over the kept corpora: storage_recovery_fuzz 0.5 MB, the others
# under 40 KB, `-trace_malloc=1`), so a use after free within an execution is caught as before. It halved
# storage_recovery_fuzz's CPU per execution and cut its page faults to a third. A caller's ASAN_OPTIONS
# come after, and win.
export ASAN_OPTIONS="quarantine_size_mb=16${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
runs=$build/fuzz-runs/$target
mkdir -p "$runs/found" "$build/seeds/$target" || exit 1
marker=$runs/.started
: >"$marker"

regressions=$source_dir/tests/fuzz/regressions/$target
[ -d "$regressions" ] || regressions=

"$binary" -dict="$source_dir/tests/fuzz/fuzz.dict" -artifact_prefix="$runs/" -print_final_stats=1 "$@" \
  "$runs/found" "$source_dir/tests/fuzz/corpus/$target" ${regressions:+"$regressions"} "$build/seeds/$target"
status=$?
if [ $status -ne 0 ]; then
  find "$runs" -maxdepth 1 -type f -newer "$marker" ! -name .started | while read -r input; do
    echo "replay: cd $source_dir && build/fuzz/tests/fuzz/$target $input"
  done
fi
exit $status
