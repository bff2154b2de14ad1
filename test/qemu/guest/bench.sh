# Overhead benchmark scenario (bench/driver-overhead.mts): times an exec loop, a
# connect loop and open-for-write loops (under a watched and an unwatched
# prefix) in alternating rounds, so drift in the emulator hits every side alike:
#   off     module not loaded
#   on      module loaded with the harness's control commands (the agent's
#           watched prefixes) and a reader draining /dev/vigil like the agent
#   probes  module loaded, probes registered but every hook switched off
#           ("hook all off"): the cost of being hooked, without records
# /extra/bench.conf may set ROUNDS, EXEC_N, CONNECT_N, OPEN_N.
# Out: bench.jsonl (one line per loop, one per drain with the bytes read).

ROUNDS=3 EXEC_N=300 CONNECT_N=1000 OPEN_N=5000
[ -f /extra/bench.conf ] && . /extra/bench.conf
mkdir -p /tmp/watched /var/unwatched

run_loops() {
  vigil-bench exec "$EXEC_N" "$1" >>/tmp/out/bench.jsonl
  vigil-bench connect "$CONNECT_N" "$1" >>/tmp/out/bench.jsonl
  vigil-bench open "$OPEN_N" /tmp/watched "$1" >>/tmp/out/bench.jsonl
  vigil-bench open-unwatched "$OPEN_N" /var/unwatched "$1" >>/tmp/out/bench.jsonl
}

# Loads the module, applies the controls plus "$1" (if any), runs the loops
# labelled "$2" with a reader draining the device, unloads.
run_loaded() {
  load_module || return 1
  send_controls
  [ -z "$1" ] || printf '%s\n' "$1" >/dev/vigil
  vigil-bench drain >>/tmp/out/bench.jsonl &
  drainer=$!
  run_loops "$2"
  kill "$drainer"
  wait "$drainer" 2>/dev/null
  unload_module
}

# Warm-up, not counted: page cache, slab caches, first-time allocations (the
# first round runs up to twice as long as the next ones).
run_loops warmup
run_loaded "" warmup
log "bench rounds=$ROUNDS exec=$EXEC_N connect=$CONNECT_N open=$OPEN_N"
r=0
while [ $r -lt "$ROUNDS" ]; do
  run_loops off
  run_loaded "" on || break
  run_loaded "hook all off" probes || break
  r=$((r + 1))
done
log "bench done rounds=$r"
