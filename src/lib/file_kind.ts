/**
 * What a file that was handed over as a scenario really is, from its first bytes, so that a
 * snapshot or a binary gets one sentence saying so instead of the YAML parser's complaints.
 */

/** The first 8 bytes of a samepage snapshot (src/host/snapshot.ts writes them). */
export const SNAPSHOT_MAGIC = 'SPSNAP\r\n';

/** How much of a file is looked at for binary content. */
const SNIFF_BYTES = 4096;

/** Why `bytes` cannot be scenario text (YAML or JSON), or undefined when they may be. */
export function notScenarioText(bytes: Uint8Array): string | undefined {
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, SNIFF_BYTES));
  if (head.subarray(0, SNAPSHOT_MAGIC.length).toString('latin1') === SNAPSHOT_MAGIC)
    return 'a samepage snapshot, not a scenario: give it to samepage predict or samepage stats';
  if ((head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff))
    return 'UTF-16 text: scenarios are read as UTF-8 (convert it, e.g. iconv -f UTF-16 -t UTF-8)';
  // A cut at SNIFF_BYTES may split one UTF-8 character: only a replacement before the
  // last three bytes counts.
  const text = head.toString('utf8');
  const bad = text.indexOf('\uFFFD');
  const cut = head.length === SNIFF_BYTES && bad >= 0 && Buffer.byteLength(text.slice(0, bad)) >= SNIFF_BYTES - 3;
  if (head.includes(0) || (bad >= 0 && !cut)) return 'binary data, not a scenario (a scenario is YAML or JSON text)';
  return undefined;
}
