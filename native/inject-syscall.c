/*
 * samepage-inject-prctl: make a running process call prctl(PR_SET_MEMORY_MERGE, VALUE).
 *
 *   samepage-inject-prctl PID 0|1
 *
 * prctl acts on the calling process only, so the call must be made by the target itself.
 * We borrow one of its threads (the thread-group leader, PID) for one system call:
 *
 *   1. PTRACE_SEIZE + PTRACE_INTERRUPT, then wait for the interrupt stop. A signal that
 *      arrives first is passed on unchanged (PTRACE_CONT with it) and we wait again.
 *   2. PTRACE_GETREGS: the registers are saved whole.
 *   3. Pick the address of a `syscall` instruction (0f 05) to execute, preferring ones that
 *      need no write to the target:
 *        a. RIP-2, when the thread was stopped just after a system call (the usual case for
 *           an idle process: it sits in futex, nanosleep, poll... and RIP follows the
 *           `syscall` that entered it);
 *        b. any 0f 05 in an executable mapping, the vDSO first (read via /proc/PID/mem);
 *        c. only for a single-threaded process: the 2 bytes at RIP are saved and replaced
 *           with 0f 05, and put back afterwards. In a multi-threaded process another thread
 *           running the same code could execute the patched bytes with its own registers,
 *           so we refuse instead.
 *   4. RIP = that address, RAX = 157 (SYS_prctl), RDI = 67 (PR_SET_MEMORY_MERGE),
 *      RSI = VALUE, RDX = R10 = R8 = 0, and ORIG_RAX = -1; PTRACE_SINGLESTEP, wait for the
 *      SIGTRAP after the instruction; RAX is the result (0 or -errno).
 *   5. The saved bytes (case c) and the saved registers are put back exactly, PTRACE_DETACH.
 *
 * System call restart: a thread interrupted while blocked in a system call stops with
 * ORIG_RAX = that call's number and RAX = -ERESTARTSYS / -ERESTARTNOINTR / -ERESTARTNOHAND /
 * -ERESTART_RESTARTBLOCK, RIP after its `syscall`. The kernel decides on the restart when
 * the thread leaves the ptrace stop, from the registers as they are then. So the injected
 * registers carry ORIG_RAX = -1 (no system call to restart: the kernel leaves our RIP and
 * RAX alone when the single step starts), and the saved registers, put back before the
 * detach, carry the original ORIG_RAX and -ERESTART*: on detach the kernel rewinds RIP by 2
 * and restarts the interrupted call (or restart_syscall for -ERESTART_RESTARTBLOCK, whose
 * restart block prctl does not touch), exactly as after any signal without a handler.
 *
 * Signals that arrive during the single step are held back and delivered at the detach
 * (PTRACE_DETACH with the signal, from the SIGTRAP signal-delivery-stop). A SIGSYS caused by
 * a seccomp filter that traps prctl is ours and is suppressed; a filter that returns an
 * errno shows as that errno; a filter that kills would kill the process (reported).
 *
 * Output, one line on stdout:
 *   ok RESULT METHOD ADDRESS    RESULT is prctl's return (0 or -errno), METHOD one of
 *                               rip-2, scan, patch
 *   err MESSAGE                 nothing was changed, or the process is gone; exit 1
 * Exit 2 for a usage error. x86-64 only.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#if !defined(__x86_64__)
int main(void)
{
	printf("err samepage-inject-prctl supports x86-64 only\n");
	return 1;
}
#else
#include <sys/user.h>

#define SYS_PRCTL_X86_64 157
#define PR_SET_MEMORY_MERGE_NR 67
#define USER_CS_64 0x33
#define WAIT_SECONDS 10

static pid_t target;
static int mem_fd = -1;
static volatile sig_atomic_t timed_out;

static void on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
}

/* Prints "err ..." and exits 1. Leaving while attached detaches (the kernel does it at exit). */
static void fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("err ", stdout);
	vprintf(fmt, ap);
	fputc('\n', stdout);
	va_end(ap);
	fflush(stdout);
	exit(1);
}

/* A field of /proc/PID/status as a number, or -1. */
static long status_field(const char *name)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/status", (int)target);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -1;
	long value = -1;
	size_t n = strlen(name);
	while (fgets(line, sizeof line, f) != NULL) {
		if (strncmp(line, name, n) == 0 && line[n] == ':') {
			value = strtol(line + n + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return value;
}

/* The state letter of /proc/PID/stat, or 0 if the process is gone. */
static char state_letter(void)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)target);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	char *paren = strrchr(buf, ')');
	return paren != NULL && paren[1] == ' ' ? paren[2] : 0;
}

static int thread_count(void)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/task", (int)target);
	DIR *d = opendir(path);
	if (d == NULL)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (isdigit((unsigned char)e->d_name[0]))
			n++;
	closedir(d);
	return n;
}

/* waitpid with the alarm: 0 stopped (status set), -1 the process is gone or we timed out. */
static int wait_stop(int *status, const char *what)
{
	for (;;) {
		alarm(WAIT_SECONDS);
		pid_t r = waitpid(target, status, __WALL);
		alarm(0);
		if (r == target) {
			if (WIFEXITED(*status))
				fail("process %d exited (status %d) %s", (int)target, WEXITSTATUS(*status), what);
			if (WIFSIGNALED(*status))
				fail("process %d was killed by signal %d (%s) %s", (int)target, WTERMSIG(*status),
				     strsignal(WTERMSIG(*status)), what);
			if (WIFSTOPPED(*status))
				return 0;
			continue;
		}
		if (r < 0 && errno == EINTR && timed_out)
			fail("process %d did not stop within %d s %s (uninterruptible sleep?); it was left as it was",
			     (int)target, WAIT_SECONDS, what);
		if (r < 0 && errno != EINTR)
			fail("waitpid(%d): %s", (int)target, strerror(errno));
	}
}

static int read_mem(uint64_t addr, void *buf, size_t len)
{
	return pread(mem_fd, buf, len, (off_t)addr) == (ssize_t)len ? 0 : -1;
}

static int write_mem(uint64_t addr, const void *buf, size_t len)
{
	return pwrite(mem_fd, buf, len, (off_t)addr) == (ssize_t)len ? 0 : -1;
}

/* Searches [start, end) for 0f 05; 0 if none. */
static uint64_t scan_range(uint64_t start, uint64_t end)
{
	static unsigned char buf[1 << 16];
	unsigned char prev = 0;
	for (uint64_t at = start; at < end;) {
		size_t len = end - at < sizeof buf ? (size_t)(end - at) : sizeof buf;
		ssize_t n = pread(mem_fd, buf, len, (off_t)at);
		if (n <= 0)
			return 0;
		if (prev == 0x0f && buf[0] == 0x05)
			return at - 1;
		for (ssize_t i = 0; i + 1 < n; i++)
			if (buf[i] == 0x0f && buf[i + 1] == 0x05)
				return at + (uint64_t)i;
		prev = buf[n - 1];
		at += (uint64_t)n;
	}
	return 0;
}

/* A `syscall` instruction in an executable mapping: the vDSO first, then the others. */
static uint64_t scan_for_syscall(void)
{
	char path[64], line[4096];
	snprintf(path, sizeof path, "/proc/%d/maps", (int)target);
	for (int pass = 0; pass < 2; pass++) {
		FILE *f = fopen(path, "r");
		if (f == NULL)
			return 0;
		while (fgets(line, sizeof line, f) != NULL) {
			uint64_t start, end;
			char perms[8];
			if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s", &start, &end, perms) != 3)
				continue;
			if (perms[2] != 'x' || perms[0] != 'r')
				continue;
			int is_vdso = strstr(line, "[vdso]") != NULL;
			if ((pass == 0) != is_vdso || strstr(line, "[vsyscall]") != NULL)
				continue;
			uint64_t hit = scan_range(start, end);
			if (hit != 0) {
				fclose(f);
				return hit;
			}
		}
		fclose(f);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 3 || (strcmp(argv[2], "0") != 0 && strcmp(argv[2], "1") != 0)) {
		fprintf(stderr, "usage: samepage-inject-prctl PID 0|1\n");
		return 2;
	}
	char *endp;
	long pid = strtol(argv[1], &endp, 10);
	if (*endp != 0 || pid <= 0 || pid == getpid()) {
		fprintf(stderr, "samepage-inject-prctl: bad pid %s\n", argv[1]);
		return 2;
	}
	target = (pid_t)pid;
	unsigned long value = argv[2][0] == '1';

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm; /* no SA_RESTART: waitpid returns EINTR */
	sigaction(SIGALRM, &sa, NULL);

	char state = state_letter();
	if (state == 0 || state == 'Z' || state == 'X')
		fail("process %d does not exist or has exited", (int)target);
	long tracer = status_field("TracerPid");
	if (tracer > 0)
		fail("process %d is already traced by process %ld (a debugger?); a process can have one tracer only",
		     (int)target, tracer);
	if (state == 'T' || state == 't')
		fail("process %d is stopped (state %c); continue it first", (int)target, state);

	if (ptrace(PTRACE_SEIZE, target, 0, 0) != 0) {
		int e = errno;
		if (e == EPERM)
			fail("ptrace(PTRACE_SEIZE, %d): %s (needs root or CAP_SYS_PTRACE; check "
			     "/proc/sys/kernel/yama/ptrace_scope, a kernel thread cannot be traced)",
			     (int)target, strerror(e));
		fail("ptrace(PTRACE_SEIZE, %d): %s", (int)target, strerror(e));
	}
	if (ptrace(PTRACE_INTERRUPT, target, 0, 0) != 0)
		fail("ptrace(PTRACE_INTERRUPT, %d): %s", (int)target, strerror(errno));

	int status;
	for (int tries = 0;; tries++) {
		wait_stop(&status, "before it stopped");
		int event = status >> 16;
		int sig = WSTOPSIG(status);
		if (event == PTRACE_EVENT_STOP && sig == SIGTRAP)
			break; /* our interrupt */
		if (event == PTRACE_EVENT_STOP) {
			/* A group-stop: someone is stopping the process (SIGSTOP/SIGTSTP). */
			ptrace(PTRACE_DETACH, target, 0, 0);
			fail("process %d entered a job-control stop (%s); nothing was changed", (int)target, strsignal(sig));
		}
		if (tries > 100)
			fail("process %d keeps receiving signals; nothing was changed", (int)target);
		/* A signal-delivery-stop: pass the signal on untouched and wait for our stop. */
		ptrace(PTRACE_CONT, target, 0, (void *)(long)sig);
	}

	struct user_regs_struct saved, regs;
	if (ptrace(PTRACE_GETREGS, target, 0, &saved) != 0)
		fail("ptrace(PTRACE_GETREGS, %d): %s", (int)target, strerror(errno));
	if (saved.cs != USER_CS_64) {
		ptrace(PTRACE_DETACH, target, 0, 0);
		fail("process %d is not running 64-bit code (cs=0x%llx); nothing was changed", (int)target, saved.cs);
	}

	char mem_path[64];
	snprintf(mem_path, sizeof mem_path, "/proc/%d/mem", (int)target);
	mem_fd = open(mem_path, O_RDWR);
	if (mem_fd < 0) {
		int e = errno;
		ptrace(PTRACE_DETACH, target, 0, 0);
		fail("open(%s): %s; nothing was changed", mem_path, strerror(e));
	}

	const char *method;
	uint64_t at = 0;
	unsigned char orig[2] = {0, 0}, code[2] = {0, 0};
	int patched = 0;
	if ((saved.rip & 0xfff) >= 2 && read_mem(saved.rip - 2, code, 2) == 0 && code[0] == 0x0f && code[1] == 0x05) {
		at = saved.rip - 2;
		method = "rip-2";
	} else if ((at = scan_for_syscall()) != 0) {
		method = "scan";
	} else if (thread_count() == 1) {
		static const unsigned char syscall_insn[2] = {0x0f, 0x05};
		at = saved.rip;
		if (read_mem(at, orig, 2) != 0 || write_mem(at, syscall_insn, 2) != 0) {
			int e = errno;
			ptrace(PTRACE_DETACH, target, 0, 0);
			fail("cannot patch 2 bytes at 0x%" PRIx64 ": %s; nothing was changed", at, strerror(e));
		}
		patched = 1;
		method = "patch";
	} else {
		ptrace(PTRACE_DETACH, target, 0, 0);
		fail("no syscall instruction found in process %d and it has several threads, so patching code "
		     "is unsafe; nothing was changed",
		     (int)target);
	}

	regs = saved;
	regs.rip = at;
	regs.rax = SYS_PRCTL_X86_64;
	regs.orig_rax = (unsigned long long)-1; /* nothing to restart while we borrow the thread */
	regs.rdi = PR_SET_MEMORY_MERGE_NR;
	regs.rsi = value;
	regs.rdx = 0;
	regs.r10 = 0;
	regs.r8 = 0;
	if (ptrace(PTRACE_SETREGS, target, 0, &regs) != 0) {
		int e = errno;
		if (patched)
			write_mem(at, orig, 2);
		ptrace(PTRACE_DETACH, target, 0, 0);
		fail("ptrace(PTRACE_SETREGS, %d): %s; nothing was changed", (int)target, strerror(e));
	}

	int deferred = 0; /* a signal that arrived meanwhile, delivered at the detach */
	long long result = 0;
	const char *note = "";
	for (int tries = 0;; tries++) {
		if (ptrace(PTRACE_SINGLESTEP, target, 0, 0) != 0)
			fail("ptrace(PTRACE_SINGLESTEP, %d): %s", (int)target, strerror(errno));
		wait_stop(&status, "while calling prctl (a seccomp filter that kills on prctl?)");
		int sig = WSTOPSIG(status);
		if (ptrace(PTRACE_GETREGS, target, 0, &regs) != 0)
			fail("ptrace(PTRACE_GETREGS, %d): %s", (int)target, strerror(errno));
		if (sig == SIGTRAP && regs.rip == at + 2) {
			result = (long long)regs.rax;
			break;
		}
		if (sig == SIGSYS) {
			/* seccomp SECCOMP_RET_TRAP on our call: the signal is ours, not the program's. */
			result = -EPERM;
			note = " seccomp-trap";
			break;
		}
		if (tries > 100) {
			result = -EAGAIN;
			note = " not-executed";
			break;
		}
		if (sig != SIGTRAP && deferred == 0)
			deferred = sig; /* the instruction has not run yet: hold the signal, step again */
	}

	int restore_ok = 1;
	if (patched && write_mem(at, orig, 2) != 0)
		restore_ok = 0;
	if (ptrace(PTRACE_SETREGS, target, 0, &saved) != 0)
		restore_ok = 0;
	struct user_regs_struct check;
	if (ptrace(PTRACE_GETREGS, target, 0, &check) != 0 || memcmp(&check, &saved, sizeof saved) != 0)
		restore_ok = 0;
	if (ptrace(PTRACE_DETACH, target, 0, (void *)(long)deferred) != 0 && errno != ESRCH)
		restore_ok = 0;
	if (!restore_ok)
		fail("prctl returned %lld but the registers or code of process %d could not be restored exactly",
		     result, (int)target);
	printf("ok %lld %s 0x%" PRIx64 "%s\n", result, method, at, note);
	return 0;
}
#endif
