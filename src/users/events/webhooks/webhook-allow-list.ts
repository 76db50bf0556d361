import { BlockList, isIP } from 'node:net';

// Addresses a webhook must not reach unless they are listed: loopback, private, carrier-grade
// NAT, link-local (cloud metadata services), unique-local, site-local, unspecified, multicast,
// reserved, and the IPv6 forms that carry an IPv4 address (mapped, compatible, NAT64, Teredo,
// 6to4: any of them could smuggle an internal IPv4 address past a v6-only check).
const INTERNAL = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  INTERNAL.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 96], // the unspecified and loopback addresses, and IPv4-compatible ones (::a.b.c.d)
  ['::ffff:0:0', 96],
  ['64:ff9b::', 96], // NAT64: an IPv4 address behind a translator
  ['64:ff9b:1::', 48],
  ['2001::', 32], // Teredo: an IPv4 address inside
  ['2002::', 16], // 6to4: likewise
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10], // site-local (deprecated, still routed on some networks)
  ['ff00::', 8],
] as const) {
  INTERNAL.addSubnet(network, prefix, 'ipv6');
}

const HOST_NAME = /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

// Which webhook targets may be called (events.webhooks.allowedHosts): exact host names,
// `*.example.com` for any host under example.com (not example.com itself), and IP addresses or
// CIDRs. A host name resolving to an internal address is refused at delivery unless that host
// name or address is listed exactly (a suffix pattern never opens internal addresses).
export class WebhookAllowList {
  private readonly hosts = new Set<string>();
  private readonly suffixes: string[] = [];
  private readonly addresses = new BlockList();

  constructor(entries: readonly string[]) {
    for (const raw of entries) {
      const entry = raw.trim().toLowerCase().replace(/\.$/, '');
      const refusal = WebhookAllowList.entryIssue(entry);
      if (refusal) throw new Error(refusal);
      const [address, prefix] = unbracket(entry).split('/');
      const family = isIP(address);
      if (family !== 0) {
        const type = family === 4 ? 'ipv4' : 'ipv6';
        if (prefix === undefined) this.addresses.addAddress(address, type);
        else this.addresses.addSubnet(address, Number(prefix), type);
      } else if (entry.startsWith('*.')) {
        this.suffixes.push(entry.slice(1));
      } else {
        this.hosts.add(entry);
      }
    }
  }

  // Why an allow-list entry is not one, or undefined.
  static entryIssue(entry: string): string | undefined {
    const [address, prefix, extra] = unbracket(entry.trim().toLowerCase()).split('/');
    const family = isIP(address);
    if (family !== 0) {
      const max = family === 4 ? 32 : 128;
      if (extra !== undefined || (prefix !== undefined && (!/^\d{1,3}$/.test(prefix) || Number(prefix) > max))) return `${JSON.stringify(entry)} is not a valid CIDR`;
      return undefined;
    }
    const name = entry.trim().toLowerCase().replace(/\.$/, '');
    if (!HOST_NAME.test(name.startsWith('*.') ? name.slice(2) : name)) return `${JSON.stringify(entry)} is neither a host name, a *.suffix pattern, an IP address nor a CIDR`;
    return undefined;
  }

  // Why a subscription may not have this URL, or undefined: it must be http(s), without
  // credentials, to an allowed host.
  urlIssue(url: string): string | undefined {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return 'must be an absolute http or https URL';
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return 'must be an http or https URL';
    if (parsed.username !== '' || parsed.password !== '') return 'must not carry credentials';
    if (!this.allowsHost(parsed.hostname)) return `host ${parsed.hostname} is not in the webhook allow-list (events.webhooks.allowedHosts)`;
    return undefined;
  }

  // Whether the URL's host (a name, or an IP literal) is listed.
  allowsHost(hostname: string): boolean {
    const host = normalHost(hostname);
    const family = isIP(host);
    if (family !== 0) return this.addresses.check(host, family === 4 ? 'ipv4' : 'ipv6');
    return this.hosts.has(host) || this.suffixes.some((suffix) => host.endsWith(suffix));
  }

  // Why a resolved address of an allowed host must not be called, or undefined.
  addressIssue(hostname: string, address: string): string | undefined {
    const family = isIP(address);
    if (family === 0) return `${address} is not an IP address`;
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (!INTERNAL.check(address, type)) return undefined;
    if (this.addresses.check(address, type) || this.hosts.has(normalHost(hostname))) return undefined;
    return `${hostname} resolves to the internal address ${address}, which is not in the webhook allow-list`;
  }
}

function unbracket(value: string): string {
  return value.replace(/^\[(.*)\](\/\d+)?$/, '$1$2');
}

function normalHost(hostname: string): string {
  return unbracket(hostname.toLowerCase()).replace(/\.$/, '');
}
