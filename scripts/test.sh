#!/usr/bin/env bash
# The whole test suite (the README's second command; .ci/run calls it): install what the tests
# need, build with -Werror, check formatting and lint, run the C unit tests (also under
# valgrind), the busted specs (C bindings, CLI, end to end), then all of it again built with
# ASan+UBSan.  Ends with one line: "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/setup-podman.sh
export CBUILD_TEST_CACHE=${CBUILD_TEST_CACHE:-/var/cache/cbuild-test}
mkdir -p "$CBUILD_TEST_CACHE"
logs=$(mktemp -d /tmp/cbuild-test.XXXXXX)
passed=0 failed=0 steps_failed=""

# count PASS FAIL: add a runner's own counts to the totals
count() { passed=$((passed + $1)); failed=$((failed + $2)); }
# step NAME CMD...: run one stage, its output in $logs/NAME.log and on stdout
step() {
  local name=$1; shift
  echo "==> $name"
  if "$@" 2>&1 | tee "$logs/$name.log"; then return 0; fi
  steps_failed="$steps_failed $name"
  return 1
}
ctest_counts() { # "100% tests passed, 0 tests failed out of 7"
  local line; line=$(grep -E 'tests failed out of' "$1" | tail -1)
  [ -n "$line" ] || { count 0 1; return; }
  local f t; f=$(echo "$line" | sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/')
  t=$(echo "$line" | sed -E 's/.* out of ([0-9]+).*/\1/')
  count $((t - f)) "$f"
}
busted_counts() { # "12 successes / 0 failures / 0 errors / 0 pending : 1.2 seconds"
  local line; line=$(grep -aE '[0-9]+ successes? / [0-9]+ failures? / [0-9]+ errors?' "$1" | tail -1)
  [ -n "$line" ] || { count 0 1; return; }
  local s f e; s=$(echo "$line" | sed -E 's/^([0-9]+) success.*/\1/')
  f=$(echo "$line" | sed -E 's/.* ([0-9]+) failures?.*/\1/')
  e=$(echo "$line" | sed -E 's/.* ([0-9]+) errors?.*/\1/')
  count "$s" $((f + e))
}
plain_check() { # a check that is one test: lint, format
  if step "$@"; then count 1 0; else count 0 1; fi
}

c_files() { git ls-files 'core/*.c' 'core/*.h' 'lua/*.c' 'lua/*.h' 'spec/c/*.c' 'spec/c/*.h' 'examples/*.c'; }

if ! step build sh -c 'cmake -B build -DCBUILD_WERROR=ON >/dev/null && cmake --build build -j2'; then
  echo "0 passed, 1 failed"; exit 1
fi
# The ASan+UBSan build compiles in the background while the plain tests run (they mostly wait
# on processes, so the second core is free).
(cmake -B build-asan -DCBUILD_WERROR=ON -DCBUILD_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null &&
  nice cmake --build build-asan -j1) >"$logs/asan-build.out" 2>&1 &
asan_build=$!
plain_check clang-format sh -c "$(declare -f c_files); c_files | xargs clang-format --dry-run -Werror"
plain_check luacheck luacheck -q stdlib spec
step ctest sh -c 'cd build && ctest --output-on-failure'; ctest_counts "$logs/ctest.log"
plain_check valgrind sh -c 'for t in build/test_*; do valgrind -q --leak-check=full --error-exitcode=1 \
  --suppressions=spec/c/valgrind.supp "$t" >/dev/null || { echo "valgrind: $t"; exit 1; }; done'
step busted scripts/busted -o utfTerminal; busted_counts "$logs/busted.log"
# The bindings (spec/core) once more under an aggressive garbage collector.
step gc-stress scripts/busted -o utfTerminal --helper=spec/gc_stress.lua spec/core
busted_counts "$logs/gc-stress.log"

# The same again with AddressSanitizer and UndefinedBehaviorSanitizer; the slow Debian-based
# specs (#debian: apt-get installs) run once, above, to keep the suite short; #noasan ones
# run a stock lua5.4 or a separately linked program, which cannot load the instrumented module.
wait "$asan_build"; asan_rc=$?
if step asan-build sh -c "cat '$logs/asan-build.out'; exit $asan_rc"; then
  step asan-ctest sh -c 'cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure'
  ctest_counts "$logs/asan-ctest.log"
  # lua5.4 itself is not instrumented: preload the runtime for the specs that load cbuild.so;
  # leaks are left to the C tests and valgrind (the interpreter exits without freeing).
  step asan-busted env CBUILD_BUILD=build-asan LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)" \
    ASAN_OPTIONS=detect_leaks=0 scripts/busted -o utfTerminal --exclude-tags=debian,noasan
  busted_counts "$logs/asan-busted.log"
else
  count 0 1
fi

[ -z "$steps_failed" ] || echo "failed stages:$steps_failed"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ -z "$steps_failed" ]
