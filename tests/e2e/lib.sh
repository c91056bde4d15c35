# tests/e2e/lib.sh: helpers shared by the end-to-end test scripts (sourced, not run): counting
# passes and failures, and running weir with an expected exit status and stderr. The sourcing
# script sets pass, fail, src, weir and tmp.
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; shift; for l in "$@"; do echo "     $l"; done; }

# expect_run NAME STATUS STDERR_REGEX -- ARGS...: runs weir (from $src), checks status and stderr
expect_run() {
  local name=$1 status=$2 regex=$3
  shift 4
  (cd "$src" && "$weir" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null)
  local rc=$?
  if [ "$rc" != "$status" ]; then
    bad "$name" "exit status $rc, expected $status" "$(head -5 "$tmp/err")"
  elif [ -n "$regex" ] && ! grep -Eq -- "$regex" "$tmp/err"; then
    bad "$name" "stderr does not match /$regex/:" "$(head -5 "$tmp/err")"
  else
    ok "$name"
  fi
}

same_file() { # NAME ACTUAL EXPECTED
  if cmp -s "$2" "$3"; then ok "$1"; else bad "$1" "$(diff "$3" "$2" | head -10)"; fi
}

# ooo_input N [USERS]: N JSON records {ts, user, amount} of USERS users (default 1500), event time
# 4 ms apart, up to 3 s out of order, 1% late by up to 40 s (a deterministic LCG, so every machine
# gets the same lines)
ooo_input() {
  awk -v n="$1" -v users="${2:-1500}" 'BEGIN { x = 12345; m = 2147483648
    for (i = 0; i < n; i++) {
      x = (1103515245 * x + 12345) % m; j = x % 3200
      x = (1103515245 * x + 12345) % m; u = x % users
      x = (1103515245 * x + 12345) % m; a = x % 100 + 1
      x = (1103515245 * x + 12345) % m; late = (x % 100 == 0) ? (x % 40000) : 0
      printf "{\"ts\":%d,\"user\":\"u%d\",\"amount\":%d}\n", i * 4 - j + 200 - late, u, a } }'
}
