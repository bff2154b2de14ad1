#!/usr/bin/env bash
# Boots Debian's kernel in QEMU (software emulation) with an initramfs of
# busybox, the vigil module and the static guest program
# driver/tests/guest/vigil-exercise.c; loads the module, sends control
# commands, reads /dev/vigil while the guest program makes one real syscall per
# hook, and brings the raw record stream, the program's JSON report and dmesg
# back to the host over a second serial port.
#
# Usage (by hand or from jest):
#   test/qemu/run-guest.sh [-o OUTDIR] [-s SCENARIO] [-a FILE]... [-c CONTROL_LINE]...
#                          [-p MODULE_PARAMS] [-f N] [-u N] [-k] [vigil.ko]
#
#   vigil.ko   the module to load; without it the guest only runs the program
#              (useful to check the harness itself).
#   -o OUTDIR  where results go (default: a new temp dir, printed at the end):
#                stream.bin     raw bytes read from /dev/vigil
#                exercise.json  the guest program's JSON line (pids, argv, ports, ...)
#                dmesg.txt      guest kernel log after the run (and after rmmod)
#                guest.log      guest-side harness log (insmod / control results)
#                console.log    the guest's serial console (ttyS0)
#                summary.json   boot/run times, sizes, oops/BUG/WARNING found
#   -c LINE    a control command written to /dev/vigil (one open + write per
#              line) before the reader starts; repeatable. Default:
#              "watch /tmp/watched/" (override with -c even when it is not wanted).
#   -p PARAMS  module parameters for insmod (e.g. "buffer_kb=64").
#   -f N       flood: after the program, stop the reader (SIGSTOP) and run N
#              execs of /bin/true, then let it drain (pair with a small
#              -p buffer_kb=... to force drops and a DROPPED record).
#   -u N       after the main run: N insmod / read / rmmod cycles while a
#              background exec loop keeps the hooks firing (unload safety).
#   -s NAME    guest scenario: test/qemu/guest/NAME.sh, sourced by the guest's
#              /init after test/qemu/guest/lib.sh (default: exercise, the
#              functional run described above). Every file the scenario leaves
#              in the guest's /tmp/out/ is brought back into OUTDIR.
#   -a FILE    an extra file for the guest, at /extra/<name>; repeatable.
#   -b         build vigil.ko from driver/ (a copy) against the headers of the
#              kernel being booted, and load that (instead of a vigil.ko argument).
#   -k         keep the temp build dir (initramfs tree) for inspection.
#
# Environment: KERNEL (default: newest /boot/vmlinuz-* with headers), QEMU_TIMEOUT
# seconds (default 240), QEMU (default qemu-system-x86_64), QEMU_ARGS (extra
# options, e.g. "-icount shift=1,sleep=off" for the benchmark: guest time then
# counts executed instructions, whatever else runs on the host).
#
# Exit status: 0 when the guest reported back and its dmesg has no
# BUG:/Oops/WARNING:/general protection fault; 2 for missing prerequisites;
# 1 otherwise.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# Default: the newest kernel image in /boot that has headers installed too.
newest_kernel() {
	local image version best=""
	for image in /boot/vmlinuz-*; do
		version="${image#/boot/vmlinuz-}"
		[ -f "/usr/src/linux-headers-$version/Makefile" ] || continue
		best="$(printf '%s\n%s\n' "$best" "$version" | sort -V | tail -n 1)"
	done
	[ -n "$best" ] && printf '/boot/vmlinuz-%s\n' "$best"
}
KERNEL="${KERNEL:-$(newest_kernel || true)}"
QEMU="${QEMU:-qemu-system-x86_64}"
QEMU_TIMEOUT="${QEMU_TIMEOUT:-240}"

outdir=""
module_params=""
keep=0
controls=()
controls_set=0
flood=0
cycles=0
scenario=exercise
extras=()
build=0
while getopts "o:c:p:f:u:s:a:bkh" opt; do
  case "$opt" in
    o) outdir="$OPTARG" ;;
    c) controls+=("$OPTARG"); controls_set=1 ;;
    p) module_params="$OPTARG" ;;
    f) flood="$OPTARG" ;;
    u) cycles="$OPTARG" ;;
    s) scenario="$OPTARG" ;;
    a) extras+=("$OPTARG") ;;
    b) build=1 ;;
    k) keep=1 ;;
    h) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
    *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
module="${1:-}"
if [ "$controls_set" = 0 ]; then controls=("watch /tmp/watched/"); fi

missing=()
command -v "$QEMU" >/dev/null || missing+=("$QEMU (apt-get install qemu-system-x86)")
[ -r "$KERNEL" ] || missing+=("$KERNEL (apt-get install linux-image-amd64)")
[ -x /bin/busybox ] && file -L /bin/busybox 2>/dev/null | grep -q "statically linked" \
  || missing+=("static /bin/busybox (apt-get install busybox-static)")
command -v gcc >/dev/null || missing+=("gcc (apt-get install gcc libc6-dev)")
[ -e /usr/lib/x86_64-linux-gnu/libc.a ] || missing+=("static libc (apt-get install libc6-dev)")
command -v cpio >/dev/null || missing+=("cpio (apt-get install cpio)")
scenario_file="$here/guest/$scenario.sh"
[ -r "$scenario_file" ] || missing+=("scenario $scenario_file (see test/qemu/guest/)")
for extra in "${extras[@]}"; do [ -r "$extra" ] || missing+=("extra file $extra"); done
kdir="/usr/src/linux-headers-${KERNEL#/boot/vmlinuz-}"
if [ "$build" = 1 ]; then
  [ -f "$kdir/Makefile" ] || missing+=("$kdir (apt-get install linux-headers-amd64, the same version as $KERNEL)")
  command -v make >/dev/null || missing+=("make (apt-get install make)")
fi
if [ -n "$module" ] && [ ! -r "$module" ]; then missing+=("module file $module (make -C driver KDIR=...)"); fi
if [ "${#missing[@]}" -gt 0 ]; then
  echo "run-guest: missing prerequisites:" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  exit 2
fi

work="$(mktemp -d /tmp/vigil-qemu.XXXXXX)"
cleanup() { if [ "$keep" = 0 ]; then rm -rf "$work"; else echo "run-guest: kept $work" >&2; fi; }
trap cleanup EXIT
if [ -z "$outdir" ]; then outdir="$(mktemp -d /tmp/vigil-qemu-out.XXXXXX)"; fi
mkdir -p "$outdir"
outdir="$(cd "$outdir" && pwd)"
rm -f "$outdir"/{stream.bin,exercise.json,dmesg.txt,guest.log,console.log,serial1.log,summary.json}

if [ "$build" = 1 ]; then
  mkdir -p "$work/driver"
  (cd "$repo/driver" && tar --exclude=tests --exclude=tools --exclude='*.o' --exclude='*.ko' --exclude='.*.cmd' -cf - .) \
    | tar -xf - -C "$work/driver"
  if ! make -s -C "$work/driver" KDIR="$kdir" >"$work/build.log" 2>&1; then
    echo "run-guest: building vigil.ko against $kdir failed:" >&2
    cat "$work/build.log" >&2
    exit 1
  fi
  module="$work/driver/vigil.ko"
fi

# --- initramfs -------------------------------------------------------------
root="$work/root"
mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,etc,root}
cp /bin/busybox "$root/bin/busybox"
for applet in $(/bin/busybox --list); do
  [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
done
# Every guest program in driver/tests/guest/ becomes /bin/<name>.
for program in "$repo"/driver/tests/guest/*.c; do
  name="$(basename "$program" .c)"
  gcc -static -O2 -Wall -o "$root/bin/$name" "$program"
done
if [ -n "$module" ]; then cp "$module" "$root/vigil.ko"; fi
mkdir -p "$root/extra"
for extra in "${extras[@]}"; do cp "$extra" "$root/extra/"; done
printf '%s\n' "$module_params" >"$root/module-params"
printf '%s\n' "$flood" >"$root/flood"
printf '%s\n' "$cycles" >"$root/cycles"
: >"$root/control.txt"
for line in "${controls[@]}"; do printf '%s\n' "$line" >>"$root/control.txt"; done

cp "$here/guest/lib.sh" "$root/lib.sh"
cp "$scenario_file" "$root/scenario.sh"
cat >"$root/init" <<'INIT'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
ip link set lo up
. /lib.sh
log "init start uptime=$(uptime_s) kernel=$(uname -r)"
. /scenario.sh
dmesg >/tmp/out/dmesg.txt
log "done uptime=$(uptime_s)"
stty -F /dev/ttyS1 115200 raw -echo 2>/dev/null
{
  for f in /tmp/out/*; do
    name="${f##*/}"
    echo "===VIGIL-BEGIN $name==="
    gzip -c "$f" | base64
    echo "===VIGIL-END $name==="
  done
  echo "===VIGIL-DONE==="
} >/dev/ttyS1
sync
poweroff -f
INIT
chmod +x "$root/init"
(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1) >"$work/initramfs.cpio.gz"

# --- boot --------------------------------------------------------------------
serial1="$outdir/serial1.log"
start_ns=$(date +%s%N)
set +e
# shellcheck disable=SC2086 # QEMU_ARGS is a list of extra options
timeout --kill-after=10 "$QEMU_TIMEOUT" "$QEMU" \
  -accel tcg -m 512 -smp 1 -nographic -no-reboot ${QEMU_ARGS:-} \
  -kernel "$KERNEL" -initrd "$work/initramfs.cpio.gz" \
  -append "console=ttyS0 quiet panic=-1 oops=panic" \
  -serial mon:stdio -serial "file:$serial1" \
  </dev/null >"$outdir/console.log" 2>&1
qemu_rc=$?
set -e
elapsed_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))

# --- unpack ----------------------------------------------------------------
extract() {
  local name="$1"
  tr -d '\r' <"$serial1" \
    | sed -n "/^===VIGIL-BEGIN $name===\$/,/^===VIGIL-END $name===\$/p" \
    | sed '1d;$d' | base64 -d 2>/dev/null | gunzip -c 2>/dev/null >"$outdir/$name" || true
}
complete=false
if [ -f "$serial1" ] && tr -d '\r' <"$serial1" | grep -q '^===VIGIL-DONE===$'; then
  complete=true
  for f in $(tr -d '\r' <"$serial1" | sed -n 's/^===VIGIL-BEGIN \([A-Za-z0-9._-]*\)===$/\1/p'); do
    extract "$f"
  done
fi
problems=""
for f in "$outdir/dmesg.txt" "$outdir/console.log"; do
  [ -f "$f" ] || continue
  hits=$(grep -E 'BUG:|Oops|WARNING:|general protection fault|Kernel panic|Call Trace' "$f" | head -20 || true)
  [ -z "$hits" ] || problems+="$hits"$'\n'
done
stream_bytes=$( [ -f "$outdir/stream.bin" ] && wc -c <"$outdir/stream.bin" || echo 0)
guest_done=$(grep -o 'done uptime=[0-9.]*' "$outdir/guest.log" 2>/dev/null | cut -d= -f2 || true)

python3 - "$outdir/summary.json" <<PY
import json, sys
json.dump({
  "qemuExit": $qemu_rc,
  "complete": $( [ "$complete" = true ] && echo True || echo False ),
  "wallMs": $elapsed_ms,
  "guestUptimeAtDoneS": float("${guest_done:-0}" or 0),
  "streamBytes": $stream_bytes,
  "module": "${module}",
  "kernel": "${KERNEL}",
  "kernelProblems": [l for l in """${problems//\"/\'}""".splitlines() if l.strip()],
}, open(sys.argv[1], "w"), indent=2)
PY

echo "run-guest: out=$outdir wall=${elapsed_ms}ms qemu_rc=$qemu_rc complete=$complete stream=${stream_bytes}B"
if [ "$complete" != true ]; then
  echo "run-guest: the guest did not report back; last console lines:" >&2
  tail -30 "$outdir/console.log" >&2 || true
  exit 1
fi
if [ -n "$problems" ]; then
  echo "run-guest: kernel problems in dmesg:" >&2
  printf '%s' "$problems" >&2
  exit 1
fi
exit 0
