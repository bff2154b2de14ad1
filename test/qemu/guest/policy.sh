# Agent policy scenario (test/qemu/driver-policy.test.ts): the exact write the
# agent makes for a server-pushed policy (/extra/policy-write.txt, built on the
# host by buildDriverFilterWrite) must be accepted by the driver in one write
# and take effect: new watched prefixes replace the old ones, an allow-listed
# executable's events vanish, a disabled hook goes quiet, and the STATS record
# shows the new hook mask. A write with one bad line (/extra/policy-bad.txt)
# must be refused whole.
# Out: stream.bin, pids.txt (name=pid of each action).

mkdir -p /tmp/unwatched /tmp/pol-watched /tmp/pol-refused /opt/allow
cp /bin/busybox /opt/allow/busybox
load_module
send_controls
# One write of the whole policy, as the agent makes it (dd: a single write(2)).
dd if=/extra/policy-write.txt of=/dev/vigil bs=65536 count=1 2>/tmp/err
log "policy write rc=$?"
dd if=/extra/policy-bad.txt of=/dev/vigil bs=65536 count=1 2>/tmp/err
log "bad policy write rc=$? $(head -1 /tmp/err)"

start_reader /tmp/out/stream.bin
sleep 0.2
pid() { printf '%s=%s\n' "$1" "$2" >>/tmp/out/pids.txt; }
sh -c 'echo a >/tmp/pol-watched/by-shell' & pid shell-write $!; wait $!
sh -c 'echo b >/tmp/unwatched/old-prefix' & pid old-prefix-write $!; wait $!
sh -c 'echo c >/tmp/pol-refused/refused-prefix' & pid refused-prefix-write $!; wait $!
/opt/allow/busybox sh -c 'echo d >/tmp/pol-watched/by-allowed' & pid allowed-write $!; wait $!
# The driver remembers a directory that holds no watched path; a rename or a
# mount move that brings it under a watched prefix must be seen at once.
mkdir -p /tmp/cache-dir /tmp/cache-mnt
sh -c 'echo 1 >/tmp/cache-dir/before; echo 2 >/tmp/cache-dir/before'
mv /tmp/cache-dir /tmp/pol-watched/renamed-dir
sh -c 'echo 3 >/tmp/pol-watched/renamed-dir/after-rename'
mount -t tmpfs cachefs /tmp/cache-mnt
sh -c 'echo 4 >/tmp/cache-mnt/before; echo 5 >/tmp/cache-mnt/before'
mkdir -p /tmp/pol-watched/moved-mnt
# Nothing else may open a file for writing in between (log() would).
mount --move /tmp/cache-mnt /tmp/pol-watched/moved-mnt
moved=$?
sh -c 'echo 6 >/tmp/pol-watched/moved-mnt/after-move'
log "mount --move rc=$moved"
# One loopback connection, connect and accept in the same process.
vigil-bench connect 1 >/dev/null & pid connector $!; wait $!
sleep 0.2
stop_reader
# The STATS record (a second open is refused while the reader is open).
printf 'stats\n' >/dev/vigil
start_reader /tmp/out/stats.bin
sleep 0.3
stop_reader
unload_module
