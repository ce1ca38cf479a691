/**
 * `samepage shell` as bash: the constructs of a monitoring script give what /bin/bash gives
 * (run side by side, on files of their own), sysfs writes fail with Linux's words and status,
 * processes are /proc/PID, `sleep` is virtual time with an end, and reading a script costs
 * parser calls linear in its length.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../lib/package_root.ts';
import { runShell } from './testing.ts';

const CONSTRUCTS = readFileSync(
  join(packageRoot(import.meta.dirname), 'test', 'fixtures', 'shell-constructs.sh'),
  'utf8',
);

test('the constructs of a monitoring script print what /bin/bash prints', async (t) => {
  if (!existsSync('/bin/bash')) {
    t.skip('no /bin/bash to compare with');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'samepage-shell-bash-'));
  try {
    const bash = spawnSync('/bin/bash', ['-s'], {
      input: CONSTRUCTS.replaceAll('$D', join(dir, 'd')),
      encoding: 'utf8',
      env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' },
    });
    const ours = await runShell(CONSTRUCTS.replaceAll('$D', '/tmp/d'));
    assert.equal(ours.stdout, bash.stdout);
    assert.equal(ours.stderr, bash.stderr.replaceAll(join(dir, 'd'), '/tmp/d'));
    assert.equal(ours.code, bash.status);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// Linux 6.18, measured as root with bash 5.2 (echo 5 > run; echo 1 > pages_shared;
// echo x > /sys/kernel/mm/ksm+processes_to_scan; ...): the text and the status bash gives.
test('a refused sysfs write fails with the errno text and status bash shows on Linux', async () => {
  const r = await runShell(
    [
      'echo 5 > /sys/kernel/mm/ksm/run; echo "run: $?"',
      'printf 5 > /sys/kernel/mm/ksm/run',
      'echo 1 > /sys/kernel/mm/ksm/pages_shared; echo "ro: $?"',
      'echo x > /sys/kernel/mm/ksm+processes_to_scan; echo "create: $?"',
      'echo x > /sys/kernel/mm/ksm; echo "dir: $?"',
      'echo 2 > /sys/kernel/mm/ksm/pages_to_scan/x',
      'echo x > /proc/1/foo',
      'cat /sys/kernel/mm/ksm /sys/kernel/mm/ksm/nope',
      'echo 2000 > /sys/kernel/mm/ksm/pages_to_scan; cat /sys/kernel/mm/ksm/pages_to_scan',
    ].join('\n'),
  );
  assert.equal(r.stdout, 'run: 1\nro: 1\ncreate: 1\ndir: 1\n2000\n');
  assert.equal(
    r.stderr,
    [
      'bash: echo: write error: Invalid argument',
      'bash: printf: write error: Invalid argument',
      'bash: /sys/kernel/mm/ksm/pages_shared: Permission denied',
      'bash: /sys/kernel/mm/ksm+processes_to_scan: Permission denied',
      'bash: /sys/kernel/mm/ksm: Is a directory',
      'bash: /sys/kernel/mm/ksm/pages_to_scan/x: Not a directory',
      'bash: /proc/1/foo: No such file or directory',
      'cat: /sys/kernel/mm/ksm: Is a directory',
      'cat: /sys/kernel/mm/ksm/nope: No such file or directory',
      '',
    ].join('\n'),
  );
});

test('processes made by scenario steps are /proc/PID, found by pgrep and pidof', async () => {
  const r = await runShell(
    [
      'spawn: { proc: a, comm: okular }',
      'spawn: { proc: b, comm: bash }',
      'pid=$(pgrep -x okular)',
      'cat /proc/$pid/comm',
      'ls /proc | grep -c "^[0-9]"',
      'pidof bash | wc -w',
      'grep -c ksm_ /proc/$pid/ksm_stat',
      'cat /proc/okular/comm',
      'exit: { proc: a }',
      'cat /proc/$pid/comm',
    ].join('\n'),
  );
  assert.equal(r.stdout, 'okular\n2\n1\n6\n');
  const pid = /\/proc\/(\d+)\/comm/.exec(r.stderr)?.[1];
  assert.equal(
    r.stderr,
    `cat: /proc/okular/comm: No such file or directory\ncat: /proc/${pid}/comm: No such file or directory\n`,
  );
});

test('/proc/vmstat shows the KSM lines: a write to a merged page is one cow_ksm', async () => {
  const r = await runShell(
    [
      'spawn: { proc: a, comm: app }',
      'mmap: { proc: a, region: r, size: 40KiB }',
      'fill: { proc: a, region: r, pattern: { byte: 42 } }',
      'madvise: { proc: a, region: r, advice: MADV_MERGEABLE }',
      'echo 1 > /sys/kernel/mm/ksm/run',
      'sleep 1',
      'cat /proc/vmstat',
      'write: { proc: a, region: r, offset: 0, bytes: ab01 }',
      'grep cow_ksm /proc/vmstat',
    ].join('\n'),
  );
  assert.equal(r.stdout, 'cow_ksm 0\nksm_swpin_copy 0\ncow_ksm 1\n');
});

test('sleep runs the model on virtual time, and --max-time ends an endless loop keeping its output', async () => {
  const r = await runShell(['while true; do', '  echo "t=$(date +%s)"', '  sleep 60', 'done'].join('\n'), 150_000);
  assert.equal(r.code, 124);
  assert.equal(r.stdout, 't=0\nt=60\nt=120\n');
  assert.match(r.stderr, /stopped at 120 s of virtual time: sleep 60 s would pass the limit of 150 s/);
});

test("a sleep past the model's clock (2^53 ns, 104 days 5 h) stops the script like --max-time, whatever the limit", async () => {
  const day = 86_400_000;
  const r = await runShell('echo a\nsleep 60d\necho b\nsleep 60d\necho c\n', 104 * day);
  assert.equal(r.code, 124);
  assert.equal(r.stdout, 'a\nb\n');
  assert.match(
    r.stderr,
    /stopped at 5184000 s of virtual time: waiting 5184000000 ms would take virtual time to 120 days 0 h, past the 104 days 5 h/,
  );
});

test('a syntax error stops a script with status 2, an unfinished command too', async () => {
  const bad = await runShell('echo a\nif then fi\necho b\n');
  assert.equal(bad.stdout, 'a\n');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^bash: syntax error near unexpected token/);
  const open = await runShell('echo a\nwhile true; do\necho x\n');
  assert.equal(open.stdout, 'a\n');
  assert.equal(open.stderr, 'bash: syntax error: unexpected end of file\n');
  assert.equal(open.code, 2);
});

test('a syntax error in a script file names the file and the line, and shows that line, as bash does', async () => {
  // bash 5.2 on these: "s.sh: line 4: syntax error near unexpected token `then'" and
  // "s.sh: line 4: `  then'"; "s.sh: line 4: syntax error: unexpected end of file".
  // (just-bash's parser names the token after: `fi'.)
  const bad = await runShell('echo a\n\nif true; then\n  then\nfi\necho b\n', 3_600_000, 's.sh');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^s\.sh: line 4: syntax error near unexpected token `\w+'\ns\.sh: line 4: ` {2}then'\n$/);
  const open = await runShell('echo a\n# note\nfor x in 1; do\n', 3_600_000, 's.sh');
  assert.equal(open.stderr, 's.sh: line 4: syntax error: unexpected end of file\n');
  // From standard input bash gives no line: neither does the shell.
  const piped = await runShell('echo a\nif true; then\n  then\nfi\n');
  assert.match(piped.stderr, /^bash: syntax error near unexpected token `\w+'\nbash: ` {2}then'\n$/);
});

test('reading a script parses each line about once: 4,000 lines cost 4 times 1,000', async () => {
  const script = (n: number) => Array.from({ length: n }, (_, i) => `x=$((${i} + 1))`).join('\n');
  const a = await runShell(script(1000));
  const b = await runShell(script(4000));
  assert.equal(a.parses, 1000);
  assert.equal(b.parses, 4000);
  // One long function: tried at each of its first 32 lines, then each time it doubles.
  const body = Array.from({ length: 4000 }, (_, i) => `  echo ${i}`).join('\n');
  const f = await runShell(`f() {\n${body}\n}\nf | tail -1`);
  assert.equal(f.stdout, '3999\n');
  assert.ok(f.parses < 32 + 12 + 2, `${f.parses} parses`);
});

test('help describes the model files and commands, not the library', async () => {
  const r = await runShell('help');
  assert.match(r.stdout, /\/sys\/kernel\/mm\/ksm\+/);
  assert.match(r.stdout, /sleep SECONDS/);
  assert.equal(r.code, 0);
});
