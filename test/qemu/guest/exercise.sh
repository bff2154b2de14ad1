# Default scenario: the module's functional run. Loads vigil.ko, applies the
# control commands, checks a malformed command and a second reader are refused,
# records /dev/vigil while vigil-exercise makes one real syscall per hook,
# optionally floods a stopped reader (drops) and cycles load/unload under load.
# Out: stream.bin, exercise.json.

mkdir -p /tmp/watched
if [ -f /vigil.ko ]; then
  load_module
  send_controls
  # A malformed command must be refused (EINVAL) and change nothing.
  if (printf 'bogus-command x\n' >/dev/vigil) 2>/tmp/err; then
    log "check bad-control: accepted"
  else
    log "check bad-control: rejected: $(cat /tmp/err)"
  fi
  start_reader /tmp/out/stream.bin
  sleep 0.3
  # Exactly one reader: a second open must fail with EBUSY.
  if dd if=/dev/vigil of=/dev/null count=0 2>/tmp/err; then
    log "check second-open: succeeded"
  else
    log "check second-open: refused: $(head -1 /tmp/err)"
  fi
else
  log "no module: running the guest program only"
  : >/tmp/out/stream.bin
  reader=""
fi
t0=$(uptime_s)
/bin/vigil-exercise /tmp/watched >/tmp/out/exercise.json 2>>/tmp/out/guest.log
log "vigil-exercise rc=$? start=$t0 end=$(uptime_s)"
flood=$(cat /flood)
if [ -n "$reader" ] && [ "$flood" -gt 0 ]; then
  kill -STOP "$reader"
  i=0
  while [ $i -lt "$flood" ]; do /bin/true; i=$((i + 1)); done
  log "flood execs=$flood"
  kill -CONT "$reader"
  sleep 1
  /bin/true
fi
if [ -n "$reader" ]; then
  sleep 1
  stop_reader
  log "stream bytes=$(wc -c </tmp/out/stream.bin)"
  unload_module
fi
cycles=$(cat /cycles)
if [ -f /vigil.ko ] && [ "$cycles" -gt 0 ]; then
  (while :; do /bin/true; done) &
  load=$!
  ok=0
  i=0
  while [ $i -lt "$cycles" ]; do
    if insmod /vigil.ko $(cat /module-params); then
      cat /dev/vigil >/dev/null &
      r=$!
      /bin/true
      kill "$r"
      wait "$r" 2>/dev/null
      rmmod vigil && ok=$((ok + 1))
    fi
    i=$((i + 1))
  done
  kill "$load"
  wait "$load" 2>/dev/null
  log "cycles requested=$cycles ok=$ok"
fi
