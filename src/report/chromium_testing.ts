/**
 * Headless Chromium for tests of the HTML reports: Debian's chromium package, run offline
 * with its profile and caches in a temporary directory. Only tests import this.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
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
