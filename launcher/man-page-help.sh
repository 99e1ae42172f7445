#!/usr/bin/env bash
# The help text of $SHMRAFT_BINARY in the shape help2man reads: the top-level help, then every
# subcommand's (and sub-subcommand's) help as a subsection headed "shmraft <command>:", indented so that
# its own "Options:" lines do not start new sections. Built as <build>/man/shmraft, because help2man
# names the page after the program it runs. Only --help is answered (help2man is given --version-string).
set -euo pipefail
binary=${SHMRAFT_BINARY:?SHMRAFT_BINARY must name the shmraft binary}

help_of() { "$binary" "$@" --help | sed "s|$binary|shmraft|g"; }
subcommands_of() { help_of "$@" | awk '/^Subcommands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }'; }

# The help of `shmraft $@` without its first line (the summary, already in the parent's list).
section() {
  echo
  echo "shmraft $*:"
  help_of "$@" | sed '1d; s/^/  /'
  local sub
  for sub in $(subcommands_of "$@"); do section "$@" "$sub"; done
}

[[ ${1:-} == --help ]] || { echo "usage: SHMRAFT_BINARY=... $0 --help" >&2; exit 2; }
help_of
for command in $(subcommands_of); do section "$command"; done
