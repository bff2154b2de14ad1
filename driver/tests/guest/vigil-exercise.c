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
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	    "\"ldPreload\":\"/tmp/vigil-preload.so\",\"exitCode\":%d}",
	    (int)pid, code);
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

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/tmp/watched";

	out("{\"pid\":%d,\"ppid\":%d,\"uid\":%u,\"euid\":%u,\"gid\":%u",
	    (int)getpid(), (int)getppid(), (unsigned)getuid(),
	    (unsigned)geteuid(), (unsigned)getgid());
	step_exec();
	step_exit();
	step_connect();
	step_setuid();
	step_ptrace();
	step_files(dir);
	step_dns();
	step_memfd();
	out("}\n");
	if (write(STDOUT_FILENO, json, json_len) < 0)
		return 1;
	return 0;
}
