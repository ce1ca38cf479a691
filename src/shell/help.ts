/** The text of `help` in `samepage shell`. */
export const SHELL_HELP = `samepage shell: bash over samepage's model of Linux 6.18 (KSM, KSM+), on virtual time.

Files
  /sys/kernel/mm/ksm/*        KSM's knobs and counters (echo VALUE > FILE writes through the
                              model's sysfs store; a refused value fails as on Linux)
  /sys/kernel/mm/ksm+/*       the thesis's KSM+ (processes_to_scan, run, counters)
  /sys/kernel/mm/parser/*     the thesis's duplicate-page statistics module
  /proc/PID/comm, ksm_stat, ksm_merging_pages, status   (PID as pgrep/pidof print it)
  /proc/vmstat                its KSM lines: cow_ksm, ksm_swpin_copy (0: no swap)
  anything else (/tmp, ~) is an in-memory filesystem that lasts the session

Commands
  bash itself: variables, $( ), $(( )), if/while/for/case, functions, pipes, redirections
  echo printf cat grep awk sed cut sort uniq head tail wc tr tee xargs seq date ... (help of
                              each: COMMAND --help)
  sleep SECONDS               advances virtual time: ksmd and KSM+ run meanwhile
  date                        the wall clock at start plus the virtual time since
  pgrep [-x] [-l] PATTERN, pidof NAME    processes of the model by comm
  Scenario steps, one per line, as in a scenario file, create and change processes:
    spawn: { proc: o1, comm: okular }
    mmap: { proc: o1, region: heap, size: 8MiB }
    fill: { proc: o1, region: heap, pattern: { page-mod: 16, seed: 1 } }
    madvise: { proc: o1, region: heap, advice: MADV_MERGEABLE }
  (also write, read, prctl, fork, exec, munmap, exit, sysfs, wait, expect, record)

Keys
  Up/Down: history   Ctrl-C: stop the command (or clear the line)   Ctrl-D: leave
`;
