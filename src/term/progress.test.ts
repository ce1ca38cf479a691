import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { Progress } from './progress.ts';

/** A terminal-like stream that keeps what is written to it. */
function terminal(): { stream: NodeJS.WritableStream; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  Object.assign(stream, { isTTY: true, columns: 100 });
  return { stream, text: () => chunks.join('') };
}

const CURSOR_HIDDEN = '\x1b[?25l';
const CURSOR_SHOWN = '\x1b[?25h';
const WRAP_OFF = '\x1b[?7l';
const WRAP_ON = '\x1b[?7h';

test('Progress gives the terminal back (cursor shown, line wrap on) when a signal stops it mid-bar', () => {
  const t = terminal();
  const bar = new Progress(t.stream);
  bar.show('wait', 10, 100, '1 h of 10 h ');
  assert.ok(t.text().includes(CURSOR_HIDDEN) && t.text().includes(WRAP_OFF), 'the bar took the cursor and line wrap');
  // Another listener, as the kernel backend's cleanup is: Progress leaves ending the process to it.
  const other = (): void => {};
  process.on('SIGINT', other);
  try {
    process.emit('SIGINT', 'SIGINT');
  } finally {
    process.off('SIGINT', other);
  }
  const after = t.text().slice(t.text().lastIndexOf(CURSOR_HIDDEN));
  assert.ok(after.includes(CURSOR_SHOWN) && after.includes(WRAP_ON), 'cursor and line wrap restored');
  assert.match(after, /samepage: stopped by SIGINT\n$/);
  assert.equal(process.listenerCount('SIGINT'), 0, 'no listener left behind');
});

test('Progress over synchronous work leaves the cursor, line wrap and signals alone', () => {
  const t = terminal();
  const bar = new Progress(t.stream, { interruptible: false });
  bar.show('reading', 1, 10);
  assert.equal(process.listenerCount('SIGINT'), 0);
  bar.stop();
  assert.ok(!t.text().includes(CURSOR_HIDDEN) && !t.text().includes(WRAP_OFF));
});
