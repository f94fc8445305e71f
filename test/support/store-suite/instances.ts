import { describe, expect, it } from 'vitest';
import { storePerTest, type OpenStore } from './fixtures.js';

/** InstanceStore: the servers sharing the database (JobRunStore's suite covers their heartbeat). */
export function describeInstanceStore(name: string, open: OpenStore): void {
  describe(`InstanceStore contract: ${name}`, () => {
    const store = storePerTest(open);

    it('registers, lists and removes instances', async () => {
      const { instances } = store();
      await instances.registerInstance({ id: 'a', hostname: 'h1', pid: 10, processStartedAt: 5, startedAt: 1000, lastHeartbeat: 1000 });
      await instances.registerInstance({ id: 'b', hostname: 'h2', pid: 20, processStartedAt: null, startedAt: 2000, lastHeartbeat: 2000 });
      const byId = (await instances.listInstances()).sort((x, y) => x.id.localeCompare(y.id));
      expect(byId).toEqual([
        { id: 'a', hostname: 'h1', pid: 10, processStartedAt: 5, startedAt: 1000, lastHeartbeat: 1000 },
        { id: 'b', hostname: 'h2', pid: 20, processStartedAt: null, startedAt: 2000, lastHeartbeat: 2000 },
      ]);
      await instances.removeInstance('a');
      await instances.removeInstance('missing');
      expect((await instances.listInstances()).map((i) => i.id)).toEqual(['b']);
    });
  });
}
