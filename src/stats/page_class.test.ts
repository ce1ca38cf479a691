import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { classifyPage, smallestPeriod } from './page_class.ts';

const PAGE = 4096;

function repeated(unit: Uint8Array): Buffer {
  const b = Buffer.alloc(PAGE);
  for (let i = 0; i < PAGE; i++) b[i] = unit[i % unit.length]!;
  return b;
}

/** The definition, by brute force: smallest N ≤ 2048 with page[i] === page[i mod N]. */
function naivePeriod(p: Uint8Array): number {
  for (let n = 1; n <= 2048; n++) {
    let ok = true;
    for (let i = 0; i < PAGE && ok; i++) ok = p[i] === p[i % n];
    if (ok) return n;
  }
  return 0;
}

test('classifyPage names all-zero and all-0xFF pages zero and ones', () => {
  assert.equal(classifyPage(Buffer.alloc(PAGE), 0), 'zero');
  assert.equal(classifyPage(Buffer.alloc(PAGE, 0xff), 0), 'ones');
  assert.equal(classifyPage(Buffer.alloc(PAGE, 0x2a), 0), 'period-1');
});

test('classifyPage finds the smallest unit, dividing 4096 or not', () => {
  assert.equal(classifyPage(repeated(Buffer.from('ffffff00', 'hex')), 0), 'period-4');
  assert.equal(classifyPage(repeated(Buffer.from('abab')), 0), 'period-2');
  assert.equal(classifyPage(repeated(randomBytes(32)), 0), 'period-32');
  assert.equal(classifyPage(repeated(Buffer.from('abcdefg')), 0), 'period-7');
  assert.equal(classifyPage(repeated(randomBytes(2048)), 0), 'period-2048');
  assert.equal(classifyPage(repeated(randomBytes(2049)), 0), 'other');
  assert.equal(classifyPage(randomBytes(PAGE), 0), 'other');
});

test('classifyPage reads the page at its offset inside a larger buffer', () => {
  const big = Buffer.concat([randomBytes(100), Buffer.alloc(PAGE, 0xff), randomBytes(100)]);
  assert.equal(classifyPage(big, 100), 'ones');
  const sub = big.subarray(50);
  assert.equal(classifyPage(sub, 50), 'ones');
});

test('smallestPeriod agrees with the definition on sparse pages (the prefix-function path)', () => {
  const cases: Buffer[] = [];
  const lastByte = Buffer.alloc(PAGE);
  lastByte[PAGE - 1] = 1;
  cases.push(lastByte);
  const fewBytes = Buffer.alloc(PAGE);
  for (const i of [7, 1000, 1007, 2007, 3007, 4007]) fewBytes[i] = 9;
  cases.push(fewBytes);
  cases.push(repeated(Buffer.concat([Buffer.alloc(999), Buffer.from([5])])));
  const seedish = randomBytes(64);
  for (let k = 0; k < 20; k++) {
    const p = Buffer.alloc(PAGE);
    for (let j = 0; j < 4; j++) p[seedish[k * 3 + j]! * 16] = 1;
    cases.push(p);
  }
  for (const c of cases) assert.equal(smallestPeriod(c, 0), naivePeriod(c));
});
