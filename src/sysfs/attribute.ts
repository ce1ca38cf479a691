import { EACCES } from '../lib/errno.ts';

/**
 * A sysfs or procfs file: `show` gives its text exactly as Linux prints it; `store`, when
 * the file is writable, returns 0 or a negative errno exactly as Linux would.
 */
export interface Attribute {
  readonly name: string;
  show(): string;
  store?: (value: string) => number;
}

/**
 * A write(2) to the attribute's file: a file without a store refuses to open for writing
 * (-EACCES), and a write of no bytes succeeds without calling the store.
 * @linux fs/sysfs/file.c sysfs_kf_write: a write of no bytes is a successful no-op.
 */
export function sysfsKfWrite(attr: Attribute, value: string): number {
  if (attr.store === undefined) return -EACCES;
  if (value.length === 0) return 0;
  return attr.store(value);
}

/** A directory of attributes, like /sys/kernel/mm/ksm. */
export type AttributeGroup = ReadonlyMap<string, Attribute>;

export function attributeGroup(attrs: readonly Attribute[]): AttributeGroup {
  return new Map(attrs.map((a) => [a.name, a]));
}
