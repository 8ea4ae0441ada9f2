#!/usr/bin/env bash
# scripts/test-preload.sh - real programs on rmem (issue 7).
#
#   npm run test:preload                 the full run (several minutes)
#   bash scripts/test-preload.sh --quick  the short run that `npm test` does (ctest preload_smoke)
#   ... [--lib path/to/librmem-malloc.so]
#
# Every program runs twice, on glibc's malloc and under LD_PRELOAD=librmem-malloc.so,
# and its (normalised) output and exit status must be identical. Each program is
# also run once with RMEM_MALLOC_STATS=1 to prove rmem really served its
# allocations, and no run may print an rmem-malloc bad-free report.
#
#   quick:  python3 -m test test_json, sqlite3 on a generated database, git on a
#           generated repository, gcc compiling C (object files must be identical).
#   full:   + a larger python3 -m test set (including threads and subprocesses),
#           node running this project's JS tests, redis-server driven by
#           redis-benchmark on 127.0.0.1 (apt package redis-server, installed here
#           if missing and running as root), a smaller run under valgrind memcheck,
#           and the drop-in's own C tests under ASan+UBSan.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD

quick=0
lib=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --lib) lib=$2; shift ;;
    *) echo "usage: $0 [--quick] [--lib librmem-malloc.so]" >&2; exit 2 ;;
  esac
  shift
done

if [ -z "$lib" ]; then
  lib=$root/build/release/malloc/librmem-malloc.so
  if [ ! -f "$lib" ]; then
    echo "== building $lib"
    cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DRMEM_BUILD_TESTS=OFF >/dev/null && cmake --build build/release -j 2 --target rmem_malloc >/dev/null || exit 1
  fi
fi
lib=$(readlink -f "$lib")
[ -f "$lib" ] || { echo "no $lib" >&2; exit 1; }

work=$(mktemp -d /tmp/rmem-preload.XXXXXX)
trap 'rm -rf "$work"' EXIT
pass=0
fail=0
skip=0
failed_names=()

ok() { pass=$((pass + 1)); echo "PASS  $1"; }
bad() { fail=$((fail + 1)); failed_names+=("$1"); echo "FAIL  $1${2:+: $2}"; }
skipped() { skip=$((skip + 1)); echo "SKIP  $1${2:+: $2}"; }
have() { command -v "$1" >/dev/null 2>&1; }

# same NAME NORMALISE -- command...
# Runs the command in a fresh copy of $work/NAME.in (if it exists) without and with
# the preload; compares exit status and the output after the NORMALISE filter.
same() {
  local name=$1 norm=$2
  shift 3
  local d
  for mode in glibc rmem; do
    d=$work/$name.$mode
    rm -rf "$d"
    if [ -d "$work/$name.in" ]; then cp -a "$work/$name.in" "$d"; else mkdir -p "$d"; fi
    local pre=""
    [ $mode = rmem ] && pre=$lib
    (cd "$d" && LD_PRELOAD=$pre "$@" >"$work/$name.$mode.out" 2>"$work/$name.$mode.err")
    echo "exit $?" >>"$work/$name.$mode.out"
    $norm <"$work/$name.$mode.out" >"$work/$name.$mode.norm"
  done
  if grep -q "rmem-malloc:" "$work/$name.rmem.err"; then
    bad "$name" "rmem-malloc reported: $(grep -m1 'rmem-malloc:' "$work/$name.rmem.err")"
  elif ! cmp -s "$work/$name.glibc.norm" "$work/$name.rmem.norm"; then
    bad "$name" "output differs"
    diff "$work/$name.glibc.norm" "$work/$name.rmem.norm" | head -20
    tail -5 "$work/$name.rmem.err"
  else
    ok "$name"
  fi
}

# served NAME command...: under RMEM_MALLOC_STATS=1 the summary must show allocations.
served() {
  local name=$1
  shift
  local n
  n=$(LD_PRELOAD=$lib RMEM_MALLOC_STATS=1 "$@" 2>&1 >/dev/null | sed -n 's/.*heap operations *\([0-9]*\) allocs.*/\1/p' | sort -n | tail -1)
  if [ -n "$n" ] && [ "$n" -gt 0 ]; then ok "$name served by rmem ($n allocs)"; else bad "$name served by rmem" "no rmem-malloc stats"; fi
}

raw() { cat; }
# python's regrtest prints timings and load averages: keep the verdict lines only.
pytest_norm() { grep -E '^(Total tests|Total test files|Result|exit)' ; }
# node:test (TAP): keep the counts.
nodetest_norm() { grep -E '^# (tests|pass|fail|cancelled|skipped|todo)|^exit' ; }

echo "== librmem-malloc: $lib ($([ $quick = 1 ] && echo quick || echo full) run)"

# ---- python3 -------------------------------------------------------------
if have python3; then
  if [ $quick = 1 ]; then pytests=(test_json); else
    pytests=(test_json test_re test_dict test_set test_list test_tuple test_unicode test_string test_bytes
             test_collections test_itertools test_functools test_heapq test_bisect test_struct test_array
             test_pickle test_math test_random test_sort test_deque test_threading test_queue test_subprocess
             test_gc test_weakref test_io test_zlib test_hashlib test_sqlite3)
  fi
  same python3-regrtest pytest_norm -- python3 -m test "${pytests[@]}"
  served python3 python3 -c 'import json, re; json.dumps({"a": [1, 2, 3]}); re.compile("x+")'
else
  skipped python3 "not installed"
fi

# ---- sqlite3 on a generated database -------------------------------------
if have sqlite3; then
  rows=$([ $quick = 1 ] && echo 10000 || echo 200000)
  python3 - "$rows" >"$work/gen.sql" <<'EOF'
import sys
n = int(sys.argv[1])
print("CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, v REAL, blob BLOB);")
print("BEGIN;")
for i in range(n):
    print("INSERT INTO t(name, v, blob) VALUES('n%d', %d.25, zeroblob(%d));" % ((i * 7919) % 100003, (i * 31) % 977, i % 300))
print("COMMIT;")
print("CREATE INDEX t_name ON t(name);")
print("SELECT count(*), sum(v), sum(length(blob)) FROM t;")
print("SELECT name, count(*) FROM t GROUP BY name ORDER BY 2 DESC, 1 LIMIT 5;")
print("UPDATE t SET name = upper(name) || id WHERE id % 3 = 0;")
print("DELETE FROM t WHERE id % 5 = 0;")
print("VACUUM;")
print("SELECT count(*), max(name), min(name) FROM t;")
print("PRAGMA integrity_check;")
EOF
  same sqlite3 raw -- sh -c "sqlite3 db.sqlite < '$work/gen.sql' && sqlite3 db.sqlite 'SELECT count(*) FROM t; PRAGMA integrity_check;'"
  served sqlite3 sqlite3 :memory: 'CREATE TABLE x(a); INSERT INTO x VALUES(1); SELECT * FROM x;'
else
  skipped sqlite3 "not installed (apt-get install sqlite3)"
fi

# ---- git on a generated repository ---------------------------------------
if have git; then
  files=$([ $quick = 1 ] && echo 100 || echo 2000)
  mkdir -p "$work/git.in"
  cat >"$work/git.sh" <<EOF
set -e
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com
export GIT_AUTHOR_DATE='2026-01-01T00:00:00Z' GIT_COMMITTER_DATE='2026-01-01T00:00:00Z' HOME=\$PWD GIT_CONFIG_NOSYSTEM=1
git init -q -b main repo && cd repo
for c in 1 2 3 4 5; do
  i=0; while [ \$i -lt $files ]; do echo "line \$c of file \$i" >> "f\$((i % 97))_\$i.txt"; i=\$((i + 1)); done
  git add -A && git commit -q -m "commit \$c"
done
git checkout -q -b side HEAD~2 && echo side > side.txt && git add side.txt && git commit -q -m side
git checkout -q main && git merge -q --no-edit side
git log --format='%H %s' | head -20
git diff --stat HEAD~3 HEAD | tail -1
git gc -q && git fsck --no-progress && git count-objects -v | grep -E '^(count|in-pack|packs)'
git rev-parse HEAD^{tree}
EOF
  same git raw -- sh "$work/git.sh"
  served git git --version
else
  skipped git "not installed"
fi

# ---- gcc compiling C -----------------------------------------------------
if have gcc; then
  cat >"$work/hello.c" <<'EOF'
#include <stdio.h>
int main(void) { printf("hello from a program gcc built on rmem\n"); return 0; }
EOF
  srcs="src/heap.c"
  [ $quick = 1 ] || srcs="$(grep -v '^#' src/sources.txt | tr '\n' ' ') $(cd $root && ls malloc/*.c | tr '\n' ' ')"
  cat >"$work/gcc.sh" <<EOF
set -e
for s in $srcs; do
  gcc -O2 -std=c11 -D_GNU_SOURCE -I$root/include -I$root/src -I$root/malloc -c $root/\$s -o out.o
  echo "\$s \$(md5sum < out.o | cut -c1-32)"
done
gcc -O2 -o hello $work/hello.c && ./hello
EOF
  same gcc raw -- sh "$work/gcc.sh"
  served gcc gcc -E -x c /dev/null
else
  skipped gcc "not installed"
fi

if [ $quick = 0 ]; then
  # ---- node running this project's JS tests --------------------------------
  if have node && [ -d test/js ] && ls test/js/*.test.js >/dev/null 2>&1; then
    if [ -f build/Release/rmem.node ]; then
      same node-tests nodetest_norm -- node --test --test-concurrency=1 --test-reporter=tap "$root"/test/js/
      served node node -e 'JSON.stringify(Array.from({length: 1000}, (_, i) => ({i})))'
    else
      skipped node-tests "build/Release/rmem.node missing (npm run build)"
    fi
  else
    skipped node-tests "node or test/js missing"
  fi

  # ---- redis-server driven by redis-benchmark ------------------------------
  if ! have redis-server && [ "$(id -u)" = 0 ] && have apt-get; then
    echo "== installing redis-server (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >/dev/null 2>&1 || true
  fi
  if have redis-server && have redis-benchmark && have redis-cli; then
    port=6391
    redis_run() { # $1 = preload lib or empty; prints the data checks
      local pre=$1 dir=$work/redis.$2
      mkdir -p "$dir"
      LD_PRELOAD=$pre redis-server --port $port --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
        --daemonize no >"$dir/server.log" 2>&1 &
      local pid=$!
      for _ in $(seq 50); do redis-cli -p $port ping >/dev/null 2>&1 && break; sleep 0.1; done
      redis-benchmark -p $port -q -n 50000 -c 20 -P 8 -r 10000 -t set,get,incr,lpush,rpush,lpop,sadd,hset,mset >"$dir/bench.txt" 2>&1
      echo "benchmark exit $?"
      for i in $(seq 1 300); do echo "SET key:$i $(printf 'v%.0s' $(seq 1 $((i % 50 + 1))))"; echo "RPUSH list $i"; done | redis-cli -p $port >/dev/null
      redis-cli -p $port GET key:77
      redis-cli -p $port LLEN list
      redis-cli -p $port LRANGE list 10 12
      redis-cli -p $port DEL list >/dev/null
      redis-cli -p $port DEBUG RELOAD >/dev/null 2>&1
      redis-cli -p $port STRLEN key:299
      redis-cli -p $port shutdown nosave >/dev/null 2>&1
      wait $pid
      echo "server exit $?"
      grep -h 'rmem-malloc:' "$dir/server.log" || true
    }
    redis_run "" glibc >"$work/redis.glibc.out" 2>&1
    redis_run "$lib" rmem >"$work/redis.rmem.out" 2>&1
    if cmp -s "$work/redis.glibc.out" "$work/redis.rmem.out"; then
      ok "redis-server + redis-benchmark"
      for m in glibc rmem; do # one run each on a shared machine: indicative, not a benchmark
        echo "      $m: $(tr '\r' '\n' <"$work/redis.$m/bench.txt" | grep 'requests per second' | sed 's/ requests per second.*/ rps/' | tr '\n' ' ')"
      done
    else
      bad "redis-server + redis-benchmark" "output differs"
      diff "$work/redis.glibc.out" "$work/redis.rmem.out" | head
    fi
  else
    skipped redis "redis-server not installed and cannot install it"
  fi

  # ---- valgrind memcheck (smaller run) ---------------------------------------
  # librmem-malloc.so is preloaded before valgrind's own malloc replacement, so the
  # programs allocate from rmem while memcheck checks every access of rmem's code.
  if have valgrind; then
    vg() {
      local name=$1
      shift
      if LD_PRELOAD=$lib valgrind --tool=memcheck --error-exitcode=99 --quiet "$@" >"$work/vg.out" 2>"$work/vg.err"; then
        ok "valgrind memcheck: $name"
      else
        bad "valgrind memcheck: $name" "$(grep -m3 -E '==[0-9]+==' "$work/vg.err" | tr '\n' ' ')"
      fi
    }
    vg sqlite3 sqlite3 :memory: 'CREATE TABLE t(a, b); WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000) INSERT INTO t SELECT x, hex(randomblob(x % 100)) FROM c; CREATE INDEX ti ON t(b); SELECT count(*), sum(length(b)) FROM t;'
    vg python3 python3 -c 'import json; d = [{"k": i, "v": str(i) * 10} for i in range(5000)]; assert json.loads(json.dumps(d)) == d'
  else
    skipped valgrind "not installed (apt-get install valgrind)"
  fi

  # ---- the drop-in's own C tests under ASan+UBSan ----------------------------
  if cmake -S . -B build/preload-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRMEM_DEBUG=ON -DRMEM_SANITIZE=ON \
       -DRMEM_BUILD_BENCH=OFF >/dev/null && cmake --build build/preload-asan -j 2 --target test_rmem_malloc >/dev/null &&
     ASAN_OPTIONS=detect_leaks=1 build/preload-asan/malloc/test_rmem_malloc >"$work/asan.out" 2>&1; then
    ok "test_rmem_malloc under ASan+UBSan ($(tail -1 "$work/asan.out"))"
  else
    bad "test_rmem_malloc under ASan+UBSan" "$(tail -3 "$work/asan.out" 2>/dev/null | tr '\n' ' ')"
  fi
fi

echo "== $pass passed, $fail failed, $skip skipped"
[ $fail = 0 ] || { echo "failed: ${failed_names[*]}"; exit 1; }
