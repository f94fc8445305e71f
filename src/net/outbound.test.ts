import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { checkOutboundUrl, guardedDispatcher, OutboundRefusedError, parseOutboundAllow, refusedRange } from './outbound.js';

const NONE = parseOutboundAllow([]);

describe('outbound guard', () => {
  it.each([
    ['0.0.0.0', 'unspecified'],
    ['10.1.2.3', 'private'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['169.254.169.254', 'link-local'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['192.0.2.1', 'reserved'],
    ['198.18.0.1', 'reserved'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['fc00::1', 'unique-local'],
    ['fd12:3456::1', 'unique-local'],
    ['fe80::1', 'link-local'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:a9fe:a9fe', 'link-local'],
    ['::ffff:10.0.0.1', 'private'],
    // Ranges a hand-kept list once let through: translations of internal IPv4 addresses, tunnels, discard-only.
    ['64:ff9b::a00:1', 'NAT64-embedded private'],
    ['64:ff9b::7f00:1', 'NAT64-embedded loopback'],
    ['64:ff9b:1::a00:1', 'NAT64'],
    ['2002:a00:1::1', '6to4-embedded private'],
    ['2002:a9fe:a9fe::1', '6to4-embedded link-local'],
    ['::ffff:0:a00:1', 'IPv4-translated'],
    ['2001::1', 'Teredo'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'Teredo'],
    ['100::1', 'discard-only'],
  ])('refuses %s (%s)', (address, range) => {
    expect(refusedRange(address)).toBe(range);
  });

  it.each(['8.8.8.8', '172.32.0.1', '100.128.0.1', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808', '2002:808:808::1'])('lets public %s through', (address) => {
    expect(refusedRange(address)).toBeUndefined();
  });

  it('refuses an IP literal URL, and a name that resolves to loopback (localhost)', async () => {
    await expect(checkOutboundUrl(new URL('http://169.254.169.254/latest/meta-data'), NONE)).rejects.toThrow(/169\.254\.169\.254 is a link-local address/);
    await expect(checkOutboundUrl(new URL('http://[::ffff:127.0.0.1]:8080/'), NONE)).rejects.toBeInstanceOf(OutboundRefusedError);
    await expect(checkOutboundUrl(new URL('http://localhost:9/hook'), NONE)).rejects.toThrow(/localhost resolves to .* loopback address/);
  });

  it('refuses a name when any of its addresses is internal', async () => {
    const resolve = async () => [{ address: '93.184.216.34', family: 4 }, { address: '10.0.0.5', family: 4 }];
    await expect(checkOutboundUrl(new URL('https://mixed.example/'), NONE, resolve)).rejects.toThrow(/10\.0\.0\.5 is a private address/);
    const ok = await checkOutboundUrl(new URL('https://public.example/'), NONE, async () => [{ address: '93.184.216.34', family: 4 }]);
    expect(ok).toEqual([{ address: '93.184.216.34', family: 4 }]);
  });

  it('lets through what OUTBOUND_ALLOW names: a host, or a CIDR range', async () => {
    const byHost = parseOutboundAllow(['LocalHost']);
    await expect(checkOutboundUrl(new URL('http://localhost:9/'), byHost)).resolves.toEqual([]);
    const byRange = parseOutboundAllow(['127.0.0.0/8', 'fd00::/8']);
    await expect(checkOutboundUrl(new URL('http://localhost:9/'), byRange)).resolves.not.toHaveLength(0);
    await expect(checkOutboundUrl(new URL('http://[::ffff:127.0.0.1]/'), byRange)).resolves.toHaveLength(1);
    await expect(checkOutboundUrl(new URL('http://[fd00::5]/'), byRange)).resolves.toHaveLength(1);
    // Only what is listed: the rest of the private space stays refused.
    await expect(checkOutboundUrl(new URL('http://10.0.0.1/'), byRange)).rejects.toBeInstanceOf(OutboundRefusedError);
  });

  it('rejects a malformed range in OUTBOUND_ALLOW', () => {
    expect(() => parseOutboundAllow(['10.0.0.0/33'])).toThrow(/prefix/);
  });

  it('checks every connection of the engines\' fetch: a name resolving to loopback is refused when connecting, unless allowed', async () => {
    let hits = 0;
    const server = createServer((_req, res) => {
      hits++;
      res.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://localhost:${(server.address() as AddressInfo).port}/`;
    try {
      const guarded = guardedDispatcher(parseOutboundAllow([]));
      const err = await fetch(url, { dispatcher: guarded } as RequestInit).catch((e: unknown) => e as Error);
      expect(err).toBeInstanceOf(TypeError);
      expect((err as Error).cause).toBeInstanceOf(OutboundRefusedError);
      expect(String(((err as Error).cause as Error).message)).toMatch(/localhost resolves to .*loopback/);
      expect(hits).toBe(0);
      await guarded.close();

      const allowed = guardedDispatcher(parseOutboundAllow(['localhost']));
      const res = await fetch(url, { dispatcher: allowed } as RequestInit);
      expect(await res.text()).toBe('ok');
      expect(hits).toBe(1);
      await allowed.close();
    } finally {
      server.close();
    }
  });
});
