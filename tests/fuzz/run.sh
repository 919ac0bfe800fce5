#!/usr/bin/env bash
# Builds and runs every cargo-fuzz target for a bounded time each.
#
#   tests/fuzz/run.sh [seconds-per-target]   (default 60)
#
# Needs the nightly toolchain and cargo-fuzz (`.ci/run` installs both).
# Each target starts from its committed seeds (tests/fuzz/corpus/<target>,
# read only) plus what earlier runs on this machine found
# (tests/fuzz/target/corpus/<target>, not committed). A crash or a failed
# property stops the script with the input in tests/fuzz/artifacts/<target>/;
# replay it with `cargo +nightly fuzz run --fuzz-dir tests/fuzz <target> <file>`.
# The last line per target is libFuzzer's own figures (runs, coverage).
set -euo pipefail
cd "$(dirname "$0")/../.."
secs="${1:-60}"
case "$secs" in '' | *[!0-9]*) echo "usage: $0 [seconds-per-target]" >&2; exit 2 ;; esac

# cargo-fuzz needs nightly flags (-Zsanitizer, sancov). Use the installed
# nightly; on a machine without one, the stable toolchain with
# RUSTC_BOOTSTRAP=1 builds the same instrumentation.
if cargo +nightly --version >/dev/null 2>&1; then
  fuzz=(cargo +nightly fuzz)
else
  echo "no nightly toolchain: building with stable and RUSTC_BOOTSTRAP=1" >&2
  export RUSTC_BOOTSTRAP=1
  fuzz=(cargo fuzz)
fi
"${fuzz[@]}" build --fuzz-dir tests/fuzz -O
failed=0
for target in $("${fuzz[@]}" list --fuzz-dir tests/fuzz); do
  work="tests/fuzz/target/corpus/$target"
  log="tests/fuzz/target/$target.log"
  mkdir -p "$work"
  echo "== fuzz $target for ${secs}s"
  if "${fuzz[@]}" run --fuzz-dir tests/fuzz -O "$target" "$work" "tests/fuzz/corpus/$target" -- \
      -max_total_time="$secs" -max_len=65536 -timeout=10 -print_final_stats=1 >"$log" 2>&1; then
    grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$log" | tail -n 1 || true
    grep -E '^(stat::number_of_executed_units|Done )' "$log" || true
  else
    failed=$((failed + 1))
    tail -n 60 "$log"
    echo "fuzz target $target FAILED; input in tests/fuzz/artifacts/$target/" >&2
  fi
done
if [ "$failed" -ne 0 ]; then
  echo "$failed fuzz target(s) failed" >&2
  exit 1
fi
echo "fuzz: every target ran ${secs}s without a failure"
