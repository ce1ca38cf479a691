import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseListen, startMetricsServer, WARM_UP_SCRAPES } from './ksm_export.ts';

test('startMetricsServer scrapes before it listens, so the first scrape served runs warm code', async () => {
  const calls: Array<string | undefined> = [];
  let listening = false;
  const server = await startMetricsServer(parseListen('127.0.0.1:0')!, (accept) => {
    calls.push(listening ? accept : 'before listening');
    return { body: `scrape ${calls.length}\n`, contentType: 'text/plain' };
  });
  listening = true;
  const before = Array<string>(WARM_UP_SCRAPES).fill('before listening');
  try {
    assert.ok(WARM_UP_SCRAPES >= 1);
    assert.deepEqual(calls, before);
    const res = await fetch(server.url, { headers: { accept: 'text/plain' } });
    assert.equal(await res.text(), `scrape ${WARM_UP_SCRAPES + 1}\n`, 'every request still reads afresh');
    assert.deepEqual(calls, [...before, 'text/plain']);
  } finally {
    await server.close();
  }
});

test('startMetricsServer starts although a scrape before it listens fails, and says why', async () => {
  const errors: unknown[] = [];
  let fail = true;
  const server = await startMetricsServer(
    parseListen('127.0.0.1:0')!,
    () => {
      if (fail) throw new Error('no /proc/kpageflags');
      return { body: 'ok\n', contentType: 'text/plain' };
    },
    (err) => errors.push(err),
  );
  try {
    assert.equal(errors.length, 1, 'a failing scrape is not tried again before listening');
    assert.match(String(errors[0]), /kpageflags/);
    fail = false;
    assert.equal(await (await fetch(server.url)).text(), 'ok\n');
  } finally {
    await server.close();
  }
});
