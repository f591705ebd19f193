/**
 * listen.trusted_proxies: behind a reverse proxy every request comes from the proxy's address, so
 * apps[].allow_ips and listen.rate_limit would see one client. When — and only when — the TCP peer
 * is a trusted proxy, the client is taken from X-Forwarded-For: the rightmost hop that is not itself
 * a trusted proxy (each proxy appends the address it received the request from, so everything left
 * of the first untrusted hop may have been written by the client and is ignored). This is nginx's
 * `real_ip_recursive on`. A peer that is not trusted is the client, whatever headers it sends.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { AddressList, normalizeIp } from './address-list.js';

/** A forwarded hop that is not an IP address: it fails allow_ips and shares one rate-limit bucket. */
export const UNKNOWN_CLIENT = 'unknown';

/** At most this many hops are examined (a header of thousands of hops costs nothing more). */
const MAX_HOPS = 32;

export class TrustedProxies {
  private readonly list: AddressList;

  constructor(entries: readonly string[]) {
    this.list = new AddressList(entries, 'listen.trusted_proxies');
  }

  trusts(peer: string): boolean {
    return this.list.has(peer);
  }

  /**
   * The client address for a request from `peer` with these X-Forwarded-For values (all header
   * lines, in order; undefined or empty when there are none).
   */
  clientOf(peer: string, forwardedFor: readonly string[] | undefined): string {
    if (!forwardedFor || forwardedFor.length === 0 || !this.list.has(peer)) return normalizeIp(peer);
    const hops = forwardedFor.join(',').split(',');
    let client = normalizeIp(peer);
    for (let i = hops.length - 1, seen = 0; i >= 0 && seen < MAX_HOPS; i--) {
      const raw = hops[i]!.trim();
      if (raw === '') continue;
      seen++;
      const hop = hopAddress(raw);
      if (hop === undefined) return UNKNOWN_CLIENT;
      client = hop;
      if (!this.list.has(hop)) return hop;
    }
    // Every hop is a trusted proxy: the leftmost one is as close to the client as we can tell.
    return client;
  }
}

/** `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]:443` → the address; else undefined. */
function hopAddress(hop: string): string | undefined {
  if (isIPv4(hop) || isIPv6(hop)) return normalizeIp(hop);
  const bracketed = /^\[([^\]]+)\](?::[0-9]{1,5})?$/.exec(hop);
  if (bracketed && isIPv6(bracketed[1]!)) return normalizeIp(bracketed[1]!);
  const withPort = /^([0-9.]+):[0-9]{1,5}$/.exec(hop);
  if (withPort && isIPv4(withPort[1]!)) return withPort[1]!;
  return undefined;
}
