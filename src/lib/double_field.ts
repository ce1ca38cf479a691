/**
 * The first value of a number field that will outgrow 31 bits: a nanosecond counter or
 * clock. V8 stores a field that starts as a small integer (a Smi) as one, and the first
 * value past 2^31 - 1 changes the object's hidden class, which throws away every optimised
 * function that touched the object, in the middle of a run. Measured on the all-unique
 * bench: its 6th full scan, where ksmd's virtual CPU time passed 2.1 s, took 1.7-2.4 µs a
 * visit against 0.6-0.8 for the others. A field that starts as a fraction is a double from
 * the start and stays one, so the owner initialises it with this and then sets the real
 * value (`this.cpuNs = DOUBLE_FIELD; this.cpuNs = 0;`).
 */
export const DOUBLE_FIELD = 0.5;
