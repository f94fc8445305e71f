import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import { Agent } from 'undici';

/**
 * Outbound calls to addresses a client or an operator names (webhook callback
 * URLs, UPSTREAM_BASE_URL, AZURE_SPEECH_ENDPOINT) go only to public addresses,
 * so hark cannot be used to reach its own host, cloud metadata
 * (169.254.169.254) or the private network behind it (SSRF). OUTBOUND_ALLOW
 * names the exceptions: host names, IP addresses or CIDR ranges.
 */

/**
 * Only global unicast is called. ipaddr.js names every special-purpose range
 * (IANA's registries: private, loopback, link-local, CGNAT, benchmarking,
 * documentation, Teredo, 6to4, NAT64, discard-only, ...), which a hand-kept list
 * missed some of; these are the names a refusal gives them.
 */
const RANGE_LABELS: Record<string, string> = {
  unspecified: 'unspecified',
  broadcast: 'broadcast',
  multicast: 'multicast',
  linkLocal: 'link-local',
  loopback: 'loopback',
  carrierGradeNat: 'carrier-grade NAT',
  private: 'private',
  uniqueLocal: 'unique-local',
  deprecatedSiteLocal: 'site-local',
  ipv4Mapped: 'IPv4-mapped',
  rfc6145: 'IPv4-translated',
  rfc6052: 'NAT64',
  '6to4': '6to4',
  teredo: 'Teredo',
  discard: 'discard-only',
  benchmarking: 'benchmarking',
  reserved: 'reserved',
};

function cidrList(cidr: string): BlockList {
  const [net = '', prefix] = cidr.split('/');
  const family = isIP(net);
  if (family === 0) throw new Error(`not an IP address or CIDR range: ${cidr}`);
  const type = family === 4 ? 'ipv4' : 'ipv6';
  const bits = prefix === undefined ? (family === 4 ? 32 : 128) : Number(prefix);
  if (!Number.isInteger(bits) || bits < 0 || bits > (family === 4 ? 32 : 128)) throw new Error(`bad prefix length in ${cidr}`);
  const list = new BlockList();
  list.addSubnet(net, bits, type);
  return list;
}

/** An IPv4-mapped (::ffff:a.b.c.d) or IPv4-compatible (::a.b.c.d) IPv6 address as its IPv4 address. */
function toV4(address: string): string | undefined {
  const m = /^::(?:ffff:)?(?:(\d+\.\d+\.\d+\.\d+)|([0-9a-f]{1,4}):([0-9a-f]{1,4}))$/i.exec(address);
  if (m === null) return undefined;
  if (m[1] !== undefined) return m[1];
  const hi = parseInt(m[2] ?? '0', 16);
  const lo = parseInt(m[3] ?? '0', 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/** The address as the family it really reaches (IPv4-mapped IPv6 as IPv4). */
function canonical(address: string): { address: string; type: 'ipv4' | 'ipv6' } {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  if (isIP(bare) === 4) return { address: bare, type: 'ipv4' };
  const v4 = toV4(bare);
  return v4 !== undefined && isIP(v4) === 4 ? { address: v4, type: 'ipv4' } : { address: bare, type: 'ipv6' };
}

/** The IPv4 address an IPv6 address of a translation range carries, where it has one at a fixed place. */
function embeddedV4(v6: ipaddr.IPv6, range: string): string | undefined {
  const p = v6.parts;
  const v4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  // 2002:AABB:CCDD::/48 carries AA.BB.CC.DD (RFC 3056).
  if (range === '6to4') return v4(p[1] ?? 0, p[2] ?? 0);
  // The well-known NAT64 prefix 64:ff9b::/96 carries the address in its last 32 bits (RFC 6052).
  if (range === 'rfc6052' && p[0] === 0x64 && p[1] === 0xff9b && p.slice(2, 6).every((x) => x === 0)) return v4(p[6] ?? 0, p[7] ?? 0);
  return undefined;
}

/** The name of the refused range `address` is in, or undefined for a public address. */
export function refusedRange(address: string): string | undefined {
  const { address: a } = canonical(address);
  if (!ipaddr.isValid(a)) return 'invalid';
  const parsed = ipaddr.parse(a);
  const range = parsed.range();
  if (range === 'unicast') return undefined;
  const label = RANGE_LABELS[range] ?? range;
  if (parsed.kind() === 'ipv6') {
    // A translation of a public IPv4 address reaches that public address: checked as it.
    const inner = embeddedV4(parsed as ipaddr.IPv6, range);
    if (inner !== undefined) {
      const innerRange = refusedRange(inner);
      return innerRange === undefined ? undefined : `${label}-embedded ${innerRange}`;
    }
  }
  return label;
}

/** OUTBOUND_ALLOW, parsed: exact host names and address ranges let through. */
export interface OutboundAllow {
  hosts: ReadonlySet<string>;
  ranges: readonly BlockList[];
}

/** Parses OUTBOUND_ALLOW entries (host names, IPs, CIDRs); throws on a malformed range. */
export function parseOutboundAllow(entries: readonly string[]): OutboundAllow {
  const hosts = new Set<string>();
  const ranges: BlockList[] = [];
  for (const raw of entries) {
    const entry = raw.trim().toLowerCase().replace(/^\[|\]$/g, '');
    if (entry === '') continue;
    if (entry.includes('/') || isIP(entry) !== 0) ranges.push(cidrList(entry));
    else hosts.add(entry.replace(/\.$/, ''));
  }
  return { hosts, ranges };
}

function allowedAddress(address: string, allow: OutboundAllow): boolean {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const { address: a, type } = canonical(bare);
  // A mapped address matches a range written either way (127.0.0.0/8 or ::ffff:127.0.0.0/104).
  return allow.ranges.some((r) => r.check(a, type) || (type === 'ipv4' && isIP(bare) === 6 && r.check(bare, 'ipv6')));
}

/** Why `address` may not be called, or undefined when it may. */
export function addressProblem(address: string, allow: OutboundAllow): string | undefined {
  if (allowedAddress(address, allow)) return undefined;
  const range = refusedRange(address);
  return range === undefined ? undefined : `${address} is a ${range} address`;
}

/** Thrown when a destination is refused; callers turn it into their own AppError. */
export class OutboundRefusedError extends Error {
  override readonly name = 'OutboundRefusedError';
  readonly code = 'OUTBOUND_REFUSED';
}

type Resolve = (host: string) => Promise<LookupAddress[]>;

const resolveAll: Resolve = (host) =>
  new Promise((resolve, reject) => {
    dnsLookup(host, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses)));
  });

function hostOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '').toLowerCase().replace(/\.$/, '');
}

/**
 * Resolves the URL's host (every address) and throws OutboundRefusedError when
 * any of them is in a refused range and not in OUTBOUND_ALLOW. A host named in
 * OUTBOUND_ALLOW is not resolved at all. DNS failures are thrown as they are.
 * Returns the addresses checked.
 */
export async function checkOutboundUrl(url: URL, allow: OutboundAllow, resolve: Resolve = resolveAll): Promise<LookupAddress[]> {
  const host = hostOf(url);
  if (allow.hosts.has(host)) return [];
  const family = isIP(host);
  const addresses = family !== 0 ? [{ address: host, family }] : await resolve(host);
  for (const a of addresses) {
    const problem = addressProblem(a.address, allow);
    if (problem !== undefined) {
      const via = family !== 0 ? '' : `${host} resolves to `;
      throw new OutboundRefusedError(`${via}${problem}; hark calls only public addresses unless OUTBOUND_ALLOW names the host or range`);
    }
  }
  return addresses;
}

/**
 * A `lookup` for node:http(s) that refuses what checkOutboundUrl refuses, so
 * the address checked is the address connected to (no window for the name to
 * be re-pointed between the check and the connection). `host` is the URL's
 * host: a name in OUTBOUND_ALLOW is resolved normally.
 */
export function guardedLookup(allow: OutboundAllow): LookupFunction {
  return (hostname, options, callback) => {
    const host = hostname.toLowerCase().replace(/\.$/, '');
    dnsLookup(hostname, { ...options, all: true, verbatim: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      if (!allow.hosts.has(host)) {
        const bad = addresses.map((a) => addressProblem(a.address, allow)).find((p) => p !== undefined);
        if (bad !== undefined) {
          return callback(new OutboundRefusedError(`${hostname} resolves to ${bad}; refused (OUTBOUND_ALLOW)`) as NodeJS.ErrnoException, '', 0);
        }
      }
      // http's own connect (autoSelectFamily) asks for every address; plain connects ask for one.
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      const first = addresses[0];
      if (first === undefined) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', 0);
      return callback(null, first.address, first.family);
    });
  };
}

/**
 * A dispatcher for `fetch(url, { dispatcher })` whose every connection resolves
 * its host through guardedLookup: the engines' calls (UPSTREAM_BASE_URL,
 * AZURE_SPEECH_ENDPOINT) are checked at each connection, not only at load, so a
 * name re-pointed at an internal address later is refused too. IP literals are
 * not looked up; checkOutboundUrl refuses those once, at load, for good.
 */
export function guardedDispatcher(allow: OutboundAllow): Agent {
  return new Agent({ connect: { lookup: guardedLookup(allow) } });
}
