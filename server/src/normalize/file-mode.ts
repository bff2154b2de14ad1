// File modes as ECS writes them (file.mode): the permission bits with setuid,
// setgid and sticky, as four octal digits ("4755", "0644"). The driver reports
// inode modes, file-type bits included (0100644); those are left out here, the
// file type is not a permission.

const PERMISSION_BITS = 0o7777;
const MAX_MODE = 0xffff_ffff;

/** A numeric mode as ECS file.mode; "" for 0 (the collector did not know it). */
export function octalMode(mode: number): string {
  if (!Number.isInteger(mode) || mode <= 0 || mode > MAX_MODE) return "";
  return (mode & PERMISSION_BITS).toString(8).padStart(4, "0");
}

/** A driver field's mode (a u32 in decimal, as KernelEvent fields carry it) as ECS file.mode; "" if it is not one. */
export function octalModeField(decimal: string | undefined): string {
  if (decimal === undefined || !/^\d{1,10}$/.test(decimal)) return "";
  return octalMode(Number(decimal));
}
