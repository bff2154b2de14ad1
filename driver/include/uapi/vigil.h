/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR Apache-2.0 */
/*
 * vigil.h - the record ABI of /dev/vigil (vigil.ko).
 *
 * This file is the one definition of the byte stream read from /dev/vigil.
 * Everything is little-endian and packed (no implicit padding).
 *
 * A read() returns zero or more whole records.  Each record is:
 *
 *	struct vigil_hdr	(hdr_size bytes, 96 in ABI 1)
 *	fields...		(size - hdr_size bytes)
 *
 * Header layout (ABI 1):
 *
 *	off  size  field
 *	  0     4  magic        VIGIL_MAGIC, bytes "VGL1" -> 0x314c4756
 *	  4     2  version      VIGIL_ABI_VERSION (header/encoding format)
 *	  6     2  type         enum vigil_type (events.def)
 *	  8     4  size         whole record, header included, in bytes
 *	 12     2  hdr_size     offset of the first field (>= 96)
 *	 14     2  nfields      number of fields that follow
 *	 16     8  seq          per-module record sequence number
 *	 24     8  ts_real_ns   ktime_get_real_ns() (wall clock)
 *	 32     8  ts_mono_ns   ktime_get_ns() (monotonic)
 *	 40     4  pid          thread id (task->pid), in the init pid ns
 *	 44     4  tgid         process id (task->tgid)
 *	 48     4  ppid         tgid of the real parent
 *	 52     4  uid          real uid (init user ns)
 *	 56     4  euid         effective uid
 *	 60     4  gid          real gid
 *	 64     4  sid          session id (init pid ns)
 *	 68     4  pidns_inum   inode number of the task's pid namespace
 *	 72     8  cgroup_id    cgroup v2 id of the task (0 if unknown)
 *	 80    16  comm         task->comm, NUL padded
 *	 96        first field
 *
 * The header describes the task in whose context the hook ran (for FORK the
 * parent, for EXEC the task after the exec).  DROPPED, STATS and INTEGRITY
 * records describe the module: the header's task fields then describe
 * whatever task happened to trigger them and carry no meaning.
 *
 * Fields follow in the order events.def lists them for the type.  Each field
 * is encoded by its type, without a tag:
 *
 *	U8, U16, U32, U64	unsigned, little-endian
 *	S32, S64		two's complement, little-endian
 *	STR			__u16 len + len bytes, no NUL, may be empty
 *	BLOB			__u32 len + len bytes
 *	ARGS			__u32 len + len bytes: NUL-terminated
 *				strings (argv), possibly cut at the bound
 *	ADDR			struct vigil_addr (20 bytes)
 *
 * Compatibility rules (see also events.def):
 *  - A reader skips a record by its size; it must accept records whose
 *    nfields is larger than the fields it knows (new fields are appended)
 *    and treat missing trailing fields of older modules as absent.
 *  - A reader must skip records of a type it does not know.
 *  - hdr_size may grow: new header fields are appended, the first field
 *    is always at hdr_size.
 *  - VIGIL_ABI_VERSION changes only for an incompatible change of the
 *    header or of a field encoding; readers refuse versions they do not know.
 *  - VIGIL_SCHEMA_VERSION grows when a type or a field is added.
 *
 * Schema history (the ABI stayed 1: appended fields are compatible both ways,
 * an older reader skips them by the record's size, a newer reader treats a
 * field an older module did not send as absent):
 *	1	first table
 *	2	EXEC.exe_path: the executed file's resolved path (d_path of
 *		bprm->file, what /proc/<pid>/exe shows); EXEC.filename stays
 *		the path given to execve
 */
#ifndef _UAPI_VIGIL_H
#define _UAPI_VIGIL_H

#include <linux/types.h>

#define VIGIL_MAGIC		0x314c4756U	/* "VGL1" little-endian */
#define VIGIL_ABI_VERSION	1
#define VIGIL_SCHEMA_VERSION	2
#define VIGIL_HDR_SIZE		96
#define VIGIL_COMM_LEN		16
#define VIGIL_ADDR_SIZE		20
#define VIGIL_DEVICE		"/dev/vigil"

/* Largest record; a read() buffer of this size always fits one. */
#define VIGIL_MAX_RECORD	16384
/* Bound on the argv bytes of an EXEC or USERMODE_HELPER record. */
#define VIGIL_MAX_ARGS		4096
/* Bound on paths and other strings. */
#define VIGIL_MAX_STR		1024

struct vigil_hdr {
	__u32 magic;
	__u16 version;
	__u16 type;
	__u32 size;
	__u16 hdr_size;
	__u16 nfields;
	__u64 seq;
	__u64 ts_real_ns;
	__u64 ts_mono_ns;
	__u32 pid;
	__u32 tgid;
	__u32 ppid;
	__u32 uid;
	__u32 euid;
	__u32 gid;
	__u32 sid;
	__u32 pidns_inum;
	__u64 cgroup_id;
	char comm[VIGIL_COMM_LEN];
} __attribute__((packed));

/*
 * ADDR: a socket address.  family is AF_INET (2), AF_INET6 (10) or 0 (none,
 * the other bytes are zero).  port is the port number as a plain integer
 * (little-endian like everything else).  addr holds the address in network
 * byte order: 4 bytes for AF_INET (rest zero), 16 bytes for AF_INET6.
 */
struct vigil_addr {
	__u16 family;
	__u16 port;
	__u8 addr[16];
} __attribute__((packed));

/* Field encodings (the type column of events.def). */
enum vigil_field_type {
	VIGIL_FT_U8 = 1,
	VIGIL_FT_U16 = 2,
	VIGIL_FT_U32 = 3,
	VIGIL_FT_U64 = 4,
	VIGIL_FT_S32 = 5,
	VIGIL_FT_S64 = 6,
	VIGIL_FT_STR = 7,
	VIGIL_FT_BLOB = 8,
	VIGIL_FT_ARGS = 9,
	VIGIL_FT_ADDR = 10,
};

/*
 * Record types.  The numbers are those of events.def (checked at build time);
 * they are never reused or renumbered.
 */
enum vigil_type {
	VIGIL_EXEC = 1,
	VIGIL_FORK = 2,
	VIGIL_EXIT = 3,
	VIGIL_CRED_CHANGE = 4,
	VIGIL_CONNECT = 5,
	VIGIL_ACCEPT = 6,
	VIGIL_BIND = 7,
	VIGIL_LISTEN = 8,
	VIGIL_DNS_QUERY = 9,
	VIGIL_FILE_CREATE = 10,
	VIGIL_FILE_OPEN_WRITE = 11,
	VIGIL_FILE_RENAME = 12,
	VIGIL_FILE_UNLINK = 13,
	VIGIL_FILE_CHMOD = 14,
	VIGIL_PTRACE = 15,
	VIGIL_MODULE_LOAD = 16,
	VIGIL_MEMFD_CREATE = 17,
	VIGIL_MOUNT = 18,
	VIGIL_BPF_PROG_LOAD = 19,
	VIGIL_USERMODE_HELPER = 20,
	VIGIL_DEVICE_OPENED = 21,
	VIGIL_INTEGRITY = 22,
	VIGIL_DROPPED = 23,
	VIGIL_STATS = 24,
	VIGIL_TYPE_MAX = 24,
};

/* EXEC stdin/stdout/stderr *_kind values. */
enum vigil_fd_kind {
	VIGIL_FD_NONE = 0,	/* not open */
	VIGIL_FD_FILE = 1,	/* regular file or directory */
	VIGIL_FD_PIPE = 2,	/* pipe or FIFO */
	VIGIL_FD_TTY = 3,	/* terminal (tty, pty, console) */
	VIGIL_FD_SOCKET = 4,	/* socket; *_local/_remote set for inet */
	VIGIL_FD_CHAR = 5,	/* other character device (e.g. /dev/null) */
	VIGIL_FD_OTHER = 6,	/* anything else (anon inode, block dev) */
};

/* EXEC flags. */
/* argv cut at VIGIL_MAX_ARGS; environment scan stopped early; argv
 * pages not resident (argv empty). */
#define VIGIL_EXEC_ARGV_TRUNCATED	0x1
#define VIGIL_EXEC_ENV_TRUNCATED	0x2
#define VIGIL_EXEC_ARGV_UNREADABLE	0x4

/* INTEGRITY kind values. */
enum vigil_integrity_kind {
	VIGIL_INTEG_HIDDEN_MODULE = 1,	/* kobject but not module list */
	VIGIL_INTEG_SYSCALL_HOOK = 2,	/* syscall entry outside text */
	VIGIL_INTEG_PROC_FOPS_HOOK = 3, /* /proc fops outside text */
	VIGIL_INTEG_CHECK_DONE = 4,	/* a check ran; index = findings */
};

/*
 * INTEGRITY fields by kind (driver/README.md, "Integrity checks"):
 *
 *	kind		index		address		owner		name
 *	HIDDEN_MODULE	0		module base	module name	module name
 *	SYSCALL_HOOK	syscall nr	handler		module or ""	symbol or ""
 *	PROC_FOPS_HOOK	proc item	the pointer	module or ""	symbol or ""
 *	CHECK_DONE	findings	RAN_* bits	trigger		skipped checks
 *
 * owner of a finding: the module whose memory holds the address, "" when
 * no module does (e.g. kmalloc'ed or executable-mapped memory).  symbol:
 * "sym+0xoff" as kallsyms knows it.  CHECK_DONE closes every run:
 * index = findings of the run (also those past the per-run record cap),
 * owner = what started it ("load", "timer", "command"), name = the checks
 * that could not run, "<check>:<reason>" separated by spaces ("" if none).
 */
enum vigil_integrity_proc_item {
	VIGIL_INTEG_PROC_FOPS = 0,	/* /proc root inode i_fop (rodata) */
	VIGIL_INTEG_PROC_ITERATE = 1,	/* i_fop->iterate_shared (text) */
	VIGIL_INTEG_PROC_IOPS = 2,	/* i_op (rodata) */
	VIGIL_INTEG_PROC_LOOKUP = 3,	/* i_op->lookup (text) */
};

/* CHECK_DONE address bits: the checks that ran. */
#define VIGIL_INTEG_RAN_MODULES		0x1
#define VIGIL_INTEG_RAN_SYSCALLS	0x2
#define VIGIL_INTEG_RAN_PROC		0x4

/* DEVICE_OPENED result values: 0 the open succeeded, else -errno. */

#endif /* _UAPI_VIGIL_H */
