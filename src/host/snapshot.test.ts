import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuplicateStatistics } from '../stats/duplicate_statistics.ts';
import { addSnapshotPages, readSnapshot, type Snapshot, type SnapshotProcessInput, writeSnapshot } from './snapshot.ts';

const PAGE = 4096;

function proc(pid: number, comm: string, pages: readonly Buffer[]): SnapshotProcessInput {
  const base = 0x7f00_0000_0000 + pid * 0x1000_0000;
  const buf = Buffer.concat(pages);
  return {
    pid,
    comm,
    vmas: [{ start: base, end: base + pages.length * PAGE, perms: 'rw-p', offset: 0, path: '' }],
    zeroPages: 2,
    pages: function* () {
      for (let i = 0; i < pages.length; i++) yield { address: base + i * PAGE, buffer: buf, offset: i * PAGE };
    },
  };
}

/** Two processes: 300 distinct random pages (two blocks), shared 0xFF and zero pages. */
function sample(): SnapshotProcessInput[] {
  const ones = Buffer.alloc(PAGE, 0xff);
  const randoms = Array.from({ length: 300 }, () => randomBytes(PAGE));
  return [
    proc(100, 'okular', [ones, ones, Buffer.alloc(PAGE), ...randoms.slice(0, 200)]),
    proc(101, 'okular', [ones, ...randoms.slice(150), Buffer.from('ab'.repeat(PAGE / 2))]),
  ];
}

async function withDir(f: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'samepage-snap-'));
  try {
    await f(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function read(file: string): Promise<Snapshot> {
  const r = await readSnapshot(file);
  if (!r.ok) assert.fail(r.problem);
  return r.snapshot;
}

test('writeSnapshot and readSnapshot round-trip every page, stored once per content', async () => {
  await withDir(async (dir) => {
    const file = join(dir, 'a.snap');
    const input = sample();
    const summary = writeSnapshot(file, input);
    assert.equal(summary.pages, 203 + 152);
    assert.equal(summary.contents, 300 + 3);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const snap = await read(file);
    assert.equal(snap.hashesOnly, false);
    assert.deepEqual(
      snap.processes.map((p) => [p.pid, p.comm, p.addresses.length, p.zeroPages]),
      [
        [100, 'okular', 203, 2],
        [101, 'okular', 152, 2],
      ],
    );
    assert.deepEqual(snap.processes[0]!.vmas, input[0]!.vmas);
    for (const [k, p] of input.entries()) {
      const got = snap.processes[k]!;
      let i = 0;
      for (const page of p.pages()) {
        assert.equal(got.addresses[i], page.address);
        const bytes = page.buffer.subarray(page.offset, page.offset + PAGE);
        assert.deepEqual(Buffer.from(snap.page(got.contents[i]!)!), Buffer.from(bytes));
        assert.deepEqual(Buffer.from(snap.md5(got.contents[i]!)), createHash('md5').update(bytes).digest());
        i++;
      }
    }
    assert.equal(snap.classOf(snap.processes[0]!.contents[0]!), 'ones');
    assert.equal(snap.classOf(snap.processes[0]!.contents[2]!), 'zero');
    assert.equal(snap.classOf(snap.processes[1]!.contents.at(-1)!), 'period-2');
  });
});

test('a hashes-only snapshot keeps fingerprints and no bytes, and gives the same statistics', async () => {
  await withDir(async (dir) => {
    const full = join(dir, 'full.snap');
    const hashes = join(dir, 'hashes.snap');
    const input = sample();
    writeSnapshot(full, input);
    writeSnapshot(hashes, input, { hashesOnly: true });
    const snap = await read(hashes);
    assert.equal(snap.hashesOnly, true);
    assert.equal(snap.page(0), undefined);
    assert.ok(statSync(hashes).size < 20_000, `hashes-only size ${statSync(hashes).size}`);
    const stats = (s: Snapshot) => {
      const d = new DuplicateStatistics();
      addSnapshotPages(d, s);
      return d.result();
    };
    const r = stats(snap);
    assert.equal(r.top[0]!.class, 'ones');
    assert.equal(r.top[0]!.count, 3);
    assert.equal(r.saving_pages, 2 + 50);
    assert.deepEqual(r, stats(await read(full)));
  });
});

test('readSnapshot refuses a truncated file, a flipped byte and a wrong magic with a clear message', async () => {
  await withDir(async (dir) => {
    const file = join(dir, 'a.snap');
    writeSnapshot(file, sample());
    const good = readFileSync(file);
    const bad = join(dir, 'bad.snap');

    writeFileSync(bad, good.subarray(0, good.length - 1000));
    let r = await readSnapshot(bad);
    assert.ok(!r.ok && /truncated/.test(r.problem), JSON.stringify(r));

    writeFileSync(bad, good.subarray(0, 30));
    r = await readSnapshot(bad);
    assert.ok(!r.ok && /magic/.test(r.problem), JSON.stringify(r));

    const flipped = Buffer.from(good);
    flipped[flipped.length >> 1]! ^= 0x01;
    writeFileSync(bad, flipped);
    r = await readSnapshot(bad);
    assert.ok(!r.ok && /damaged/.test(r.problem), JSON.stringify(r));

    const magic = Buffer.from(good);
    magic.write('NOTSNAP!', 0, 'latin1');
    writeFileSync(bad, magic);
    r = await readSnapshot(bad);
    assert.ok(!r.ok && /not a samepage snapshot/.test(r.problem), JSON.stringify(r));

    const version = Buffer.from(good);
    version.writeUInt32LE(99, 8);
    writeFileSync(bad, version);
    r = await readSnapshot(bad);
    assert.ok(!r.ok && /version 99/.test(r.problem), JSON.stringify(r));

    r = await readSnapshot(join(dir, 'missing.snap'));
    assert.ok(!r.ok && /does not exist/.test(r.problem), JSON.stringify(r));
  });
});

test('writeSnapshot replaces an existing file with a 0600 one and leaves no temporary file on failure', async () => {
  await withDir(async (dir) => {
    const file = join(dir, 'a.snap');
    writeFileSync(file, 'old', { mode: 0o644 });
    writeSnapshot(file, sample());
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const failing: SnapshotProcessInput = {
      pid: 1,
      comm: 'x',
      vmas: [],
      pages: function* () {
        yield { address: 0, buffer: Buffer.alloc(PAGE), offset: 0 };
        throw new Error('read failed');
      },
    };
    assert.throws(() => writeSnapshot(file, [failing]), /read failed/);
    assert.ok((await read(file)).processes.length === 2, 'the old snapshot is intact');
    assert.deepEqual(readdirSync(dir), ['a.snap']);
  });
});

test('readSnapshot refuses a device, and a 10 GiB sparse file by its layout before reading its body', async () => {
  const dev = await readSnapshot('/dev/zero');
  assert.deepEqual(dev, {
    ok: false,
    problem: 'Cannot read snapshot "/dev/zero": it is a character device; only regular files are read',
  });
  await withDir(async (dir) => {
    const file = join(dir, 'sparse.snap');
    const size = 10 * 2 ** 30;
    const header = Buffer.alloc(64);
    header.write('SPSNAP\r\n', 0, 'latin1');
    header.writeUInt32LE(2, 8);
    header.writeBigUInt64LE(BigInt(size - 64), 16);
    writeFileSync(file, header);
    truncateSync(file, size);
    const r = await readSnapshot(file);
    assert.deepEqual(r, {
      ok: false,
      problem: `"${file}" is not a usable snapshot: its section lengths do not add up`,
    });
  });
});

test('a snapshot reads its pages from the file until it is closed', async () => {
  await withDir(async (dir) => {
    const file = join(dir, 'a.snap');
    writeSnapshot(file, sample());
    const snap = await read(file);
    const last = snap.contentCount - 1;
    assert.equal(createHash('md5').update(snap.page(last)!).digest().compare(snap.md5(last)), 0);
    snap.close();
    assert.throws(() => snap.page(0), /The snapshot file is closed/);
  });
});
