/**
 * A list of IP addresses and CIDRs (apps[].allow_ips, listen.trusted_proxies), and the one
 * normalization of client addresses both use: an IPv4 client seen through an IPv6 socket
 * (`::ffff:10.1.2.3`, or uWS's expanded `0000:…:ffff:0a01:0203`) is matched as IPv4, so that an
 * IPv4 rule never misses it.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';

export class AddressList {
  private readonly list = new BlockList();

  /** Throws on an entry that is not an address or CIDR; `key` names the config key in the message. */
  constructor(entries: readonly string[], key: string) {
    for (const entry of entries) {
      const [address = '', prefix, extra] = entry.split('/');
      const type = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : undefined;
      const bits = prefix === undefined ? undefined : /^[0-9]{1,3}$/.test(prefix) ? Number(prefix) : NaN;
      if (!type || extra !== undefined || (bits !== undefined && !(bits <= (type === 'ipv4' ? 32 : 128)))) {
        throw Object.assign(new Error(`${key}: "${entry}" is not an IP address or CIDR`), { code: 'CONFIG_INVALID' });
      }
      if (bits === undefined) this.list.addAddress(address, type);
      else this.list.addSubnet(address, bits, type);
    }
  }

  /** False for anything that is not an IP address. */
  has(ip: string): boolean {
    const address = normalizeIp(ip);
    if (isIPv4(address)) return this.list.check(address, 'ipv4');
    if (isIPv6(address)) return this.list.check(address, 'ipv6');
    return false;
  }
}

/** IPv4-mapped IPv6 → IPv4; anything else unchanged. */
export function normalizeIp(ip: string): string {
  if (ip.startsWith('::ffff:') && isIPv4(ip.slice(7))) return ip.slice(7);
  // uWS prints IPv6 peers fully expanded: 0000:0000:0000:0000:0000:ffff:7f00:0001.
  const mapped = /^(?:0{1,4}:){5}ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(ip);
  if (mapped) {
    const hi = parseInt(mapped[1]!, 16);
    const lo = parseInt(mapped[2]!, 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return ip;
}
