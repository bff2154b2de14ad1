import { readFileSync } from "node:fs";

/** USER_HZ: the unit of /proc/<pid>/stat times; fixed at 100 in the Linux user ABI. */
export const CLOCK_TICKS_PER_SECOND = 100;

/** Wall-clock boot time in µs, from /proc/uptime (CLOCK_BOOTTIME, the clock of stat starttime). */
export function readBootTimeUs(procRoot = "/proc"): number {
  const uptimeSeconds = Number(readFileSync(`${procRoot}/uptime`, "utf8").split(" ")[0]);
  return Math.round(Date.now() * 1000 - uptimeSeconds * 1e6);
}

export function startTimeUs(bootTimeUs: number, startTicks: number): number {
  return bootTimeUs + Math.round((startTicks * 1e6) / CLOCK_TICKS_PER_SECOND);
}
