/**
 * Headless Chromium for tests of the HTML reports: Debian's chromium package, run offline
 * with its profile and caches in a temporary directory. Tests import this, and so do the
 * bench and the script that run Chromium as a real program to merge (bench/plus.ts,
 * scripts/real-programs.mjs).
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export const CHROMIUM = '/usr/bin/chromium';

/** Headless, no sandbox (root), and none of Chromium's own background traffic. */
export const CHROMIUM_HEADLESS_FLAGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The page those real-program runs show: a heading and a list of 500 items a script builds. */
export const LIST_PAGE_HTML =
  '<!doctype html><html><body><h1>samepage</h1><ul id=l></ul><script>const l = document.getElementById("l"); for (let i = 0; i < 500; i++) { const e = document.createElement("li"); e.textContent = "item " + i; l.appendChild(e); }</script></body></html>';

/** A test's skip reason when Chromium is not installed, else false. */
export function chromiumSkip(): string | false {
  return existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (install Debian's chromium package to run this check)`;
}

/**
 * Runs headless Chromium with the network cut off (but for 127.0.0.1 with `loopback`, for
 * pages a test serves); resolves to its stdout.
 */
export function chromium(args: readonly string[], home: string, loopback = false): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      CHROMIUM,
      [
        ...CHROMIUM_HEADLESS_FLAGS,
        // Offline on purpose: a report that needs the network fails to render what we check.
        `--host-resolver-rules=MAP * ~NOTFOUND${loopback ? ', EXCLUDE 127.0.0.1' : ''}`,
        `--user-data-dir=${join(home, 'profile')}`,
        ...args,
      ],
      // HOME and XDG dirs in the temp dir: Chromium writes nothing outside it.
      {
        timeout: 90_000,
        maxBuffer: 64 * 1024 * 1024,
        env: { ...process.env, HOME: home, XDG_CONFIG_HOME: home, XDG_CACHE_HOME: home },
      },
      (err, stdout, stderr) =>
        err === null ? resolve(stdout) : reject(new Error(`chromium failed: ${err.message}\n${stderr}`)),
    );
  });
}

/** The DOM Chromium builds from a report file, serialised: what a reader's browser shows. */
export function chromiumDom(file: string, home: string): Promise<string> {
  return chromium(['--dump-dom', pathToFileURL(file).href], home);
}

/** Where a browser laid out one text of an SVG chart, relative to its SVG's box (CSS pixels). */
export interface TextBox {
  /** Which SVG of the page, from 0. */
  readonly svg: number;
  /** The chart's title (its largest title text). */
  readonly chart: string;
  readonly text: string;
  readonly left: number;
  readonly top: number;
  readonly right: number;
  readonly bottom: number;
  /** The SVG's own box. */
  readonly width: number;
  readonly height: number;
}

/** What a browser makes of a report: its DOM, every SVG text's box, each axis's description. */
export interface ReportLayout {
  readonly dom: string;
  readonly texts: readonly TextBox[];
  /** The aria-labels vega gives axes: "X-axis titled 'T' for a linear scale with values from 0 to 4.5". */
  readonly axes: readonly string[];
}

/**
 * A test's script, added to a copy of the report (the report itself has none): it measures
 * every text of every SVG where Chromium drew it, and writes the boxes into the page as JSON.
 */
const MEASURE = `<script>
const out = [];
document.querySelectorAll('svg').forEach((svg, i) => {
  const box = svg.getBoundingClientRect();
  const texts = svg.querySelectorAll('text');
  // The chart's title: the largest of its title texts (panel headers are titles too).
  let chart = '';
  let size = 0;
  svg.querySelectorAll('.role-title-text text').forEach((t) => {
    const s = parseFloat(getComputedStyle(t).fontSize);
    if (s > size) { size = s; chart = t.textContent; }
  });
  texts.forEach((t) => {
    const b = t.getBoundingClientRect();
    out.push({ svg: i, chart, text: t.textContent, left: b.left - box.left, top: b.top - box.top,
      right: b.right - box.left, bottom: b.bottom - box.top, width: box.width, height: box.height });
  });
});
const pre = document.createElement('pre');
pre.id = 'samepage-layout';
pre.textContent = JSON.stringify(out);
document.body.appendChild(pre);
</script>`;

/**
 * Lays a report out in headless Chromium at the width of a laptop window and returns its DOM
 * with where every SVG text landed (see MEASURE); `home` also holds the measured copy.
 */
export async function chromiumLayout(file: string, home: string): Promise<ReportLayout> {
  const copy = join(home, 'measured.html');
  writeFileSync(copy, readFileSync(file, 'utf8').replace('</body>', `${MEASURE}\n</body>`));
  const dom = await chromium(['--window-size=1200,900', '--dump-dom', pathToFileURL(copy).href], home);
  const json = /<pre id="samepage-layout">([^<]*)<\/pre>/.exec(dom)?.[1];
  if (json === undefined) throw new Error('The measuring script left no layout in the page');
  const texts = JSON.parse(
    json
      .replace(/&quot;/g, '"')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&amp;/g, '&'),
  ) as TextBox[];
  const axes = [...dom.matchAll(/aria-label="([XY]-axis[^"]*)"/g)].map((m) => m[1]!.replace(/&#39;|&apos;/g, "'"));
  return { dom, texts, axes };
}

/** The texts of a layout that stick out of their SVG (half a pixel of slack) or were cut short with "…". */
export function clippedTexts(layout: ReportLayout): string[] {
  const slack = 0.5;
  return layout.texts
    .filter(
      (t) =>
        t.text.includes('…') ||
        t.left < -slack ||
        t.top < -slack ||
        t.right > t.width + slack ||
        t.bottom > t.height + slack,
    )
    .map(
      (t) =>
        `"${t.text}" in "${t.chart}" at ${t.left.toFixed(1)},${t.top.toFixed(1)}-${t.right.toFixed(1)},${t.bottom.toFixed(1)} of ${t.width.toFixed(0)}x${t.height.toFixed(0)}`,
    );
}

/**
 * A PNG screenshot of the report, 1200 CSS pixels wide and `height` high; with
 * SAMEPAGE_SCREENSHOTS=DIR set, a copy goes to DIR/`name`.png for a person to look at.
 */
export async function chromiumScreenshot(file: string, home: string, name: string, height = 2400): Promise<Buffer> {
  const png = join(home, `${name}.png`);
  await chromium(
    [`--screenshot=${png}`, `--window-size=1200,${height}`, '--hide-scrollbars', pathToFileURL(file).href],
    home,
  );
  const bytes = readFileSync(png);
  const keep = process.env.SAMEPAGE_SCREENSHOTS;
  if (keep !== undefined && keep !== '') {
    mkdirSync(keep, { recursive: true });
    copyFileSync(png, join(keep, `${name}.png`));
  }
  return bytes;
}
