/*
 * samepage-speed-probe: how fast this host does ksmd's kind of work, measured beside ksmd.
 *
 *   samepage-speed-probe CPU BURST_MS
 *
 * ksmd's CPU per page moves by a tenth or more within tens of seconds on a shared host
 * (docs/cost-model.md, "How fast the host's speed moves"). This probe asks whether a second
 * task can see those moves while they happen. Pinned on CPU (not ksmd's), for each line it
 * reads on stdin it works for BURST_MS milliseconds of wall time and answers with one line,
 * "CPU_NS PAGES": the CPU time the burst took and the pages it did. The caller asks once a
 * sample, so each answer measures the sample it belongs to. The work per page is ksmd's two
 * kinds of page work: a memcmp of two 4 KiB pages that differ only in their last byte (the
 * tree walks) and a 64-bit multiply-xor hash of one of them (the checksum), over 8 MiB:
 * beyond a core's own caches, within the cache the cores share, so that it meets what
 * slows ksmd down, the clock and the shared cache that other tenants of the host use.
 * (Measured beside ksmd, docs/cost-model.md "A probe beside ksmd": over 64 MiB, where
 * memory's bandwidth rules, the probe followed ksmd's speed less well.) The caller asks for
 * a fifth of each second, to take little of the shared cache it measures. The probe exits
 * at the end of stdin, so it dies with its caller, and with PR_SET_PDEATHSIG as well.
 *
 * Exit 2 for a usage error, 1 when it cannot set itself up.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096u
#define PAGES 1024u /* 4 MiB a buffer, two buffers */

static uint64_t clock_ns(clockid_t clock) {
  struct timespec t;
  clock_gettime(clock, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* One page's work: the compare and the checksum; returns something that depends on both. */
static uint64_t page_work(const unsigned char *a, const unsigned char *b) {
  uint64_t h = (uint64_t)memcmp(a, b, PAGE);
  const uint64_t *w = (const uint64_t *)a;
  for (unsigned k = 0; k < PAGE / 8; k++) h = (h ^ w[k]) * 0x9E3779B97F4A7C15ull;
  return h;
}

int main(int argc, char **argv) {
  char *end = NULL;
  long cpu = argc == 3 ? strtol(argv[1], &end, 10) : -1;
  if (argc != 3 || *end != '\0' || cpu < 0 || cpu >= CPU_SETSIZE) {
    fprintf(stderr, "usage: samepage-speed-probe CPU BURST_MS   (CPU a CPU number, BURST_MS 1 to 10000)\n");
    return 2;
  }
  long burst_ms = strtol(argv[2], &end, 10);
  if (*end != '\0' || burst_ms < 1 || burst_ms > 10000) {
    fprintf(stderr, "samepage-speed-probe: BURST_MS must be a whole number from 1 to 10000, not '%s'\n", argv[2]);
    return 2;
  }
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() == 1) return 1; /* the parent died before the line above took effect */
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET((int)cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) {
    perror("samepage-speed-probe: sched_setaffinity");
    return 1;
  }
  unsigned char *a = malloc((size_t)PAGES * PAGE), *b = malloc((size_t)PAGES * PAGE);
  if (a == NULL || b == NULL) {
    fprintf(stderr, "samepage-speed-probe: out of memory\n");
    return 1;
  }
  uint64_t x = 88172645463325252ull; /* xorshift64: contents no page shares with another */
  for (size_t i = 0; i < (size_t)PAGES * PAGE / 8; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    memcpy(a + i * 8, &x, 8);
  }
  memcpy(b, a, (size_t)PAGES * PAGE);
  for (size_t i = 0; i < PAGES; i++) b[i * PAGE + PAGE - 1] ^= 1;
  printf("ready\n");
  fflush(stdout);

  volatile uint64_t sink = 0;
  size_t page = 0;
  for (int c; (c = getchar()) != EOF;) {
    if (c != '\n') continue;
    uint64_t cpu0 = clock_ns(CLOCK_THREAD_CPUTIME_ID), until = clock_ns(CLOCK_MONOTONIC) + (uint64_t)burst_ms * 1000000ull;
    uint64_t pages = 0;
    /* Work in runs of 16 pages (some tens of µs) until the burst's time is up. */
    while (clock_ns(CLOCK_MONOTONIC) < until) {
      for (int k = 0; k < 16; k++, pages++) {
        page = (page * 1664525u + 1013904223u) % PAGES; /* every page once a cycle, no stride a prefetcher follows */
        sink += page_work(a + page * PAGE, b + page * PAGE);
      }
    }
    printf("%llu %llu\n", (unsigned long long)(clock_ns(CLOCK_THREAD_CPUTIME_ID) - cpu0), (unsigned long long)pages);
    fflush(stdout);
  }
  return 0;
}
