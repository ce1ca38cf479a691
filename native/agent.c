/*
 * samepage-agent: the workload process of one scenario `proc` on the kernel backend.
 *
 * KSM's madvise and prctl act only on the calling process, so every scenario process is a
 * real process that maps, fills, writes, forks and execs itself, driven by the TypeScript
 * side over a line protocol on fds 0 (commands) and 1 (replies). One command per line;
 * every command gets exactly one reply line, "ok ..." or "err <message>".
 *
 *   startup            -> "ready <pid> <zero-page pfn> <read faults: zero|own|unknown>"
 *   mmap SIZE SHARED NODE        -> "ok <address in hex>"  (NODE -1: no binding)
 *   fill ADDR OFF LEN KIND [A [B]] -> "ok"   bytes at ADDR+OFF.. as the pattern at region
 *                                           offsets OFF.. (ADDR is the region's start)
 *   write ADDR HEX               -> "ok"
 *   copy ADDR LEN PATH           -> "ok"   the bytes at ADDR.. into the file PATH, loaded
 *                                           as the program would load them (see cmd_copy)
 *   madvise ADDR LEN ADVICE      -> "ok <0 or -errno>"
 *   prctl OPTION ARG             -> "ok <value or -errno>"
 *   munmap ADDR LEN              -> "ok <0 or -errno>"
 *   fork IN_FIFO OUT_FIFO        -> "ok <child pid>"; makes both FIFOs, then the child opens
 *                                   them as its own fds 0 and 1 and says "ready ..." on them
 *   exec COMM                    -> the new image says "ready ..." (or "err ..." here)
 *   drain                        -> "ok <0 or -errno>"  every CPU's LRU batches drained
 *                                   (see cmd_drain)
 *   exit                         -> "ok", then the process exits
 *
 * The agent keeps its own memory out of KSM's way: with MERGE_ANY set (prctl, inherited
 * through fork and exec) Linux marks every compatible VMA mergeable, including the agent's
 * stack, heap and library data, which the scenario knows nothing of. So after every command
 * it clears VM_MERGEABLE (MADV_UNMERGEABLE) on everything that is not a scenario region.
 * This happens while ksmd is held (run=0), so those pages never get rmap_items.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PAGE_SIZE 4096UL
#define MAX_REGIONS 4096
#define MPOL_BIND 2
/* Older libc headers lack the 6.4+ prctl numbers. */
#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE 67
#endif
#ifndef PR_GET_MEMORY_MERGE
#define PR_GET_MEMORY_MERGE 68
#endif
#ifndef MADV_NOHUGEPAGE
#define MADV_NOHUGEPAGE 15
#endif

struct region {
	uintptr_t start, end;
};

/* All mutable state of one agent; fork copies it, exec starts afresh. */
struct agent {
	struct region regions[MAX_REGIONS];
	int nregions;
	char inbuf[65536];
	size_t inpos, inlen;
	char *line;
	size_t linecap;
	unsigned long zero_pfn;
	/* What a read of a never-written page maps: READS_ZERO, READS_OWN or READS_UNKNOWN. */
	int reads;
};

enum { READS_UNKNOWN, READS_ZERO, READS_OWN };
static const char *const reads_names[] = { "unknown", "zero", "own" };

static void die(const char *what)
{
	dprintf(2, "samepage-agent[%d]: %s: %s\n", (int)getpid(), what, strerror(errno));
	_exit(3);
}

static void scrub(const struct agent *a);

/*
 * Sends one reply line. The scrub comes first, so that whatever the command (or the agent's
 * own allocations) created is out of KSM's reach before the TS side moves on.
 */
static void reply(const struct agent *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reply(const struct agent *a, const char *fmt, ...)
{
	scrub(a);
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof buf - 2)
		n = sizeof buf - 2;
	buf[n++] = '\n';
	for (int off = 0; off < n;) {
		ssize_t w = write(1, buf + off, (size_t)(n - off));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			_exit(0); /* the TS side is gone: nothing left to serve */
		off += (int)w;
	}
}

/* Reads one command line into a->line (NUL-terminated); returns 0 at end of input. */
static int read_line(struct agent *a)
{
	size_t n = 0;
	for (;;) {
		if (a->inpos == a->inlen) {
			ssize_t r = read(0, a->inbuf, sizeof a->inbuf);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return 0;
			a->inpos = 0;
			a->inlen = (size_t)r;
		}
		char c = a->inbuf[a->inpos++];
		if (n + 1 >= a->linecap) {
			a->linecap = a->linecap ? a->linecap * 2 : 4096;
			a->line = realloc(a->line, a->linecap);
			if (!a->line)
				die("realloc");
		}
		if (c == '\n') {
			a->line[n] = 0;
			return 1;
		}
		a->line[n++] = c;
	}
}

/* The scenario contract's splitmix64, all arithmetic modulo 2^64. */
static uint64_t splitmix64(uint64_t x)
{
	uint64_t z = x + 0x9E3779B97F4A7C15ULL;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

enum kind { K_ZERO, K_BYTE, K_CYCLE, K_WIDX, K_NWIDX, K_RANDOM, K_PAGEMOD, K_TEXT };

struct pattern {
	enum kind kind;
	uint64_t a, b;            /* byte / seed / period, seed */
	unsigned char *text;
	size_t textlen;
};

/* The 64-bit little-endian word `w` of a word-valued pattern. */
static uint64_t pattern_word(const struct pattern *p, uint64_t w)
{
	switch (p->kind) {
	case K_WIDX:
		return w;
	case K_NWIDX:
		return (uint64_t)0 - w;
	case K_RANDOM:
		return splitmix64(p->a + w);
	case K_PAGEMOD: {
		uint64_t page = w / 512, k = w % 512;
		return splitmix64(p->b + (page % p->a) * 512 + k);
	}
	default:
		return 0;
	}
}

/* Writes bytes [off, off+len) of the region at `base` as the pattern defines them. */
static void fill(unsigned char *base, uint64_t off, uint64_t len, const struct pattern *p)
{
	unsigned char *dst = base + off;
	switch (p->kind) {
	case K_ZERO:
		memset(dst, 0, len);
		return;
	case K_BYTE:
		memset(dst, (int)p->a, len);
		return;
	case K_CYCLE:
		for (uint64_t i = 0; i < len; i++)
			dst[i] = (unsigned char)(off + i);
		return;
	case K_TEXT:
		for (uint64_t i = 0; i < len; i++)
			dst[i] = p->text[(off + i) % p->textlen];
		return;
	default:
		break;
	}
	uint64_t word = 0, have = UINT64_MAX;
	for (uint64_t i = 0; i < len; i++) {
		uint64_t at = off + i;
		if (at / 8 != have) {
			have = at / 8;
			word = pattern_word(p, have);
		}
		dst[i] = (unsigned char)(word >> (8 * (at % 8)));
	}
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes hex in place; returns the byte count or -1. */
static long unhex(char *s)
{
	size_t n = strlen(s);
	if (n % 2)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		s[i] = (char)(hi * 16 + lo);
	}
	return (long)(n / 2);
}

static const struct region *region_at(const struct agent *a, uintptr_t addr)
{
	for (int i = 0; i < a->nregions; i++)
		if (addr >= a->regions[i].start && addr < a->regions[i].end)
			return &a->regions[i];
	return NULL;
}

/*
 * Clears VM_MERGEABLE on every VMA (or part of one) that is not a scenario region, so KSM
 * sees exactly the scenario's memory. Only needed under MERGE_ANY; madvise is the only way
 * to take a VMA back out once prctl marked it.
 */
static void scrub(const struct agent *a)
{
	if (prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0) != 1)
		return;
	static char maps[1 << 20]; /* only ever read here; no state is carried */
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	size_t len = 0;
	for (ssize_t r; (r = read(fd, maps + len, sizeof maps - 1 - len)) > 0;)
		len += (size_t)r;
	close(fd);
	maps[len] = 0;
	for (char *p = maps; *p;) {
		unsigned long s, e;
		if (sscanf(p, "%lx-%lx", &s, &e) == 2 && e <= 0x800000000000UL) {
			for (uintptr_t cur = s; cur < e;) {
				const struct region *r = region_at(a, cur);
				if (r) {
					cur = r->end < e ? r->end : e;
					continue;
				}
				uintptr_t next = e;
				for (int i = 0; i < a->nregions; i++)
					if (a->regions[i].start > cur && a->regions[i].start < next)
						next = a->regions[i].start;
				madvise((void *)cur, next - cur, 13 /* MADV_UNMERGEABLE */);
				cur = next;
			}
		}
		char *nl = strchr(p, '\n');
		if (!nl)
			break;
		p = nl + 1;
	}
}

/*
 * What a read of a never-written private anonymous page maps, and the PFN of the shared zero
 * page where that is it (0 otherwise). pagemap shows real PFNs to root only. Two pages are
 * read, both mapped at once: the same frame in both is the zero page; two frames mean the
 * kernel forbids the zero page (mm_forbids_zeropage, or a vendor patch such as
 * pvm_no_zero_page=1) and gives each read its own page, freed again at munmap. Taking that
 * frame for the zero page would later hide a page of the scenario's that reuses it.
 */
static void probe_zero_page(struct agent *a)
{
	a->zero_pfn = 0;
	a->reads = READS_UNKNOWN;
	volatile unsigned char *p = mmap(NULL, 2 * PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return;
	madvise((void *)p, 2 * PAGE_SIZE, MADV_NOHUGEPAGE);
	(void)p[0];
	(void)p[PAGE_SIZE];
	uint64_t entry[2] = { 0, 0 };
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (pread(fd, entry, sizeof entry, (off_t)((uintptr_t)p / PAGE_SIZE * 8)) != sizeof entry)
			entry[0] = entry[1] = 0;
		close(fd);
	}
	munmap((void *)p, 2 * PAGE_SIZE);
	if (!(entry[0] >> 63) || !(entry[1] >> 63))
		return;
	unsigned long pfn0 = (unsigned long)(entry[0] & ((1ULL << 55) - 1));
	unsigned long pfn1 = (unsigned long)(entry[1] & ((1ULL << 55) - 1));
	if (pfn0 == 0 || pfn1 == 0)
		return; /* PFNs hidden: not root */
	if (pfn0 == pfn1) {
		a->zero_pfn = pfn0;
		a->reads = READS_ZERO;
	} else {
		a->reads = READS_OWN;
	}
}

static void announce(struct agent *a)
{
	reply(a, "ready %d %lu %s", (int)getpid(), a->zero_pfn, reads_names[a->reads]);
}

static uint64_t num(const char *s)
{
	return s ? strtoull(s, NULL, 0) : 0;
}

/*
 * Where the next region of `size` bytes goes: the highest gap below REGION_TOP among this
 * process's regions, exactly as the model's getUnmappedArea (src/mm/mmap.ts) places VMAs
 * in an address space that holds only the scenario's regions. Letting the kernel choose
 * would put regions in holes between the agent's own mappings (a hole of about 9 pages
 * below the libraries is typical), so the order of regions, and whether a new region
 * reuses an old one's address (and its stale rmap_item), would differ from the model's
 * (scenarios-diff/layout-hole-remap.yaml). REGION_TOP lies far from the program, heap,
 * libraries and stack of an x86_64 process with ASLR (PIE at 0x55.., mmap_base at least
 * 0x7eff.. with 28 random bits), so MAP_FIXED_NOREPLACE finds it free. Returns 0 when
 * nothing fits.
 */
#define REGION_TOP 0x400000000000UL
static uintptr_t place_region(const struct agent *a, uint64_t size)
{
	uintptr_t end = REGION_TOP;
	for (;;) {
		if (size > end)
			return 0;
		uintptr_t start = end - size;
		uintptr_t below = end;
		for (int i = 0; i < a->nregions; i++)
			if (a->regions[i].start < end && a->regions[i].end > start && a->regions[i].start < below)
				below = a->regions[i].start;
		if (below == end)
			return start;
		end = below;
	}
}

static void cmd_mmap(struct agent *a, char **arg)
{
	uint64_t size = num(arg[0]);
	int shared = (int)num(arg[1]);
	long node = arg[2] ? strtol(arg[2], NULL, 10) : -1;
	if (a->nregions == MAX_REGIONS) {
		reply(a, "err too many regions");
		return;
	}
	uintptr_t at = place_region(a, size);
	if (at == 0) {
		reply(a, "err mmap: no room below the region arena's top");
		return;
	}
	void *p = mmap((void *)at, size, PROT_READ | PROT_WRITE,
		       (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED) {
		reply(a, "err mmap at %#lx: %s", (unsigned long)at, strerror(errno));
		return;
	}
	/* THP would make KSM walk (and split) huge pages; the model has 4 KiB pages only. */
	madvise(p, size, MADV_NOHUGEPAGE);
	if (node >= 0 && node < 64) {
		unsigned long mask = 1UL << node;
		/* Best effort: a one-node machine has nothing to bind. */
		syscall(SYS_mbind, p, size, MPOL_BIND, &mask, 64UL, 0U);
	}
	a->regions[a->nregions++] = (struct region){ (uintptr_t)p, (uintptr_t)p + size };
	reply(a, "ok %lx", (unsigned long)(uintptr_t)p);
}

static void cmd_fill(const struct agent *a, char **arg)
{
	unsigned char *base = (unsigned char *)(uintptr_t)num(arg[0]);
	uint64_t off = num(arg[1]), len = num(arg[2]);
	const char *k = arg[3] ? arg[3] : "";
	struct pattern p = { 0 };
	if (!strcmp(k, "zero")) {
		p.kind = K_ZERO;
	} else if (!strcmp(k, "byte")) {
		p.kind = K_BYTE;
		p.a = num(arg[4]) & 255;
	} else if (!strcmp(k, "byte-cycle")) {
		p.kind = K_CYCLE;
	} else if (!strcmp(k, "word-index")) {
		p.kind = K_WIDX;
	} else if (!strcmp(k, "neg-word-index")) {
		p.kind = K_NWIDX;
	} else if (!strcmp(k, "random")) {
		p.kind = K_RANDOM;
		p.a = num(arg[4]);
	} else if (!strcmp(k, "page-mod")) {
		p.kind = K_PAGEMOD;
		p.a = num(arg[4]);
		p.b = num(arg[5]);
		if (p.a == 0) {
			reply(a, "err page-mod period must be positive");
			return;
		}
	} else if (!strcmp(k, "text")) {
		p.kind = K_TEXT;
		long n = arg[4] ? unhex(arg[4]) : -1;
		if (n <= 0) {
			reply(a, "err text pattern needs non-empty hex");
			return;
		}
		p.text = (unsigned char *)arg[4];
		p.textlen = (size_t)n;
	} else {
		reply(a, "err unknown pattern '%s'", k);
		return;
	}
	fill(base, off, len, &p);
	reply(a, "ok");
}

static void cmd_write(const struct agent *a, char **arg)
{
	unsigned char *dst = (unsigned char *)(uintptr_t)num(arg[0]);
	long n = arg[1] ? unhex(arg[1]) : -1;
	if (n < 0) {
		reply(a, "err bad hex");
		return;
	}
	memcpy(dst, arg[1], (size_t)n);
	reply(a, "ok");
}

/*
 * The read step's bytes, written to a file for the TS side to hash. write(2) takes them
 * with the process's own loads: a never-written page faults as the program's load would,
 * and no page is marked accessed. A read through /proc/PID/mem would mark every page it
 * reaches (get_user_pages' FOLL_TOUCH sets PG_referenced); when ksmd later turns such a page
 * into a KSM page where it lies, its own mark_page_accessed finds the page referenced and
 * activates it through a per-CPU LRU batch that holds a reference until that CPU drains.
 * Unmerged by run=2 in that window, the KSM page outlives its last mapping and its stable
 * node survives: generated scenario 6646 kept 3 dups of a chain that way, which a program
 * reading its own memory never does (scenarios-diff/read-leaves-pages-unreferenced.yaml).
 */
static void cmd_copy(const struct agent *a, char **arg)
{
	if (!arg[0] || !arg[1] || !arg[2]) {
		reply(a, "err copy needs ADDR LEN PATH");
		return;
	}
	const unsigned char *src = (const unsigned char *)(uintptr_t)num(arg[0]);
	uint64_t len = num(arg[1]);
	int fd = open(arg[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		reply(a, "err open %s: %s", arg[2], strerror(errno));
		return;
	}
	for (uint64_t done = 0; done < len;) {
		ssize_t w = write(fd, src + done, (size_t)(len - done));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int err = w < 0 ? errno : EIO;
			close(fd);
			reply(a, "err copy at 0x%lx: %s", (unsigned long)(uintptr_t)(src + done), strerror(err));
			return;
		}
		done += (uint64_t)w;
	}
	close(fd);
	reply(a, "ok");
}

static void cmd_fork(struct agent *a, char **arg)
{
	if (!arg[0] || !arg[1]) {
		reply(a, "err fork needs two FIFO paths");
		return;
	}
	/* The FIFOs are made here, not by Node, which has no mkfifo. */
	if (mkfifo(arg[0], 0600) < 0 || mkfifo(arg[1], 0600) < 0) {
		reply(a, "err mkfifo: %s", strerror(errno));
		return;
	}
	pid_t pid = fork();
	if (pid < 0) {
		reply(a, "err fork: %s", strerror(errno));
		return;
	}
	if (pid > 0) {
		reply(a, "ok %d", (int)pid);
		return;
	}
	/* The child: same opening order as the TS side (commands first), so neither blocks. */
	int in = open(arg[0], O_RDONLY);
	if (in < 0)
		die("open command FIFO");
	int out = open(arg[1], O_WRONLY);
	if (out < 0)
		die("open reply FIFO");
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0)
		die("dup2");
	close(in);
	close(out);
	a->inpos = a->inlen = 0;
	announce(a);
}

static void cmd_exec(const struct agent *a, char **arg)
{
	const char *comm = arg[0] ? arg[0] : "samepage-agent";
	/* fds 0..2 are not close-on-exec: the new image keeps this process's channel. */
	execl("/proc/self/exe", "samepage-agent", "--comm", comm, (char *)NULL);
	reply(a, "err exec: %s", strerror(errno));
}

/*
 * Empties every CPU's per-CPU LRU batches, as ksmd does at the start of each full scan
 * (lru_add_drain_all). A page just faulted sits in its CPU's batch, which holds a reference,
 * and KSM will not merge a page with a reference it cannot account for; so before ksmd runs
 * on in the middle of a scan, the pages the steps faulted must be on the LRU. move_pages
 * with a node list and no pages does only that: it disables the LRU caches for the call,
 * which drains them all on every CPU (measured on 6.18 with /proc/kpageflags: a page faulted
 * on one CPU is not on the LRU, and is after this call made from the other; MADV_COLD drains
 * only the calling CPU).
 */
static void cmd_drain(const struct agent *a)
{
	int node = 0;
	int status = 0;
#ifdef SYS_move_pages
	long r = syscall(SYS_move_pages, 0, 0UL, NULL, &node, &status, 0);
	reply(a, "ok %d", r == 0 ? 0 : -errno);
#else
	(void)node;
	(void)status;
	reply(a, "ok %d", -ENOSYS);
#endif
}

static void serve(struct agent *a)
{
	while (read_line(a)) {
		char *arg[8] = { 0 };
		char *save = NULL;
		char *cmd = strtok_r(a->line, " ", &save);
		for (int i = 0; cmd && i < 8; i++)
			arg[i] = strtok_r(NULL, " ", &save);
		if (!cmd)
			continue;
		if (!strcmp(cmd, "mmap")) {
			cmd_mmap(a, arg);
		} else if (!strcmp(cmd, "fill")) {
			cmd_fill(a, arg);
		} else if (!strcmp(cmd, "write")) {
			cmd_write(a, arg);
		} else if (!strcmp(cmd, "copy")) {
			cmd_copy(a, arg);
		} else if (!strcmp(cmd, "madvise")) {
			int r = madvise((void *)(uintptr_t)num(arg[0]), num(arg[1]), (int)num(arg[2]));
			reply(a, "ok %d", r == 0 ? 0 : -errno);
		} else if (!strcmp(cmd, "prctl")) {
			int r = prctl((int)num(arg[0]), (unsigned long)num(arg[1]), 0UL, 0UL, 0UL);
			int err = errno;
			reply(a, "ok %d", r < 0 ? -err : r);
		} else if (!strcmp(cmd, "munmap")) {
			uintptr_t start = (uintptr_t)num(arg[0]);
			int r = munmap((void *)start, num(arg[1]));
			int err = errno;
			for (int i = 0; r == 0 && i < a->nregions; i++)
				if (a->regions[i].start == start) {
					a->regions[i] = a->regions[--a->nregions];
					break;
				}
			reply(a, "ok %d", r == 0 ? 0 : -err);
		} else if (!strcmp(cmd, "fork")) {
			cmd_fork(a, arg);
		} else if (!strcmp(cmd, "exec")) {
			cmd_exec(a, arg);
		} else if (!strcmp(cmd, "drain")) {
			cmd_drain(a);
		} else if (!strcmp(cmd, "exit")) {
			reply(a, "ok");
			_exit(0);
		} else {
			reply(a, "err unknown command '%s'", cmd);
		}
	}
}

int main(int argc, char **argv)
{
	static struct agent a; /* large; lives in .bss rather than on the stack */
	for (int i = 1; i + 1 < argc; i++)
		if (!strcmp(argv[i], "--comm"))
			prctl(PR_SET_NAME, (unsigned long)argv[i + 1], 0UL, 0UL, 0UL);
	/* Children of a fork step are reaped by the kernel: the scenario never waits on them. */
	signal(SIGCHLD, SIG_IGN);
	/* A broken channel must end the agent, not kill it mid-write with SIGPIPE noise. */
	signal(SIGPIPE, SIG_IGN);
	probe_zero_page(&a);
	announce(&a);
	serve(&a);
	return 0;
}
