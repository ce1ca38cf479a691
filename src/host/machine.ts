/**
 * Facts about this machine that measurements and the differential method record or depend
 * on: NUMA nodes, CPU model, kernel release and the clock tick of /proc's CPU times.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { cpus, hostname } from 'node:os';

/** The text of a file, or '' when it cannot be read. */
function readOr(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/**
 * The number of NUMA nodes of this machine (/sys/devices/system/node/online, e.g. `0` or
 * `0-1,3`), or undefined where the file is missing.
 */
export function liveNumaNodes(): number | undefined {
  const text = readOr('/sys/devices/system/node/online').trim();
  if (text === '') return undefined;
  let n = 0;
  for (const part of text.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (m === null) continue;
    n += m[2] === undefined ? 1 : Number(m[2]) - Number(m[1]) + 1;
  }
  return n > 0 ? n : undefined;
}

/** USER_HZ, the unit of the CPU times in /proc/PID/stat (getconf CLK_TCK; 100 if unknown). */
export function clockTicksPerSecond(): number {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
}

/** What a calibration records of the machine it measured. */
export interface MachineInfo {
  readonly kernel_release: string;
  readonly cpu_model: string;
  readonly cpus: number;
  readonly clk_tck: number;
  readonly hostname: string;
}

/** This machine's CPU model (/proc/cpuinfo's first "model name") and CPU count: cheap, no process started. */
export function cpuIdentity(): Pick<MachineInfo, 'cpu_model' | 'cpus'> {
  const model = /^model name\s*:\s*(.*)$/m.exec(readOr('/proc/cpuinfo'))?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown';
  return { cpu_model: model, cpus: cpus().length };
}

/** This machine: kernel release, CPU model and count, clock tick, host name. */
export function machineInfo(clkTck = clockTicksPerSecond()): MachineInfo {
  return {
    kernel_release: readOr('/proc/sys/kernel/osrelease').trim() || 'unknown',
    ...cpuIdentity(),
    clk_tck: clkTck,
    hostname: hostname(),
  };
}

/**
 * CONFIG_HZ of the running kernel, from /proc/config.gz (CONFIG_IKCONFIG_PROC) or
 * /boot/config-RELEASE; undefined where neither says.
 */
export function configHz(): number | undefined {
  let text = '';
  try {
    text = gunzipSync(readFileSync('/proc/config.gz')).toString('utf8');
  } catch {
    text = readOr(`/boot/config-${readOr('/proc/sys/kernel/osrelease').trim()}`);
  }
  const m = /^CONFIG_HZ=(\d+)$/m.exec(text);
  return m === null ? undefined : Number(m[1]);
}
