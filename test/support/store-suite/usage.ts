import { describe, expect, it } from 'vitest';
import { storePerTest, type OpenStore } from './fixtures.js';

/** UsageStore (migration 005): audio seconds per key and UTC day. */
export function describeUsageStore(name: string, open: OpenStore): void {
  describe(`UsageStore contract: ${name}`, () => {
    const store = storePerTest(open);

    it('adds audio seconds per key and UTC day, concurrent adds included', async () => {
      const { usage } = store();
      expect(await usage.keyUsage('k1', '2026-11-23')).toBe(0);
      await usage.addKeyUsage('k1', '2026-11-23', 10.5);
      await Promise.all([1, 2, 3, 4].map((s) => usage.addKeyUsage('k1', '2026-11-23', s)));
      await usage.addKeyUsage('k1', '2026-11-24', 7);
      await usage.addKeyUsage('k2', '2026-11-23', 100);
      expect(await usage.keyUsage('k1', '2026-11-23')).toBeCloseTo(20.5);
      expect(await usage.keyUsage('k1', '2026-11-24')).toBe(7);
      expect(await usage.keyUsage('k2', '2026-11-23')).toBe(100);
    });
  });
}
