#!/bin/sh
# Runs one fuzz target with its seed corpora, dictionary and limits.
#   fuzz/run.sh config_load|zonefile_read [SECONDS] [extra libFuzzer flags...]
# Needs a nightly toolchain and cargo-fuzz (see docs/fuzzing.md). New
# interesting inputs go to fuzz/corpus/<target>/, crashes to
# fuzz/artifacts/<target>/ (both ignored by git).
set -eu
cd "$(dirname "$0")"
target=${1:?usage: fuzz/run.sh config_load|zonefile_read [SECONDS] [libFuzzer flags...]}
seconds=${2:-600}
[ $# -ge 2 ] && shift 2 || shift 1
case $target in
config_load)
    seeds="../tests/bad-input ../tests/lint ../examples"
    dict=dict/mailform.dict ;;
zonefile_read)
    seeds="seeds/zonefile_read regressions/zonefile_read ../providers/zonefile/tests/data"
    dict=dict/zone.dict ;;
*)
    echo "unknown target $target" >&2
    exit 2 ;;
esac
mkdir -p "corpus/$target"
# The targets write their input to a file in a temporary directory on every
# run: keep it on a tmpfs, and remove it afterwards (the target cannot).
tmp_root=/tmp
[ -d /dev/shm ] && tmp_root=/dev/shm
TMPDIR=$(mktemp -d "$tmp_root/mailform-fuzz.XXXXXX")
export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT INT TERM
# One process, one thread: -max_len fits real files; a run slower than
# -timeout seconds is a hang and more than -rss_limit_mb a memory bomb.
# shellcheck disable=SC2086
cargo +nightly fuzz run "$target" "corpus/$target" $seeds -- \
    -dict="$dict" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
    -max_total_time="$seconds" -print_final_stats=1 "$@"
