/*
 * samepage-watchdog: put the machine back when a samepage process dies without doing so.
 *
 *   samepage-watchdog OWNER_PID OWNER_START_TIME JOURNAL PROGRAM [ARGS...]
 *
 * Started by a samepage process (the owner) before its first change to the live machine,
 * in a session of its own, so that a SIGKILL, the OOM killer or a crash of the owner leaves
 * it running. It waits for one of two things:
 *   - JOURNAL is deleted (the owner undid its changes and closed its journal): exit 0;
 *   - the owner exits while JOURNAL is still there: exec PROGRAM ARGS, which is
 *     `samepage kernel recover --journal JOURNAL` and restores what the journal lists.
 *
 * How: pidfd_open(OWNER_PID) and poll(2) on it (readable once the owner has exited), beside
 * an inotify watch of JOURNAL's directory for its deletion. The pidfd is opened first and
 * the owner's start time (field 22 of /proc/PID/stat) checked after: if the owner died and
 * its pid went to another process before we got here, the start time differs and we recover
 * at once, rather than wait for a stranger. Where pidfd_open is missing (Linux before 5.3)
 * the start time is polled every 100 ms instead.
 *
 * Output: nothing of its own on success; the recovery's messages are PROGRAM's (stderr is
 * inherited from the owner). Exit 0 when the journal was closed, 2 for a usage error, 1 when
 * PROGRAM cannot be started.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

static pid_t owner;
static const char *owner_start;

/* The start time (field 22) of /proc/PID/stat as text; 0 when the process is gone. */
static int start_time(char *out, size_t size)
{
	char path[64], buf[2048];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)owner);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	if (p == NULL)
		return 0;
	/* After ") " comes field 3 (state); field 22 is 19 fields further on. */
	p += 2;
	char state = *p;
	if (state == 'Z' || state == 'X')
		return 0;
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (p == NULL)
			return 0;
		p++;
	}
	size_t len = strcspn(p, " ");
	if (len + 1 > size)
		return 0;
	memcpy(out, p, len);
	out[len] = 0;
	return 1;
}

/* Whether the owner named on the command line is still this pid's process. */
static int owner_alive(void)
{
	char now[32];
	return start_time(now, sizeof now) && strcmp(now, owner_start) == 0;
}

static void recover(char **program)
{
	execv(program[0], program);
	fprintf(stderr, "samepage-watchdog: cannot run %s: %s; run `samepage kernel recover` by hand\n", program[0],
		strerror(errno));
	exit(1);
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: samepage-watchdog OWNER_PID OWNER_START_TIME JOURNAL PROGRAM [ARGS...]\n");
		return 2;
	}
	char *end;
	long pid = strtol(argv[1], &end, 10);
	if (*end != 0 || pid <= 0 || argv[2][0] == 0 || strspn(argv[2], "0123456789") != strlen(argv[2])) {
		fprintf(stderr, "samepage-watchdog: bad owner %s %s\n", argv[1], argv[2]);
		return 2;
	}
	owner = (pid_t)pid;
	owner_start = argv[2];
	const char *journal = argv[3];
	char **program = &argv[4];

	/* Terminal signals are not ours: the owner's session may hang up while we wait. */
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);

	int pidfd = (int)syscall(SYS_pidfd_open, owner, 0);
	if (pidfd < 0 && errno != ENOSYS)
		recover(program); /* ESRCH: the owner is gone already */
	if (!owner_alive())
		recover(program);

	char dir[PATH_MAX];
	const char *slash = strrchr(journal, '/');
	if (slash == NULL || (size_t)(slash - journal) >= sizeof dir) {
		fprintf(stderr, "samepage-watchdog: the journal must be an absolute path: %s\n", journal);
		return 2;
	}
	memcpy(dir, journal, (size_t)(slash - journal));
	dir[slash - journal] = 0;
	if (dir[0] == 0)
		strcpy(dir, "/");
	const char *name = slash + 1;

	int ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (ino >= 0 && inotify_add_watch(ino, dir, IN_DELETE | IN_MOVED_FROM) < 0) {
		close(ino);
		ino = -1;
	}
	/* Checked after the watch is set, so a deletion in between is not missed. */
	if (access(journal, F_OK) != 0)
		return 0;

	for (;;) {
		struct pollfd fds[2];
		int n = 0;
		if (pidfd >= 0)
			fds[n++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
		if (ino >= 0)
			fds[n++] = (struct pollfd){.fd = ino, .events = POLLIN};
		/* Without a pidfd or inotify, poll the owner and the journal every 100 ms. */
		int timeout = pidfd >= 0 && ino >= 0 ? -1 : 100;
		int r = poll(fds, (nfds_t)n, timeout);
		if (r < 0 && errno != EINTR) {
			fprintf(stderr, "samepage-watchdog: poll: %s\n", strerror(errno));
			return 1;
		}
		if (ino >= 0) {
			char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
			ssize_t len;
			while ((len = read(ino, buf, sizeof buf)) > 0) {
				for (char *p = buf; p < buf + len;) {
					struct inotify_event *ev = (struct inotify_event *)p;
					if (ev->len > 0 && strcmp(ev->name, name) == 0 && access(journal, F_OK) != 0)
						return 0;
					p += sizeof *ev + ev->len;
				}
			}
		}
		if (access(journal, F_OK) != 0)
			return 0;
		if (!owner_alive())
			recover(program);
	}
}
