/*
 * The test program of the thesis's section 5.2.3 (Figure 5-11; Zhou Xiao, "Linux 桌面环境下内存
 * 去重技术的研究与实现", 2013), as the live Table 5-2 of `samepage plus` runs it: two private
 * 100 MiB blocks, word i of the first holding i and of the second -i (so no two pages are
 * equal), then the first 1 MiB (256 pages) of each set to 0xFF. Unlike the thesis's program it
 * madvises nothing: the daemon has to find the duplicates itself. It prints "ready PID" and
 * waits until stdin closes (or a signal), so the caller decides how long it lives.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
	size_t size = 0x6400000; /* 100 MiB */
	unsigned long *mem0, *mem1;
	if (posix_memalign((void **)&mem0, 4096, size) != 0 || posix_memalign((void **)&mem1, 4096, size) != 0) {
		perror("posix_memalign");
		return 1;
	}
	for (size_t i = 0; i < size / sizeof(unsigned long); i++) {
		mem0[i] = i;
		mem1[i] = -i;
	}
	memset(mem0, 0xff, 0x100000);
	memset(mem1, 0xff, 0x100000);
	/* The blocks are never read again: without this the compiler may drop the stores. */
	__asm__ volatile("" : : "r"(mem0), "r"(mem1) : "memory");
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	char c;
	while (read(0, &c, 1) > 0) {
	}
	return 0;
}
