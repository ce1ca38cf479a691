/**
 * A sysfs or procfs file: `show` gives its text exactly as Linux prints it; `store`, when
 * the file is writable, returns 0 or a negative errno exactly as Linux would.
 */
export interface Attribute {
  readonly name: string;
  show(): string;
  store?: (value: string) => number;
}

/** A directory of attributes, like /sys/kernel/mm/ksm. */
export type AttributeGroup = ReadonlyMap<string, Attribute>;

export function attributeGroup(attrs: readonly Attribute[]): AttributeGroup {
  return new Map(attrs.map((a) => [a.name, a]));
}
