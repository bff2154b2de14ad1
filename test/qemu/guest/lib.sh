# Shared guest-side helpers, sourced by the initramfs /init before a scenario.
# Scenarios write what the host should get back into /tmp/out/ (every file
# there is sent over the second serial port); guest.log and dmesg.txt always go.

export PATH=/bin
mkdir -p /tmp/out

log() { echo "$*" >>/tmp/out/guest.log; echo "guest: $*"; }
uptime_s() { cut -d' ' -f1 /proc/uptime; }

# Loads /vigil.ko with the harness's module parameters; returns insmod's status.
load_module() {
  insmod /vigil.ko $(cat /module-params)
  local rc=$?
  log "insmod rc=$rc"
  [ -e /dev/vigil ] || log "no /dev/vigil after insmod"
  return $rc
}

# Writes each line of /control.txt to /dev/vigil (one open + write per line).
send_controls() {
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    printf '%s\n' "$line" >/dev/vigil
    log "control '$line' rc=$?"
  done </control.txt
}

# Starts a reader of /dev/vigil into $1 (default /dev/null); its pid is in $reader.
start_reader() {
  cat /dev/vigil >"${1:-/dev/null}" &
  reader=$!
}

stop_reader() {
  [ -n "${reader:-}" ] || return 0
  kill "$reader"
  wait "$reader" 2>/dev/null
  reader=""
}

unload_module() {
  rmmod vigil
  log "rmmod rc=$?"
}
