#!/usr/bin/env bash
# Uses shmraft the way another project would: installs this build into a temporary prefix, checks what
# landed there (package config, headers, man page, bash completion), configures and builds examples/
# against it with find_package(shmraft), runs the in-process core example, then starts a cluster with the
# installed `shmraft up` and runs the client example against it.
#
# usage: install_consumer_test.sh CMAKE BUILD_DIR EXAMPLES_DIR GENERATOR CXX_COMPILER CXX_FLAGS LINK_FLAGS
set -euo pipefail
cmake=$1 build=$2 examples=$3 generator=$4 cxx=$5 cxx_flags=$6 link_flags=$7

work=$(mktemp -d /tmp/shmraft-install-test.XXXXXX)
prefix=$work/prefix
cluster=install-test-$$
up_pid=
cleanup() {
  if [[ -n $up_pid ]]; then
    "$prefix/bin/shmraft" down -c "$cluster" >/dev/null 2>&1 || kill "$up_pid" 2>/dev/null || true
    wait "$up_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "FAILED: $*" >&2
  exit 1
}

# Runs a command with its output in $work/<log>; shows the output only when it fails.
logged() {
  local log=$work/$1
  shift
  "$@" >"$log" 2>&1 || { cat "$log" >&2; fail "$*"; }
}

echo "== cmake --install $build --prefix $prefix"
logged install.log "$cmake" --install "$build" --prefix "$prefix"
config=$(find "$prefix" -name shmraftConfig.cmake)
[[ -n $config ]] || fail "no shmraftConfig.cmake installed"
for file in "$(dirname "$config")/shmraftConfigVersion.cmake" "$prefix/bin/shmraft" \
  "$prefix/include/shmraft/node/raft/core.h" "$prefix/include/shmraft/launcher/client/client.h" \
  "$prefix/share/bash-completion/completions/shmraft"; do
  [[ -e $file ]] || fail "not installed: $file"
done

if [[ ${SHMRAFT_MAN_PAGE:-1} == 0 ]]; then
  echo "== no man page: this build was configured with -DSHMRAFT_MAN_PAGE=OFF"
else
  echo "== the man page has a section for every subcommand"
  man_page=$prefix/share/man/man1/shmraft.1
  [[ -e $man_page ]] || fail "not installed: $man_page"
  for subcommand in $("$prefix/bin/shmraft" --help | awk '/^Subcommands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }'); do
    grep -qF ".SS \"shmraft $subcommand:\"" "$man_page" || fail "the man page has no section for '$subcommand'"
  done
fi

echo "== the installed bash completion completes subcommands and flags"
completion=$(bash -c '
  source /usr/share/bash-completion/bash_completion
  source "$1/share/bash-completion/completions/shmraft"
  complete_words() {
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; COMPREPLY=()
    _shmraft; echo "${COMPREPLY[*]}"
  }
  complete_words "$1/bin/shmraft" sta
  complete_words "$1/bin/shmraft" bench --fs' _ "$prefix")
[[ $completion == $'status\n--fsync' ]] || fail "completion gave: $completion"

echo "== build examples/ against the installed package"
logged configure.log "$cmake" -S "$examples" -B "$work/examples" -G "$generator" \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_CXX_FLAGS="$cxx_flags" -DCMAKE_EXE_LINKER_FLAGS="$link_flags"
found=$(sed -n 's/^shmraft_DIR:PATH=//p' "$work/examples/CMakeCache.txt")
[[ $found == "$prefix"/* ]] || fail "find_package(shmraft) found $found, not the package in $prefix"
logged build.log "$cmake" --build "$work/examples" -j 2

echo "== three_node_core"
"$work/examples/three_node_core" || fail "three_node_core"

echo "== kv_client against a cluster started by the installed shmraft up"
"$prefix/bin/shmraft" up -c "$cluster" -d "$work/data" >"$work/up.log" 2>&1 &
up_pid=$!
for ((i = 0; i < 300; i++)); do
  grep -q '^leader:' "$work/up.log" && break
  kill -0 "$up_pid" 2>/dev/null || { cat "$work/up.log" >&2; fail "shmraft up exited"; }
  sleep 0.1
done
grep -q '^leader:' "$work/up.log" || { cat "$work/up.log" >&2; fail "no leader within 30 s"; }
"$work/examples/kv_client" "$cluster" || fail "kv_client"

"$prefix/bin/shmraft" down -c "$cluster" || fail "shmraft down"
up_status=0
wait "$up_pid" || up_status=$?
up_pid=
((up_status == 0)) || { cat "$work/up.log" >&2; fail "shmraft up exited with $up_status"; }
echo "== passed"
