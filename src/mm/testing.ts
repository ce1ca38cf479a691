/** A machine without KSM for tests of mm/ (which may not import ksm/): 1 MiB of RAM. */
import { comparePages } from '../lib/pagecmp.ts';
import { PageKernel } from '../lib/xxh64.ts';
import { ContentStore } from './content_store.ts';
import { MemoryManager } from './memory_manager.ts';
import { PageFrames } from './page_frames.ts';

export function testMm(): MemoryManager {
  const kernel = new PageKernel();
  const contents = new ContentStore({ checksum: (b, o) => kernel.checksumPage(b, o), compare: comparePages });
  return new MemoryManager(new PageFrames(257, 1, contents), contents);
}
