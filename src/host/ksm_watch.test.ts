/**
 * The watch sampler and server: events over real HTTP. The page itself, in headless
 * Chromium, is tested in src/report/ksm_live.test.ts. Nothing here writes to sysfs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KsmStatus } from './ksm_status.ts';
import { EVENTS_PATH, KsmSampler, type KsmWatchSample, startWatchServer } from './ksm_watch.ts';

function fakeReader(): () => KsmStatus {
  let n = 0;
  return () => {
    n++;
    return {
      time: `2026-01-01T00:00:0${n % 10}.000Z`,
      ksm: {
        run: 1,
        pages_sharing: 100 * n,
        pages_shared: 10 * n,
        general_profit: -64 + 4096 * n,
        advisor_mode: 'none',
      },
      processes: [
        {
          pid: 42,
          comm: 'fake',
          ksm_rmap_items: n,
          ksm_zero_pages: 0,
          ksm_merging_pages: n,
          ksm_process_profit: 4096 * n,
          ksm_merge_any: true,
          ksm_mergeable: true,
        },
      ],
    };
  };
}

/** Reads `count` SSE events of type `ksm` from a streaming fetch. */
async function readEvents(url: string, count: number): Promise<KsmWatchSample[]> {
  const res = await fetch(url, { headers: { accept: 'text/event-stream' } });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  assert.ok(res.body !== null);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  const out: KsmWatchSample[] = [];
  let buf = '';
  try {
    while (out.length < count) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      for (let end = buf.indexOf('\n\n'); end >= 0; end = buf.indexOf('\n\n')) {
        const block = buf.slice(0, end);
        buf = buf.slice(end + 2);
        const lines = block.split('\n');
        if (!lines.includes('event: ksm')) continue;
        const data = lines
          .filter((l) => l.startsWith('data: '))
          .map((l) => l.slice(6))
          .join('\n');
        out.push(JSON.parse(data) as KsmWatchSample);
      }
    }
  } finally {
    await reader.cancel();
  }
  return out;
}

test('KsmSampler keeps a bounded history of pages_sharing, pages_shared and general_profit', () => {
  const sampler = new KsmSampler({ intervalMs: 1000, historyLength: 3, read: fakeReader() });
  for (let i = 0; i < 5; i++) sampler.sample();
  const s = sampler.latest;
  assert.equal(s.seq, 5);
  assert.deepEqual(
    s.history.map((p) => p.pages_sharing),
    [300, 400, 500],
  );
  assert.deepEqual(
    s.history.map((p) => p.pages_shared),
    [30, 40, 50],
  );
  assert.deepEqual(
    s.history.map((p) => p.general_profit),
    [-64 + 4096 * 3, -64 + 4096 * 4, -64 + 4096 * 5],
  );
});

test('the watch server streams readings as Server-Sent Events and serves the page', async () => {
  const sampler = new KsmSampler({ intervalMs: 100, read: fakeReader() });
  sampler.start();
  const server = await startWatchServer(
    sampler,
    (s) => `<!doctype html><title>KSM on test-host</title><p>${s.seq}</p>`,
    { port: 0 },
  );
  try {
    assert.ok(server.port > 0);
    const events = await readEvents(`${server.url.replace(/\/$/, '')}${EVENTS_PATH}`, 2);
    assert.equal(events.length, 2);
    assert.ok(events[1]!.seq > events[0]!.seq, 'the second event is a newer reading');
    assert.equal(events[1]!.status.processes[0]?.comm, 'fake');
    assert.ok(events[1]!.history.length >= 2);

    const page = await fetch(server.url);
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /<title>KSM on test-host/);
    assert.equal((await fetch(`${server.url}nothing`)).status, 404);
  } finally {
    sampler.stop();
    await server.close();
  }
});
