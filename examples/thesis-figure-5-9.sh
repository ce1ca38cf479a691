#!/bin/bash
# The thesis's Figure 5-9 (section 5.1.2, experiment four) against the model:
#   samepage shell examples/thesis-figure-5-9.sh
# First the desktop session of Table 5-1 (scenarios/thesis/5.1.2-desktop.yaml): each process
# holds its Table 5-1 memory, with as many duplicate pages as merging must free to save its
# Table 5-1 figure. Lines in the form of a scenario step create and fill the processes.

spawn: { proc: okular, comm: okular }
spawn: { proc: epiphany, comm: epiphany-browse }
spawn: { proc: soffice, comm: soffice.bin }
spawn: { proc: terminal, comm: gnome-terminal }
spawn: { proc: bash1, comm: bash }
spawn: { proc: bash2, comm: bash }
spawn: { proc: bash3, comm: bash }
spawn: { proc: bash4, comm: bash }
mmap: { proc: okular, region: heap, size: 18874368 }
mmap: { proc: epiphany, region: heap, size: 44146688 }
mmap: { proc: soffice, region: heap, size: 39739392 }
mmap: { proc: terminal, region: heap, size: 3563520 }
mmap: { proc: bash1, region: heap, size: 2621440 }
mmap: { proc: bash2, region: heap, size: 2621440 }
mmap: { proc: bash3, region: heap, size: 2621440 }
mmap: { proc: bash4, region: heap, size: 2621440 }
fill: { proc: okular, region: heap, pattern: { random: 11 } }
fill: { proc: epiphany, region: heap, pattern: { random: 12 } }
fill: { proc: soffice, region: heap, pattern: { random: 13 } }
fill: { proc: terminal, region: heap, pattern: { random: 14 } }
fill: { proc: bash1, region: heap, pattern: { random: 15 } }
fill: { proc: bash2, region: heap, pattern: { random: 16 } }
fill: { proc: bash3, region: heap, pattern: { random: 17 } }
fill: { proc: bash4, region: heap, pattern: { random: 18 } }
fill: { proc: okular, region: heap, pattern: { page-mod: 1, seed: 0x10000000000 }, size: 4845568 }
fill: { proc: epiphany, region: heap, pattern: { page-mod: 1, seed: 0x20000000000 }, size: 3268608 }
fill: { proc: soffice, region: heap, pattern: { page-mod: 1, seed: 0x30000000000 }, size: 212992 }
fill: { proc: terminal, region: heap, pattern: { page-mod: 1, seed: 0x40000000000 }, size: 110592 }
fill: { proc: bash1, region: heap, pattern: { page-mod: 1, seed: 0x50000000000 }, size: 212992 }
fill: { proc: bash2, region: heap, pattern: { page-mod: 1, seed: 0x60000000000 }, size: 110592 }
fill: { proc: bash3, region: heap, pattern: { page-mod: 1, seed: 0x70000000000 }, size: 212992 }
fill: { proc: bash4, region: heap, pattern: { page-mod: 1, seed: 0x80000000000 }, size: 212992 }

# Figure 5-9, unchanged. Its line 4 lacks the slash after ksm+, so lines 7-12 write
# /sys/kernel/mm/ksm+processes_to_scan and /sys/kernel/mm/ksm+run, files sysfs cannot create:
# bash says "Permission denied" for each, on Linux as here.

KSMPLUS_DIR=/sys/kernel/mm/ksm+
PROS2SCAN=${KSMPLUS_DIR}processes_to_scan
RUN=${KSMPLUS_DIR}run

echo "+ okular" > ${PROS2SCAN}
echo "+ epiphany-browse" > ${PROS2SCAN}
echo "+ soffice.bin" > ${PROS2SCAN}
echo "+ gnome-terminal" > ${PROS2SCAN}
echo "+ bash" > ${PROS2SCAN}
echo 1 > ${RUN}

# Not in the figure: the same requests with the slash; then let KSM+ finish its first round
# (28518 pages at 100 per 600 ms) and look.
for p in okular epiphany-browse soffice.bin gnome-terminal bash; do
  echo "+ $p" > ${KSMPLUS_DIR}/processes_to_scan
done
echo 1 > ${KSMPLUS_DIR}/run
sleep 180
cat /sys/kernel/mm/ksm+/pages_sharing
cat /sys/kernel/mm/ksm+/rmap_items
cat /proc/$(pgrep -x okular)/ksm_stat
