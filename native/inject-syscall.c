/*
 * samepage-inject-syscall: make a running process execute a few system calls of KSM's.
 *
 *   samepage-inject-syscall [OPTION...] PID CALL [CALL...]
 *     CALL = prctl OPTION ARG          OPTION 67 PR_SET_MEMORY_MERGE (ARG 0 or 1)
 *                                      or 68 PR_GET_MEMORY_MERGE (ARG 0)
 *          | madvise ADDR LEN ADVICE   ADDR page-aligned, LEN > 0 (decimal or 0x hex),
 *                                      ADVICE 12 MADV_MERGEABLE or 13 MADV_UNMERGEABLE
 *
 * prctl and madvise act on the calling process only, so the calls must be made by the
 * target itself. We borrow one of its threads (the thread-group leader, PID) for them:
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
 *   4. For each CALL in order: RIP = that address, RAX = the call's number (157 prctl, 28
 *      madvise), RDI/RSI/RDX/R10/R8 its arguments (unused ones 0), ORIG_RAX = -1;
 *      PTRACE_SINGLESTEP, wait for the SIGTRAP after the instruction; RAX is the result
 *      (0 or -errno; PR_GET_MEMORY_MERGE returns the flag).
 *   5. The saved bytes (case c) and the saved registers are put back exactly, PTRACE_DETACH.
 *
 * Options (the KSM+ daemon, `samepage plus`, uses all three; `kernel enable` none):
 *   --start START     touch the process only if field 22 of /proc/PID/stat (its start time)
 *                     is START, checked before the attach and again once it is stopped, so a
 *                     reused pid is never touched
 *   --comm HEX        likewise, only if its comm is the bytes HEX (a program selected by name
 *                     that exec'd another one is left alone)
 *   --allowed-only    refuse unless the target's seccomp filters ALLOW (or LOG) every call;
 *                     without it only filters that would kill the target, wait for a
 *                     supervisor, or that this helper cannot run, are refused
 * A target traced by another of these helpers is waited for (up to 10 s): samepage's
 * injections into one process run one after the other (the KSM+ daemon killed during one,
 * and its watchdog giving the marks back). Any other tracer is refused.
 * Before any call the target's seccomp filters (PTRACE_SECCOMP_GET_FILTER) are run here, in a
 * classic BPF interpreter, on each call's exact seccomp_data; seccomp strict mode is refused.
 *
 * Only these calls are accepted, by design: they change nothing but the KSM state of the
 * target's memory. Other advice (MADV_DONTNEED, MADV_FREE, MADV_REMOVE...) would discard
 * the target's data, and other prctl options change its identity or security; the helper
 * refuses them with a usage error (exit 2) before touching the process.
 *
 * System call restart: a thread interrupted while blocked in a system call stops with
 * ORIG_RAX = that call's number and RAX = -ERESTARTSYS / -ERESTARTNOINTR / -ERESTARTNOHAND /
 * -ERESTART_RESTARTBLOCK, RIP after its `syscall`. The kernel decides on the restart when
 * the thread leaves the ptrace stop, from the registers as they are then. So the injected
 * registers carry ORIG_RAX = -1 (no system call to restart: the kernel leaves our RIP and
 * RAX alone when the single step starts), and the saved registers, put back before the
 * detach, carry the original ORIG_RAX and -ERESTART*: on detach the kernel rewinds RIP by 2
 * and restarts the interrupted call (or restart_syscall for -ERESTART_RESTARTBLOCK, whose
 * restart block neither prctl nor madvise touches), exactly as after any signal without a
 * handler. An injected MADV_UNMERGEABLE that a signal interrupts (it returns -ERESTARTSYS
 * while unmerging) stops for that signal with RIP rewound to our `syscall`; stepping again
 * runs it again, as the kernel's own restart would.
 *
 * Signals that arrive during the single steps are held back and delivered at the detach
 * (PTRACE_DETACH with the signal, from the SIGTRAP signal-delivery-stop). A SIGSYS caused by
 * a seccomp filter that traps the call is ours and is suppressed (the call reports -EPERM
 * with the note seccomp-trap); a filter that returns an errno shows as that errno; a filter
 * that kills would kill the process (reported).
 *
 * How long: the helper raises its own priority to nice -10 (when it may: root) before it
 * attaches, so that on a busy machine the target is not held while the helper waits for a
 * CPU between its ptrace steps. The thread is stopped for the calls; a prctl or a MADV_MERGEABLE takes
 * microseconds, a MADV_UNMERGEABLE of merged pages copies each of them back (break_ksm).
 * If this helper itself is killed between steps 4 and 5, the kernel detaches the thread
 * with the injected registers and it would resume wrongly: the window is the calls'
 * duration, so keep the calls few and small.
 *
 * Output on stdout, one line per CALL that ran, in order:
 *   ok RESULT METHOD ADDRESS [NOTE]   RESULT the call's return (a value or -errno), METHOD one
 *                                     of rip-2, scan, patch; NOTE seccomp-trap or not-executed
 *   pause NS                          after the ok lines: nanoseconds from PTRACE_INTERRUPT to
 *                                     the return of PTRACE_DETACH (CLOCK_MONOTONIC), which bound
 *                                     how long the target's thread was held
 *   err MESSAGE                       the calls not yet reported did not run (the process was
 *                                     left as it was, or is gone); exit 1
 *   err final MESSAGE                 as err, and trying again cannot help: the pid is another
 *                                     process or program now, or seccomp forbids the calls
 * Exit 0 when every call ran (whatever it returned), 2 for a usage error. x86-64 only.
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
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if !defined(__x86_64__)
int main(void)
{
	printf("err samepage-inject-syscall supports x86-64 only\n");
	return 1;
}
#else
#include <linux/filter.h>
#include <sys/user.h>

#define SYS_PRCTL_X86_64 157
#define SYS_MADVISE_X86_64 28
#define PR_SET_MEMORY_MERGE_NR 67
#define PR_GET_MEMORY_MERGE_NR 68
#define MADV_MERGEABLE_NR 12
#define MADV_UNMERGEABLE_NR 13
#define PAGE_BYTES 4096ULL
#define MAX_CALLS 4096
#define USER_CS_64 0x33
#define WAIT_SECONDS 10
#define AUDIT_ARCH_X86_64_NR 0xc000003eU
#ifndef PTRACE_SECCOMP_GET_FILTER
#define PTRACE_SECCOMP_GET_FILTER 0x420c
#endif
#define RET_ACTION_FULL 0xffff0000U
#define RET_KILL_PROCESS 0x80000000U
#define RET_KILL_THREAD 0x00000000U
#define RET_USER_NOTIF 0x7fc00000U
#define RET_ALLOW 0x7fff0000U
#define RET_LOG 0x7ffc0000U
#define MAX_FILTERS 64
#define MAX_INSNS 4096

static pid_t target;
static int mem_fd = -1;
static volatile sig_atomic_t timed_out;
static const char *want_start; /* --start */
static char want_comm[17];     /* --comm, decoded */
static int has_comm, allowed_only;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

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

/* As fail, for a refusal that trying again cannot change: "err final ...". */
static void fail_final(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("err final ", stdout);
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

/* Start time (field 22), comm and state letter of /proc/PID/stat; 0 when read, -1 gone. */
static int stat_identity(pid_t pid, char *start, size_t start_len, char *comm, size_t comm_len, char *state)
{
	char path[64], buf[2048];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	char *open_paren = strchr(buf, '(');
	char *close_paren = strrchr(buf, ')');
	if (open_paren == NULL || close_paren == NULL || close_paren < open_paren || close_paren[1] != ' ')
		return -1;
	size_t cl = (size_t)(close_paren - open_paren - 1);
	if (cl >= comm_len)
		cl = comm_len - 1;
	memcpy(comm, open_paren + 1, cl);
	comm[cl] = 0;
	*state = close_paren[2];
	/* Fields after the comm: state is field 3; the start time is field 22. */
	char *p = close_paren + 2;
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (p == NULL)
			return -1;
		p++;
	}
	size_t sl = strcspn(p, " ");
	if (sl >= start_len)
		return -1;
	memcpy(start, p, sl);
	start[sl] = 0;
	return 0;
}

/* Refuses (final) unless the target is the process --start/--comm name; detaches first when attached. */
/* The target's state letter (/proc/PID/stat), or 0 if the process is gone. */
static char state_letter(void)
{
	char start[32], comm[64], state;
	return stat_identity(target, start, sizeof start, comm, sizeof comm, &state) == 0 ? state : 0;
}

static void check_identity(int attached)
{
	if (want_start == NULL && !has_comm)
		return;
	char start[32], comm[64], state;
	const char *why = NULL;
	char text[200];
	if (stat_identity(target, start, sizeof start, comm, sizeof comm, &state) != 0) {
		why = "has exited";
	} else if (want_start != NULL && strcmp(start, want_start) != 0) {
		snprintf(text, sizeof text, "is another process now (started at %s, not %s)", start, want_start);
		why = text;
	} else if (has_comm && strcmp(comm, want_comm) != 0) {
		snprintf(text, sizeof text, "runs \"%s\" now, not \"%s\"", comm, want_comm);
		why = text;
	}
	if (why == NULL)
		return;
	if (attached)
		ptrace(PTRACE_DETACH, target, 0, 0);
	fail_final("process %d %s; nothing was changed", (int)target, why);
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

/*
 * The target's tracer, after waiting up to WAIT_SECONDS for one that is another of these
 * helpers (comm "samepage-inject", as the kernel truncates ours) to finish: samepage's
 * injections into one process then run one after the other, as when the KSM+ daemon was
 * killed during one and its watchdog gives the marks back. A debugger is not waited for.
 */
static long wait_for_other_injector(void)
{
	for (int waited_ms = 0;; waited_ms += 5) {
		long tracer = status_field("TracerPid");
		if (tracer <= 0 || waited_ms >= WAIT_SECONDS * 1000)
			return tracer;
		char start[32], comm[64], state;
		if (stat_identity((pid_t)tracer, start, sizeof start, comm, sizeof comm, &state) != 0)
			continue; /* it has just exited */
		if (strcmp(comm, "samepage-inject") != 0)
			return tracer;
		struct timespec ts = {0, 5000000};
		nanosleep(&ts, NULL);
	}
}

/*
 * Test only (test/plus-live.test.ts): with SAMEPAGE_TEST_INJECT_HOLD=FILE in the environment,
 * the first helper to create FILE holds its stopped target here, before the first call,
 * until something is written to FILE (at most 60 s), so a test can kill the daemon during an
 * injection. FILE stays, so the helpers after it do not hold.
 */
static void test_hold(void)
{
	const char *file = getenv("SAMEPAGE_TEST_INJECT_HOLD");
	if (file == NULL || file[0] == 0)
		return;
	int fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	close(fd);
	for (int i = 0; i < 6000; i++) {
		struct stat st;
		if (stat(file, &st) != 0 || st.st_size > 0)
			return;
		struct timespec ts = {0, 10000000};
		nanosleep(&ts, NULL);
	}
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

/* One system call to make: its number and up to three arguments. */
struct call {
	unsigned long long nr, a1, a2, a3;
};

static struct call calls[MAX_CALLS];

/* --- Classic BPF, as seccomp runs it (kernel/seccomp.c, net/core/filter.c) --- */

/* The seccomp_data of a call made from `ip`, as 16 32-bit words. */
static void seccomp_data_words(uint32_t *w, uint64_t ip, const struct call *c)
{
	memset(w, 0, 16 * sizeof *w);
	w[0] = (uint32_t)c->nr;
	w[1] = AUDIT_ARCH_X86_64_NR;
	w[2] = (uint32_t)ip;
	w[3] = (uint32_t)(ip >> 32);
	unsigned long long args[3] = {c->a1, c->a2, c->a3};
	for (int i = 0; i < 3; i++) {
		w[4 + 2 * i] = (uint32_t)args[i];
		w[5 + 2 * i] = (uint32_t)(args[i] >> 32);
	}
}

/* Runs one filter on the data; returns its return value, or sets *bad when it cannot be run. */
static uint32_t run_bpf(const struct sock_filter *prog, int len, const uint32_t *data, int *bad)
{
	uint32_t A = 0, X = 0, M[BPF_MEMWORDS];
	memset(M, 0, sizeof M);
	for (int pc = 0; pc >= 0 && pc < len; pc++) {
		const struct sock_filter *f = &prog[pc];
		uint32_t k = f->k;
		switch (f->code) {
		case BPF_LD | BPF_W | BPF_ABS:
			if (k % 4 != 0 || k >= 64) {
				*bad = 1;
				return 0;
			}
			A = data[k / 4];
			break;
		case BPF_LD | BPF_W | BPF_LEN:
			A = 64;
			break;
		case BPF_LDX | BPF_W | BPF_LEN:
			X = 64;
			break;
		case BPF_LD | BPF_IMM:
			A = k;
			break;
		case BPF_LDX | BPF_IMM:
			X = k;
			break;
		case BPF_LD | BPF_MEM:
			A = M[k % BPF_MEMWORDS];
			break;
		case BPF_LDX | BPF_MEM:
			X = M[k % BPF_MEMWORDS];
			break;
		case BPF_ST:
			M[k % BPF_MEMWORDS] = A;
			break;
		case BPF_STX:
			M[k % BPF_MEMWORDS] = X;
			break;
		case BPF_MISC | BPF_TAX:
			X = A;
			break;
		case BPF_MISC | BPF_TXA:
			A = X;
			break;
		case BPF_RET | BPF_K:
			return k;
		case BPF_RET | BPF_A:
			return A;
		case BPF_JMP | BPF_JA:
			pc += (int)k;
			break;
		default:
			if (BPF_CLASS(f->code) == BPF_JMP) {
				uint32_t v = BPF_SRC(f->code) == BPF_X ? X : k;
				int taken;
				switch (BPF_OP(f->code)) {
				case BPF_JEQ:
					taken = A == v;
					break;
				case BPF_JGT:
					taken = A > v;
					break;
				case BPF_JGE:
					taken = A >= v;
					break;
				case BPF_JSET:
					taken = (A & v) != 0;
					break;
				default:
					*bad = 1;
					return 0;
				}
				pc += taken ? f->jt : f->jf;
			} else if (BPF_CLASS(f->code) == BPF_ALU) {
				uint32_t v = BPF_SRC(f->code) == BPF_X ? X : k;
				switch (BPF_OP(f->code)) {
				case BPF_ADD:
					A += v;
					break;
				case BPF_SUB:
					A -= v;
					break;
				case BPF_MUL:
					A *= v;
					break;
				case BPF_DIV:
					if (v == 0)
						return 0; /* the kernel's interpreter ends with 0 (KILL) */
					A /= v;
					break;
				case BPF_MOD:
					if (v == 0)
						return 0;
					A %= v;
					break;
				case BPF_OR:
					A |= v;
					break;
				case BPF_AND:
					A &= v;
					break;
				case BPF_XOR:
					A ^= v;
					break;
				case BPF_LSH:
					A = v >= 32 ? 0 : A << v;
					break;
				case BPF_RSH:
					A = v >= 32 ? 0 : A >> v;
					break;
				case BPF_NEG:
					A = (uint32_t)(-(int32_t)A);
					break;
				default:
					*bad = 1;
					return 0;
				}
			} else {
				*bad = 1;
				return 0;
			}
		}
	}
	*bad = 1;
	return 0;
}

static const char *action_name(uint32_t action)
{
	switch (action & RET_ACTION_FULL) {
	case 0x80000000U:
		return "kill the process";
	case 0x00000000U:
		return "kill the thread";
	case 0x00030000U:
		return "trap (SIGSYS)";
	case 0x00050000U:
		return "fail with an errno";
	case 0x7fc00000U:
		return "notify a supervisor";
	case 0x7ff00000U:
		return "stop for a tracer";
	default:
		return "not allow";
	}
}

/*
 * Whether the target's seccomp filters let the calls be made from `ip`: 1 yes, else the
 * reason in `why` (its first 200 bytes) and 0. Refused: an action that would kill the target
 * or wait for a supervisor, a filter that cannot be read or run, and with --allowed-only
 * anything but ALLOW and LOG.
 */
static int seccomp_allows(uint64_t ip, int ncalls, char *why, size_t why_len)
{
	static struct sock_filter prog[MAX_FILTERS][MAX_INSNS];
	static int lens[MAX_FILTERS];
	int nf = 0;
	for (; nf < MAX_FILTERS; nf++) {
		long n = ptrace(PTRACE_SECCOMP_GET_FILTER, target, (void *)(long)nf, NULL);
		if (n < 0 && errno == ENOENT)
			break;
		if (n < 0 || n > MAX_INSNS) {
			snprintf(why, why_len, "has a seccomp filter that cannot be read (%s)",
				 n < 0 ? strerror(errno) : "too long");
			return 0;
		}
		if (ptrace(PTRACE_SECCOMP_GET_FILTER, target, (void *)(long)nf, prog[nf]) != n) {
			snprintf(why, why_len, "has a seccomp filter that cannot be read (%s)", strerror(errno));
			return 0;
		}
		lens[nf] = (int)n;
	}
	if (nf == MAX_FILTERS) {
		snprintf(why, why_len, "has more than %d seccomp filters", MAX_FILTERS);
		return 0;
	}
	uint32_t data[16];
	for (int c = 0; c < ncalls; c++) {
		seccomp_data_words(data, ip, &calls[c]);
		uint32_t ret = RET_ALLOW;
		for (int f = 0; f < nf; f++) {
			int bad = 0;
			uint32_t r = run_bpf(prog[f], lens[f], data, &bad);
			if (bad) {
				snprintf(why, why_len, "has a seccomp filter this helper cannot run");
				return 0;
			}
			/* The most restrictive action wins (kernel/seccomp.c seccomp_run_filters). */
			if ((int32_t)(r & RET_ACTION_FULL) < (int32_t)(ret & RET_ACTION_FULL))
				ret = r;
		}
		uint32_t action = ret & RET_ACTION_FULL;
		int refuse = action == RET_KILL_PROCESS || action == RET_KILL_THREAD || action == RET_USER_NOTIF ||
			     (allowed_only && action != RET_ALLOW && action != RET_LOG);
		if (refuse) {
			snprintf(why, why_len, "has a seccomp filter that would %s on its call %d (%s); not attempted",
				 action_name(ret), c + 1, calls[c].nr == SYS_MADVISE_X86_64 ? "madvise" : "prctl");
			return 0;
		}
	}
	return 1;
}

static void usage(const char *why)
{
	fprintf(stderr,
		"samepage-inject-syscall: %s\n"
		"usage: samepage-inject-syscall [--start START] [--comm HEX] [--allowed-only] PID CALL [CALL...]\n"
		"  CALL: prctl 67 0|1 (PR_SET_MEMORY_MERGE) | prctl 68 0 (PR_GET_MEMORY_MERGE)\n"
		"        madvise ADDR LEN 12|13 (MADV_MERGEABLE, MADV_UNMERGEABLE; ADDR page-aligned)\n",
		why);
	exit(2);
}

/* A whole decimal or 0x-hex number, or usage error. */
static unsigned long long number(const char *text, const char *what)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(text, &end, 0);
	if (errno != 0 || end == text || *end != 0 || text[0] == '-') {
		char why[160];
		snprintf(why, sizeof why, "bad %s '%s' (a whole number, decimal or 0x hex)", what, text);
		usage(why);
	}
	return v;
}

/* Parses argv[2..] into calls[]; returns how many. Refuses anything outside the allowed set. */
static int parse_calls(int first, int argc, char **argv)
{
	int n = 0;
	char why[200];
	for (int i = first; i < argc;) {
		if (n == MAX_CALLS)
			usage("too many calls (at most 4096)");
		struct call *c = &calls[n++];
		if (strcmp(argv[i], "prctl") == 0 && i + 2 < argc) {
			unsigned long long option = number(argv[i + 1], "prctl option");
			unsigned long long arg = number(argv[i + 2], "prctl argument");
			if (!(option == PR_SET_MEMORY_MERGE_NR && arg <= 1) && !(option == PR_GET_MEMORY_MERGE_NR && arg == 0)) {
				snprintf(why, sizeof why,
					 "prctl %llu %llu is refused: only PR_SET_MEMORY_MERGE (67) 0|1 and PR_GET_MEMORY_MERGE (68) 0",
					 option, arg);
				usage(why);
			}
			*c = (struct call){SYS_PRCTL_X86_64, option, arg, 0};
			i += 3;
		} else if (strcmp(argv[i], "madvise") == 0 && i + 3 < argc) {
			unsigned long long addr = number(argv[i + 1], "madvise address");
			unsigned long long len = number(argv[i + 2], "madvise length");
			unsigned long long advice = number(argv[i + 3], "madvise advice");
			if (advice != MADV_MERGEABLE_NR && advice != MADV_UNMERGEABLE_NR) {
				snprintf(why, sizeof why,
					 "madvise advice %llu is refused: only MADV_MERGEABLE (12) and MADV_UNMERGEABLE (13), "
					 "which keep the process's data",
					 advice);
				usage(why);
			}
			if (addr % PAGE_BYTES != 0 || len == 0 || addr + len < addr) {
				snprintf(why, sizeof why, "madvise range 0x%llx+%llu is not a page-aligned, non-empty range",
					 addr, len);
				usage(why);
			}
			*c = (struct call){SYS_MADVISE_X86_64, addr, len, advice};
			i += 4;
		} else {
			snprintf(why, sizeof why, "expected 'prctl OPTION ARG' or 'madvise ADDR LEN ADVICE' at '%s'",
				 argv[i]);
			usage(why);
		}
	}
	return n;
}

int main(int argc, char **argv)
{
	int i = 1;
	char why[240];
	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		if (strcmp(argv[i], "--allowed-only") == 0) {
			allowed_only = 1;
		} else if (strcmp(argv[i], "--start") == 0 && i + 1 < argc) {
			want_start = argv[++i];
			if (want_start[0] == 0 || strspn(want_start, "0123456789") != strlen(want_start))
				usage("--start takes field 22 of /proc/PID/stat, a whole number");
		} else if (strcmp(argv[i], "--comm") == 0 && i + 1 < argc) {
			const char *hex = argv[++i];
			size_t hl = strlen(hex);
			if (hl == 0 || hl % 2 != 0 || hl / 2 >= sizeof want_comm)
				usage("--comm takes the comm as hex of 1 to 16 bytes");
			for (size_t k = 0; k < hl / 2; k++) {
				unsigned int b;
				if (!isxdigit((unsigned char)hex[2 * k]) || !isxdigit((unsigned char)hex[2 * k + 1]) ||
				    sscanf(hex + 2 * k, "%2x", &b) != 1)
					usage("--comm takes the comm as hex digits");
				want_comm[k] = (char)b;
			}
			want_comm[hl / 2] = 0;
			has_comm = 1;
		} else {
			snprintf(why, sizeof why, "unknown option %s", argv[i]);
			usage(why);
		}
	}
	if (argc - i < 2)
		usage("no calls given");
	char *endp;
	long pid = strtol(argv[i], &endp, 10);
	if (*endp != 0 || pid <= 0 || pid == getpid()) {
		snprintf(why, sizeof why, "bad pid %s", argv[i]);
		usage(why);
	}
	int ncalls = parse_calls(i + 1, argc, argv);
	target = (pid_t)pid;

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm; /* no SA_RESTART: waitpid returns EINTR */
	sigaction(SIGALRM, &sa, NULL);

	/* Failing (not root) only means the helper keeps its nice: see "How long" above. */
	(void)setpriority(PRIO_PROCESS, 0, -10);

	char state = state_letter();
	if (state == 0 || state == 'Z' || state == 'X')
		fail("process %d does not exist or has exited", (int)target);
	long tracer = wait_for_other_injector();
	if (tracer > 0)
		fail("process %d is already traced by process %ld (a debugger?); a process can have one tracer only",
		     (int)target, tracer);
	if (state == 'T' || state == 't')
		fail("process %d is stopped (state %c); continue it first", (int)target, state);
	check_identity(0);
	long seccomp_mode = status_field("Seccomp");
	if (seccomp_mode == 1)
		fail_final("process %d runs in seccomp strict mode, where these calls would kill it; nothing was changed",
			   (int)target);

	if (ptrace(PTRACE_SEIZE, target, 0, 0) != 0) {
		int e = errno;
		if (e == EPERM)
			fail("ptrace(PTRACE_SEIZE, %d): %s (needs root or CAP_SYS_PTRACE; check "
			     "/proc/sys/kernel/yama/ptrace_scope, a kernel thread cannot be traced)",
			     (int)target, strerror(e));
		fail("ptrace(PTRACE_SEIZE, %d): %s", (int)target, strerror(e));
	}
	uint64_t t0 = now_ns();
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

	check_identity(1);
	test_hold();
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

	if (seccomp_mode == 2 && !seccomp_allows(at, ncalls, why, sizeof why)) {
		if (patched)
			write_mem(at, orig, 2);
		ptrace(PTRACE_DETACH, target, 0, 0);
		fail_final("process %d %s; nothing was changed", (int)target, why);
	}

	static long long results[MAX_CALLS];
	static const char *notes[MAX_CALLS];
	int deferred = 0; /* a signal that arrived meanwhile, delivered at the detach */
	for (int k = 0; k < ncalls; k++) {
		const struct call *c = &calls[k];
		regs = saved;
		regs.rip = at;
		regs.rax = c->nr;
		regs.orig_rax = (unsigned long long)-1; /* nothing to restart while we borrow the thread */
		regs.rdi = c->a1;
		regs.rsi = c->a2;
		regs.rdx = c->a3;
		regs.r10 = 0;
		regs.r8 = 0;
		if (ptrace(PTRACE_SETREGS, target, 0, &regs) != 0) {
			int e = errno;
			if (k == 0) {
				if (patched)
					write_mem(at, orig, 2);
				ptrace(PTRACE_DETACH, target, 0, 0);
				fail("ptrace(PTRACE_SETREGS, %d): %s; nothing was changed", (int)target, strerror(e));
			}
			fail("ptrace(PTRACE_SETREGS, %d): %s after %d call(s)", (int)target, strerror(e), k);
		}
		notes[k] = "";
		for (int tries = 0;; tries++) {
			if (ptrace(PTRACE_SINGLESTEP, target, 0, 0) != 0)
				fail("ptrace(PTRACE_SINGLESTEP, %d): %s", (int)target, strerror(errno));
			wait_stop(&status, "during the call (a seccomp filter that kills on it?)");
			int sig = WSTOPSIG(status);
			if (ptrace(PTRACE_GETREGS, target, 0, &regs) != 0)
				fail("ptrace(PTRACE_GETREGS, %d): %s", (int)target, strerror(errno));
			if (sig == SIGTRAP && regs.rip == at + 2) {
				results[k] = (long long)regs.rax;
				break;
			}
			if (sig == SIGSYS) {
				/* seccomp SECCOMP_RET_TRAP on our call: the signal is ours, not the program's. */
				results[k] = -EPERM;
				notes[k] = " seccomp-trap";
				break;
			}
			if (tries > 100) {
				results[k] = -EAGAIN;
				notes[k] = " not-executed";
				break;
			}
			/* The call has not completed (not run yet, or interrupted and rewound for its
			 * restart): hold the signal and step again. */
			if (sig != SIGTRAP && deferred == 0)
				deferred = sig;
		}
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
	uint64_t pause = now_ns() - t0;
	for (int k = 0; k < ncalls; k++)
		printf("ok %lld %s 0x%" PRIx64 "%s\n", results[k], method, at, notes[k]);
	printf("pause %" PRIu64 "\n", pause);
	if (!restore_ok)
		fail("the calls ran but the registers or code of process %d could not be restored exactly", (int)target);
	return 0;
}
#endif
