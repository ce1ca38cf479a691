/*
 * A process of the reference mix of `samepage plus` (bench/plus.ts) that holds unrelated
 * memory and writes it all the time: PAGES private pages of random bytes, then a word of
 * each page rewritten in turn, 256 pages a millisecond, until stdin closes. Nothing in it is
 * ever a duplicate; under MERGE_ANY ksmd pays an rmap_item for every page and finds them
 * volatile.
 *
 *   mix-writer COMM PAGES SEED
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

static uint64_t mix(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ULL;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
	return x ^ (x >> 31);
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: mix-writer COMM PAGES SEED\n");
		return 2;
	}
	prctl(PR_SET_NAME, argv[1]);
	size_t pages = strtoul(argv[2], NULL, 10);
	uint64_t seed = strtoull(argv[3], NULL, 10);
	size_t words = pages * 512;
	uint64_t *mem = mmap(NULL, pages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	for (size_t w = 0; w < words; w++)
		mem[w] = mix(seed ^ w);
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	fcntl(0, F_SETFL, O_NONBLOCK);
	uint64_t n = 0;
	size_t p = 0;
	for (;;) {
		for (int i = 0; i < 256; i++, p = (p + 1) % pages) {
			n++;
			mem[p * 512 + (mix(seed + n) % 512)] = mix(n);
		}
		struct pollfd pfd = {0, POLLIN, 0};
		if (poll(&pfd, 1, 1) > 0) {
			char c;
			if (read(0, &c, 1) <= 0)
				break;
		}
	}
	return 0;
}
