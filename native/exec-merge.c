/*
 * samepage-exec-merge: run a program with KSM's MERGE_ANY set, unmodified.
 *
 *   samepage-exec-merge CMD [ARGS...]
 *
 * Calls prctl(PR_SET_MEMORY_MERGE, 1) on itself, then execvp()s CMD. Since Linux 6.4 the
 * flag lives on the mm (MMF_VM_MERGE_ANY) and survives execve and fork, so CMD and every
 * child it forks have all their compatible anonymous VMAs marked mergeable, with no change
 * to the program. stdio, the process group and the pid are the program's own (exec, not
 * fork), so the caller's signals and exit status reach the program directly.
 *
 * Exit status when the program cannot be started (as env(1) and the shells do):
 *   125  prctl failed (message on stderr: the kernel lacks PR_SET_MEMORY_MERGE, or a
 *        seccomp filter refused it)
 *   126  CMD was found but cannot be executed
 *   127  CMD was not found
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE 67
#endif

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: samepage-exec-merge CMD [ARGS...]\n");
		return 125;
	}
	if (prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0) != 0) {
		int e = errno;
		fprintf(stderr, "samepage-exec-merge: prctl(PR_SET_MEMORY_MERGE, 1) failed: %s%s\n", strerror(e),
			e == EINVAL ? " (this kernel has no PR_SET_MEMORY_MERGE: Linux 6.4 or later with CONFIG_KSM is needed)" : "");
		return 125;
	}
	execvp(argv[1], &argv[1]);
	int e = errno;
	fprintf(stderr, "samepage-exec-merge: cannot run %s: %s\n", argv[1], strerror(e));
	return e == ENOENT ? 127 : 126;
}
