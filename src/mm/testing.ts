/** A machine without KSM for tests of mm/ (which may not import ksm/): 1 MiB of RAM. */
import { createMemoryManager, type MemoryManager } from './memory_manager.ts';

export function testMm(forbidsZeropage = false): MemoryManager {
  return createMemoryManager(257, 1, forbidsZeropage);
}
