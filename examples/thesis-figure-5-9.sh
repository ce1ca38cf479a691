#!/bin/bash

KSMPLUS_DIR=/sys/kernel/mm/ksm+
PROS2SCAN=${KSMPLUS_DIR}processes_to_scan
RUN=${KSMPLUS_DIR}run

echo "+ okular" > ${PROS2SCAN}
echo "+ epiphany-browse" > ${PROS2SCAN}
echo "+ soffice.bin" > ${PROS2SCAN}
echo "+ gnome-terminal" > ${PROS2SCAN}
echo "+ bash" > ${PROS2SCAN}
echo 1 > ${RUN}
