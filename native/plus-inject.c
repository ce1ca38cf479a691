/*
 * samepage-plus-inject: the injector of the KSM+ daemon (`samepage plus`). A long-lived
 * helper that makes selected processes call madvise(MADV_MERGEABLE) or
 * madvise(MADV_UNMERGEABLE) on ranges, on request, one request at a time.
 *
 * madvise acts on the calling process only (and process_madvise cannot set MADV_MERGEABLE),
 * so the calls must be made by the target itself. As native/inject-syscall.c does for
 * `samepage kernel enable`, we borrow the target's thread-group leader for the calls:
 * PTRACE_SEIZE + PTRACE_INTERRUPT, the registers saved whole, a `syscall` instruction found
 * (RIP-2 after a system call, else one in an executable mapping, the vDSO first; never a
 * write to the target's code here), each call single-stepped with ORIG_RAX = -1, the
 * registers put back exactly (an interrupted system call restarts as after any signal
 * without a handler), PTRACE_DETACH with any signal that arrived meanwhile.
 *
 * What the daemon needs beyond the one-shot injector:
 *   - one process for the daemon's life, reading requests on stdin (no fork and exec per
 *     injection);
 *   - the target's identity checked before and after PTRACE_SEIZE: its start time (field 22
 *     of /proc/PID/stat) and, for a program selected by name, its comm, so a reused pid or a
 *     process that exec'd another program is never touched;
 *   - a target whose seccomp filter would not let madvise through is refused before any call:
 *     the filters are read with PTRACE_SECCOMP_GET_FILTER and run here, in a classic BPF
 *     interpreter, on the exact arguments of each call; strict mode is refused outright;
 *   - PR_SET_PDEATHSIG(SIGTERM), caught: if the daemon dies (even by SIGKILL) the helper
 *     finishes the injection in progress, restores the target, detaches, and exits; the
 *     helper also asks never to be the OOM killer's choice (oom_score_adj -1000);
 *   - the pause is measured: from PTRACE_INTERRUPT to the return of PTRACE_DETACH
 *     (CLOCK_MONOTONIC), which bounds the time the target's thread was held; the helper
 *     runs at nice -10, so that on a busy machine it is not the helper's own wait for a CPU
 *     that holds the target.
 *
 * Requests, one per line on stdin:
 *   madvise ID PID START COMM ADVICE ADDR LEN [ADDR LEN ...]
 *     ID      the caller's number for the request, echoed back
 *     START   the start time the caller saw (field 22 of /proc/PID/stat)
 *     COMM    the comm the target must have, as hex of its bytes, or - for any
 *     ADVICE  12 (MADV_MERGEABLE) or 13 (MADV_UNMERGEABLE): nothing else is accepted
 *     ADDR LEN  page-aligned start (hex, 0x...) and length in bytes (decimal), at most 4096 ranges
 * Answers, one line per request on stdout:
 *   done ID PAUSE_NS R1 [R2 ...]        every call ran; Ri is madvise's return (0 or -errno)
 *   refused ID retry|final MESSAGE      the target was left as it was (retry: later may work)
 *   partial ID PAUSE_NS K R1..RK MESSAGE  the first K calls ran, then the target died
 *   bad ID MESSAGE                      the request was malformed; nothing was done
 * After an answer that the target could not be restored (`fatal ...`), the helper exits 1.
 * x86-64 only.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if !defined(__x86_64__)
int main(void)
{
	printf("fatal samepage-plus-inject supports x86-64 only\n");
	return 1;
}
#else
#include <linux/filter.h>
#include <sys/user.h>

#define SYS_MADVISE_X86_64 28
#define MADV_MERGEABLE_NR 12
#define MADV_UNMERGEABLE_NR 13
#define PAGE_BYTES 4096ULL
#define MAX_RANGES 4096
#define USER_CS_64 0x33
#define WAIT_SECONDS 10
#define AUDIT_ARCH_X86_64_NR 0xc000003eU
#ifndef PTRACE_SECCOMP_GET_FILTER
#define PTRACE_SECCOMP_GET_FILTER 0x420c
#endif
#define RET_ACTION_FULL 0xffff0000U
#define RET_ALLOW 0x7fff0000U
#define RET_LOG 0x7ffc0000U
#define MAX_FILTERS 64
#define MAX_INSNS 4096

static volatile sig_atomic_t timed_out;
static volatile sig_atomic_t stopping;
/*
 * Tests only (SAMEPAGE_PLUS_INJECT_HOLD_MS): hold the target this long with the first call's
 * registers in place, so a test can kill the daemon mid-injection. A signal ends the hold.
 */
static long hold_ms;

static void on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
}

static void on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* One request being served. */
struct request {
	char id[32];
	pid_t pid;
	char start[32];
	char comm[64]; /* empty: any */
	int has_comm;
	unsigned long long advice;
	int n;
	unsigned long long addr[MAX_RANGES], len[MAX_RANGES];
	long long result[MAX_RANGES];
};

static struct request req;
/* Why the last step failed, for the answer. */
static char why[512];

static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
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

/* A numeric field of /proc/PID/status, or -1. */
static long status_field(pid_t pid, const char *name)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
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

/* Whether the process at req.pid is still the one asked for: 1 yes, 0 another one, -1 gone. */
static int same_process(char *state)
{
	char start[32], comm[64];
	if (stat_identity(req.pid, start, sizeof start, comm, sizeof comm, state) != 0)
		return -1;
	if (strcmp(start, req.start) != 0) {
		say("process %d is another process now (started at %s, not %s)", (int)req.pid, start, req.start);
		return 0;
	}
	if (req.has_comm && strcmp(comm, req.comm) != 0) {
		say("process %d runs \"%s\" now, not the selected \"%s\"", (int)req.pid, comm, req.comm);
		return 0;
	}
	return 1;
}

/* waitpid for the target with the alarm: 0 stopped, -1 it died (why says so), -2 timed out. */
static int wait_stop(int *status)
{
	for (;;) {
		timed_out = 0;
		alarm(WAIT_SECONDS);
		pid_t r = waitpid(req.pid, status, __WALL);
		alarm(0);
		if (r == req.pid) {
			if (WIFEXITED(*status)) {
				say("process %d exited (status %d)", (int)req.pid, WEXITSTATUS(*status));
				return -1;
			}
			if (WIFSIGNALED(*status)) {
				say("process %d was killed by signal %d (%s)", (int)req.pid, WTERMSIG(*status),
				    strsignal(WTERMSIG(*status)));
				return -1;
			}
			if (WIFSTOPPED(*status))
				return 0;
			continue;
		}
		if (r < 0 && errno == EINTR && timed_out) {
			say("process %d did not stop within %d s (uninterruptible sleep?)", (int)req.pid, WAIT_SECONDS);
			return -2;
		}
		if (r < 0 && errno != EINTR) {
			say("waitpid(%d): %s", (int)req.pid, strerror(errno));
			return -1;
		}
	}
}

/* --- Classic BPF, as seccomp runs it (kernel/seccomp.c, net/core/filter.c) --- */

/* The seccomp_data of a madvise call made from `ip`, as 16 32-bit words. */
static void seccomp_data_words(uint32_t *w, uint64_t ip, unsigned long long addr, unsigned long long len,
			       unsigned long long advice)
{
	memset(w, 0, 16 * sizeof *w);
	w[0] = SYS_MADVISE_X86_64;
	w[1] = AUDIT_ARCH_X86_64_NR;
	w[2] = (uint32_t)ip;
	w[3] = (uint32_t)(ip >> 32);
	unsigned long long args[3] = {addr, len, advice};
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
 * Whether the target's seccomp filters let every call of the request through (ALLOW or LOG):
 * 1 yes, 0 no (why says which action), -1 the filters could not be read (why).
 */
static int seccomp_allows(uint64_t ip)
{
	static struct sock_filter prog[MAX_FILTERS][MAX_INSNS];
	static int lens[MAX_FILTERS];
	int nf = 0;
	for (; nf < MAX_FILTERS; nf++) {
		long n = ptrace(PTRACE_SECCOMP_GET_FILTER, req.pid, (void *)(long)nf, NULL);
		if (n < 0 && errno == ENOENT)
			break;
		if (n < 0 || n > MAX_INSNS) {
			say("process %d has a seccomp filter that cannot be read (%s)", (int)req.pid,
			    n < 0 ? strerror(errno) : "too long");
			return -1;
		}
		if (ptrace(PTRACE_SECCOMP_GET_FILTER, req.pid, (void *)(long)nf, prog[nf]) != n) {
			say("process %d: reading seccomp filter %d failed (%s)", (int)req.pid, nf, strerror(errno));
			return -1;
		}
		lens[nf] = (int)n;
	}
	if (nf == MAX_FILTERS) {
		say("process %d has more than %d seccomp filters", (int)req.pid, MAX_FILTERS);
		return -1;
	}
	uint32_t data[16];
	for (int c = 0; c < req.n; c++) {
		seccomp_data_words(data, ip, req.addr[c], req.len[c], req.advice);
		uint32_t ret = RET_ALLOW;
		for (int f = 0; f < nf; f++) {
			int bad = 0;
			uint32_t r = run_bpf(prog[f], lens[f], data, &bad);
			if (bad) {
				say("process %d has a seccomp filter this helper cannot run", (int)req.pid);
				return -1;
			}
			/* The most restrictive action wins (kernel/seccomp.c seccomp_run_filters). */
			if ((int32_t)(r & RET_ACTION_FULL) < (int32_t)(ret & RET_ACTION_FULL))
				ret = r;
		}
		uint32_t action = ret & RET_ACTION_FULL;
		if (action != RET_ALLOW && action != RET_LOG) {
			say("process %d's seccomp filter would %s on madvise(%s); it was not attempted", (int)req.pid,
			    action_name(ret), req.advice == MADV_MERGEABLE_NR ? "MADV_MERGEABLE" : "MADV_UNMERGEABLE");
			return 0;
		}
	}
	return 1;
}

/* --- Finding a `syscall` instruction without writing to the target --- */

static int mem_fd = -1;

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

static uint64_t find_syscall(uint64_t rip)
{
	unsigned char code[2];
	if ((rip & 0xfff) >= 2 && pread(mem_fd, code, 2, (off_t)(rip - 2)) == 2 && code[0] == 0x0f && code[1] == 0x05)
		return rip - 2;
	char path[64], line[4096];
	snprintf(path, sizeof path, "/proc/%d/maps", (int)req.pid);
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

/* --- One request --- */

/* Answers: which of done, refused, partial, bad, fatal. */
static void answer_refused(int retry)
{
	printf("refused %s %s %s\n", req.id, retry ? "retry" : "final", why);
}

/* Detaches a stopped target whose registers were not changed. */
static void detach_untouched(void)
{
	ptrace(PTRACE_DETACH, req.pid, 0, 0);
}

static void serve(void)
{
	char state = 0;
	int same = same_process(&state);
	if (same < 0) {
		say("process %d does not exist or has exited", (int)req.pid);
		answer_refused(0);
		return;
	}
	if (same == 0) {
		answer_refused(0);
		return;
	}
	if (state == 'Z' || state == 'X') {
		say("process %d has exited", (int)req.pid);
		answer_refused(0);
		return;
	}
	if (state == 'T' || state == 't') {
		say("process %d is stopped (state %c)", (int)req.pid, state);
		answer_refused(1);
		return;
	}
	long tracer = status_field(req.pid, "TracerPid");
	if (tracer > 0) {
		say("process %d is traced by process %ld (a debugger?); a process can have one tracer only", (int)req.pid,
		    tracer);
		answer_refused(1);
		return;
	}
	long seccomp = status_field(req.pid, "Seccomp");
	if (seccomp == 1) {
		say("process %d runs in seccomp strict mode, where madvise would kill it", (int)req.pid);
		answer_refused(0);
		return;
	}
	if (ptrace(PTRACE_SEIZE, req.pid, 0, 0) != 0) {
		int e = errno;
		say("ptrace(PTRACE_SEIZE, %d): %s%s", (int)req.pid, strerror(e),
		    e == EPERM ? " (needs root or CAP_SYS_PTRACE; a traced process or Yama's ptrace_scope 3 refuse it)" : "");
		answer_refused(e == EPERM);
		return;
	}
	uint64_t t0 = now_ns();
	if (ptrace(PTRACE_INTERRUPT, req.pid, 0, 0) != 0) {
		say("ptrace(PTRACE_INTERRUPT, %d): %s", (int)req.pid, strerror(errno));
		answer_refused(1);
		return;
	}
	int status;
	for (int tries = 0;; tries++) {
		int w = wait_stop(&status);
		if (w == -1) {
			answer_refused(0);
			return;
		}
		if (w == -2) {
			/* Still not stopped: leaving the helper detaches it, as it was. */
			printf("fatal %s %s; the helper exits so the kernel detaches it untouched\n", req.id, why);
			fflush(stdout);
			exit(1);
		}
		int event = status >> 16;
		int sig = WSTOPSIG(status);
		if (event == PTRACE_EVENT_STOP && sig == SIGTRAP)
			break;
		if (event == PTRACE_EVENT_STOP) {
			detach_untouched();
			say("process %d entered a job-control stop (%s)", (int)req.pid, strsignal(sig));
			answer_refused(1);
			return;
		}
		if (tries > 100) {
			detach_untouched();
			say("process %d keeps receiving signals", (int)req.pid);
			answer_refused(1);
			return;
		}
		ptrace(PTRACE_CONT, req.pid, 0, (void *)(long)sig);
	}
	/* Stopped: is it still the process asked for (a pid reused between the check and the seize)? */
	if (same_process(&state) != 1) {
		detach_untouched();
		answer_refused(0);
		return;
	}
	struct user_regs_struct saved, regs;
	if (ptrace(PTRACE_GETREGS, req.pid, 0, &saved) != 0) {
		say("ptrace(PTRACE_GETREGS, %d): %s", (int)req.pid, strerror(errno));
		detach_untouched();
		answer_refused(1);
		return;
	}
	if (saved.cs != USER_CS_64) {
		detach_untouched();
		say("process %d is not running 64-bit code", (int)req.pid);
		answer_refused(0);
		return;
	}
	char mem_path[64];
	snprintf(mem_path, sizeof mem_path, "/proc/%d/mem", (int)req.pid);
	mem_fd = open(mem_path, O_RDONLY);
	uint64_t at = mem_fd < 0 ? 0 : find_syscall(saved.rip);
	if (mem_fd >= 0)
		close(mem_fd);
	mem_fd = -1;
	if (at == 0) {
		detach_untouched();
		say("no syscall instruction found in process %d (this helper never writes to a target's code)", (int)req.pid);
		answer_refused(0);
		return;
	}
	if (seccomp == 2) {
		int ok = seccomp_allows(at);
		if (ok != 1) {
			detach_untouched();
			answer_refused(0);
			return;
		}
	}
	int deferred = 0;
	int done = 0;
	const char *gone = NULL;
	for (int c = 0; c < req.n && gone == NULL; c++) {
		regs = saved;
		regs.rip = at;
		regs.rax = SYS_MADVISE_X86_64;
		regs.orig_rax = (unsigned long long)-1;
		regs.rdi = req.addr[c];
		regs.rsi = req.len[c];
		regs.rdx = req.advice;
		regs.r10 = 0;
		regs.r8 = 0;
		if (ptrace(PTRACE_SETREGS, req.pid, 0, &regs) != 0) {
			say("ptrace(PTRACE_SETREGS, %d): %s", (int)req.pid, strerror(errno));
			gone = why;
			break;
		}
		if (hold_ms > 0 && c == 0) {
			struct timespec ts = {hold_ms / 1000, (hold_ms % 1000) * 1000000L};
			nanosleep(&ts, NULL);
		}
		for (int tries = 0;; tries++) {
			if (ptrace(PTRACE_SINGLESTEP, req.pid, 0, 0) != 0) {
				say("ptrace(PTRACE_SINGLESTEP, %d): %s", (int)req.pid, strerror(errno));
				gone = why;
				break;
			}
			int w = wait_stop(&status);
			if (w != 0) {
				gone = why;
				break;
			}
			int sig = WSTOPSIG(status);
			if (ptrace(PTRACE_GETREGS, req.pid, 0, &regs) != 0) {
				say("ptrace(PTRACE_GETREGS, %d): %s", (int)req.pid, strerror(errno));
				gone = why;
				break;
			}
			if (sig == SIGTRAP && regs.rip == at + 2) {
				req.result[c] = (long long)regs.rax;
				done++;
				break;
			}
			if (sig == SIGSYS) {
				req.result[c] = -EPERM; /* a trapping filter the check missed: the signal is ours */
				done++;
				break;
			}
			if (tries > 100) {
				req.result[c] = -EAGAIN;
				done++;
				break;
			}
			if (sig != SIGTRAP && deferred == 0)
				deferred = sig;
		}
	}
	if (gone != NULL && (strstr(why, "exited") != NULL || strstr(why, "killed") != NULL)) {
		printf("partial %s %" PRIu64 " %d", req.id, now_ns() - t0, done);
		for (int c = 0; c < done; c++)
			printf(" %lld", req.result[c]);
		printf(" %s\n", why);
		return;
	}
	int restore_ok = ptrace(PTRACE_SETREGS, req.pid, 0, &saved) == 0;
	struct user_regs_struct check;
	if (restore_ok && (ptrace(PTRACE_GETREGS, req.pid, 0, &check) != 0 || memcmp(&check, &saved, sizeof saved) != 0))
		restore_ok = 0;
	if (ptrace(PTRACE_DETACH, req.pid, 0, (void *)(long)deferred) != 0 && errno != ESRCH)
		restore_ok = 0;
	uint64_t pause = now_ns() - t0;
	if (!restore_ok) {
		printf("fatal %s the registers of process %d could not be restored exactly%s%s\n", req.id, (int)req.pid,
		       gone != NULL ? ": " : "", gone != NULL ? why : "");
		fflush(stdout);
		exit(1);
	}
	if (gone != NULL) {
		printf("partial %s %" PRIu64 " %d", req.id, pause, done);
		for (int c = 0; c < done; c++)
			printf(" %lld", req.result[c]);
		printf(" %s\n", why);
		return;
	}
	printf("done %s %" PRIu64, req.id, pause);
	for (int c = 0; c < req.n; c++)
		printf(" %lld", req.result[c]);
	printf("\n");
}

/* Parses a request line into req; 0 ok, -1 malformed (why says so; req.id is set if known). */
static int parse(char *line)
{
	char *save = NULL;
	char *tok[4 + 2 + 2 * MAX_RANGES + 2];
	int nt = 0;
	for (char *t = strtok_r(line, " \t\n", &save); t != NULL && nt < (int)(sizeof tok / sizeof *tok);
	     t = strtok_r(NULL, " \t\n", &save))
		tok[nt++] = t;
	snprintf(req.id, sizeof req.id, "%s", nt > 1 ? tok[1] : "-");
	if (nt < 8 || strcmp(tok[0], "madvise") != 0 || (nt - 6) % 2 != 0) {
		say("expected: madvise ID PID START COMM ADVICE ADDR LEN [ADDR LEN ...]");
		return -1;
	}
	char *end;
	long pid = strtol(tok[2], &end, 10);
	if (*end != 0 || pid <= 1 || pid == getpid() || pid == getppid()) {
		say("bad pid %s", tok[2]);
		return -1;
	}
	req.pid = (pid_t)pid;
	snprintf(req.start, sizeof req.start, "%s", tok[3]);
	req.has_comm = strcmp(tok[4], "-") != 0;
	if (req.has_comm) {
		size_t hl = strlen(tok[4]);
		if (hl % 2 != 0 || hl / 2 >= sizeof req.comm) {
			say("bad comm %s (hex of at most 15 bytes)", tok[4]);
			return -1;
		}
		for (size_t i = 0; i < hl / 2; i++) {
			unsigned int b;
			if (sscanf(tok[4] + 2 * i, "%2x", &b) != 1) {
				say("bad comm %s", tok[4]);
				return -1;
			}
			req.comm[i] = (char)b;
		}
		req.comm[hl / 2] = 0;
	}
	req.advice = strtoull(tok[5], &end, 10);
	if (*end != 0 || (req.advice != MADV_MERGEABLE_NR && req.advice != MADV_UNMERGEABLE_NR)) {
		say("advice %s is refused: only 12 (MADV_MERGEABLE) and 13 (MADV_UNMERGEABLE), which keep the data", tok[5]);
		return -1;
	}
	req.n = (nt - 6) / 2;
	if (req.n > MAX_RANGES) {
		say("at most %d ranges", MAX_RANGES);
		return -1;
	}
	for (int c = 0; c < req.n; c++) {
		errno = 0;
		req.addr[c] = strtoull(tok[6 + 2 * c], &end, 16);
		if (errno != 0 || *end != 0 || req.addr[c] % PAGE_BYTES != 0) {
			say("bad address %s (page-aligned hex)", tok[6 + 2 * c]);
			return -1;
		}
		req.len[c] = strtoull(tok[7 + 2 * c], &end, 10);
		if (errno != 0 || *end != 0 || req.len[c] == 0 || req.addr[c] + req.len[c] < req.addr[c]) {
			say("bad length %s", tok[7 + 2 * c]);
			return -1;
		}
	}
	return 0;
}

int main(void)
{
	pid_t parent = getppid();
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm; /* no SA_RESTART: waitpid returns EINTR on the timeout */
	sigaction(SIGALRM, &sa, NULL);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	sa.sa_flags = SA_RESTART; /* an injection in progress goes on; the loop ends after it */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		return 0; /* the daemon died before we could hear of it */
	setpriority(PRIO_PROCESS, 0, -10);
	FILE *adj = fopen("/proc/self/oom_score_adj", "w");
	if (adj != NULL) {
		fputs("-1000", adj);
		fclose(adj);
	}
	const char *hold = getenv("SAMEPAGE_PLUS_INJECT_HOLD_MS");
	hold_ms = hold == NULL ? 0 : atol(hold);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready %d\n", (int)getpid());
	static char line[4 + 2 * MAX_RANGES * 40 + 256];
	while (!stopping && fgets(line, sizeof line, stdin) != NULL) {
		if (parse(line) != 0) {
			printf("bad %s %s\n", req.id, why);
			continue;
		}
		serve();
	}
	return 0;
}
#endif
