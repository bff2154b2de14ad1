# Integrity scenario: vigil.ko's integrity checks before and after
# /extra/rootkit_sim.ko (driver/tests/rootkit-sim, passed with -a) hides
# itself from the module list, patches sys_call_table and replaces the /proc
# root's file operations.
#   1. vigil.ko with its defaults (a check at load, the timer far away):
#      "check" -> clean; rootkit_sim loaded; "check" -> findings.
#   2. vigil.ko again with the harness's module parameters (-p, e.g.
#      integrity_interval_s=2): the timer's checks see the same findings.
# "check" is written on the reader's own descriptor (/dev/vigil has one
# opener at a time). Out: stream.bin (1), stream-timer.bin (2), kallsyms.txt.

# Reads /dev/vigil into $1 through fd 3, which the shell keeps for writing.
open_vigil() {
  exec 3<>/dev/vigil
  log "open rc=$?"
  cat <&3 >"$1" &
  reader=$!
}

close_vigil() {
  sleep 1
  kill "$reader"
  wait "$reader" 2>/dev/null
  reader=""
  exec 3>&-
}

command_vigil() {
  printf '%s\n' "$1" >&3
  log "control '$1' rc=$?"
}

grep -wE '_stext|_etext|__start_rodata|__end_rodata|sys_call_table' /proc/kallsyms >/tmp/out/kallsyms.txt
log "kallsyms lines=$(wc -l </tmp/out/kallsyms.txt)"

insmod /vigil.ko
log "insmod defaults rc=$?"
open_vigil /tmp/out/stream.bin
sleep 1
command_vigil check
sleep 1
insmod /extra/rootkit_sim.ko
log "insmod rootkit_sim rc=$?"
if grep -q '^rootkit_sim ' /proc/modules; then log "rootkit_sim listed"; else log "rootkit_sim not listed"; fi
[ -d /sys/module/rootkit_sim ] && log "rootkit_sim in /sys/module"
log "proc entries=$(ls /proc | wc -l)"
command_vigil check
# A malformed check command is refused and changes nothing.
if (printf 'check now\n' >&3) 2>/tmp/err; then log "check bad-check: accepted"; else log "check bad-check: rejected"; fi
close_vigil
log "stream bytes=$(wc -c </tmp/out/stream.bin)"
unload_module

load_module
open_vigil /tmp/out/stream-timer.bin
sleep 5
close_vigil
log "stream-timer bytes=$(wc -c </tmp/out/stream-timer.bin)"
unload_module
dmesg | grep -E 'vigil|rootkit_sim' | tail -20 >>/tmp/out/guest.log
