import { describe, expect, it } from 'vitest';
import { claimer, newJob, storePerTest, transcript, type OpenStore } from './fixtures.js';

/** WebhookStore: which ended jobs still owe their callback, and each attempt's record. */
export function describeWebhookStore(name: string, open: OpenStore): void {
  describe(`WebhookStore contract: ${name}`, () => {
    const store = storePerTest(open);
    const claim = claimer(store);

    it('finds pending webhooks of finished jobs until one is delivered', async () => {
      const { jobs, runs, webhooks } = store();
      await jobs.create(newJob({ id: 'w', callbackUrl: 'http://127.0.0.1:1/hook' }));
      const j = (await claim())!;
      await runs.complete({ id: 'w', runToken: j.runToken! }, transcript, 1000);
      expect((await webhooks.pendingWebhooks()).map((x) => x.id)).toEqual(['w']);
      await webhooks.setWebhook('w', 'delivered', 1, null);
      expect(await webhooks.pendingWebhooks()).toEqual([]);
      expect(await jobs.get('w')).toMatchObject({ webhookStatus: 'delivered', webhookAttempts: 1, webhookLastError: null });
    });
  });
}
