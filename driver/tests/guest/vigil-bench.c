// SPDX-License-Identifier: GPL-2.0
/*
 * Guest-side load generator for the driver overhead benchmark
 * (bench/driver-overhead.mts, scenario test/qemu/guest/bench.sh).
 *
 *   vigil-bench exec N [LABEL]     N x fork + execve("/bin/true") + wait
 *   vigil-bench connect N [LABEL]  N x TCP connect to a loopback listener +
 *                                  accept + close (both ends in this process)
 *   vigil-bench open N DIR [LABEL] N x open(O_WRONLY|O_CREAT|O_TRUNC) + close
 *                                  of DIR/bench-file (a watched prefix)
 *   vigil-bench open-unwatched N DIR [LABEL]
 *                                  the same, reported under its own name (for
 *                                  a DIR outside the watched prefixes)
 *   vigil-bench drain              reads /dev/vigil the way the agent does:
 *                                  non-blocking reads until EAGAIN, then a
 *                                  10 ms sleep; on SIGTERM prints
 *                                  {"op":"drain","bytes":..} and exits
 *
 * Each load mode prints one JSON line: {"op":..,"label":..,"n":..,"ns":..}
 * with the wall time of the whole loop (CLOCK_MONOTONIC).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "vigil-bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void exec_loop(long n)
{
	char *const argv[] = { "true", NULL };
	char *const envp[] = { "PATH=/bin", NULL };

	for (long i = 0; i < n; i++) {
		int status;
		pid_t pid = fork();

		if (pid < 0)
			die("fork");
		if (pid == 0) {
			execve("/bin/true", argv, envp);
			_exit(127);
		}
		if (waitpid(pid, &status, 0) < 0)
			die("waitpid");
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "vigil-bench: /bin/true failed (status %d)\n", status);
			exit(1);
		}
	}
}

static void connect_loop(long n)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t len = sizeof(addr);
	int listener = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;

	if (listener < 0)
		die("socket");
	setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(listener, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		die("bind");
	if (listen(listener, 64) < 0)
		die("listen");
	if (getsockname(listener, (struct sockaddr *)&addr, &len) < 0)
		die("getsockname");
	for (long i = 0; i < n; i++) {
		int client = socket(AF_INET, SOCK_STREAM, 0);
		int server;

		if (client < 0)
			die("socket");
		if (connect(client, (struct sockaddr *)&addr, sizeof(addr)) < 0)
			die("connect");
		server = accept(listener, NULL, NULL);
		if (server < 0)
			die("accept");
		close(server);
		close(client);
	}
	close(listener);
}

static void open_loop(long n, const char *dir)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/bench-file", dir);
	for (long i = 0; i < n; i++) {
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (fd < 0)
			die("open");
		close(fd);
	}
	unlink(path);
}

static volatile sig_atomic_t stop_draining;

static void on_term(int sig)
{
	(void)sig;
	stop_draining = 1;
}

static void drain(void)
{
	static char buf[1 << 16];
	const struct timespec pause = { .tv_nsec = 10 * 1000 * 1000 };
	struct sigaction sa = { .sa_handler = on_term };
	unsigned long long bytes = 0;
	int fd = open("/dev/vigil", O_RDONLY | O_NONBLOCK);

	if (fd < 0)
		die("open /dev/vigil");
	sigaction(SIGTERM, &sa, NULL);
	while (!stop_draining) {
		ssize_t got = read(fd, buf, sizeof(buf));

		if (got > 0) {
			bytes += (unsigned long long)got;
			continue;
		}
		if (got < 0 && errno != EAGAIN && errno != EINTR)
			die("read /dev/vigil");
		nanosleep(&pause, NULL);
	}
	printf("{\"op\":\"drain\",\"bytes\":%llu}\n", bytes);
}

static void usage(void)
{
	fprintf(stderr, "usage: vigil-bench exec|connect N [LABEL] | open|open-unwatched N DIR [LABEL] | drain\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *op, *label;
	uint64_t start;
	long n;

	if (argc < 2)
		usage();
	op = argv[1];
	if (!strcmp(op, "drain")) {
		drain();
		return 0;
	}
	if (argc < 3)
		usage();
	n = strtol(argv[2], NULL, 10);
	if (n <= 0)
		usage();
	start = now_ns();
	if (!strcmp(op, "exec")) {
		label = argc > 3 ? argv[3] : "";
		exec_loop(n);
	} else if (!strcmp(op, "connect")) {
		label = argc > 3 ? argv[3] : "";
		connect_loop(n);
	} else if (!strcmp(op, "open") || !strcmp(op, "open-unwatched")) {
		if (argc < 4)
			usage();
		label = argc > 4 ? argv[4] : "";
		open_loop(n, argv[3]);
	} else {
		usage();
	}
	printf("{\"op\":\"%s\",\"label\":\"%s\",\"n\":%ld,\"ns\":%llu}\n", op, label, n,
	       (unsigned long long)(now_ns() - start));
	return 0;
}
