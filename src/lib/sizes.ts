/** Page size of the modelled machine (x86_64, 4 KiB pages). */
export const PAGE_SIZE = 4096;
/** log2(PAGE_SIZE). */
export const PAGE_SHIFT = 12;
