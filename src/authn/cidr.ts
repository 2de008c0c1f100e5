/**
 * IP addresses and CIDR ranges as Conjur writes them (`192.168.1.1` → `192.168.1.1/32`),
 * parsed and matched with ipaddr.js (docs/adr/0015-conjur-api-rest.md). One parser serves
 * `restricted_to`, host factory token `cidr`, and `--trusted-proxies`, so all three accept
 * and refuse the same strings.
 */
import ipaddr from "ipaddr.js";

export type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** Longest string we try to read as an address (an IPv6 CIDR is at most ~50 characters). */
const MAX_CIDR_CHARS = 64;

/** An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`, what Node reports on a dual-stack socket) as IPv4. */
export function parseAddress(text: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  if (text.length > MAX_CIDR_CHARS || text.includes("%")) return undefined;
  // Dotted quads only: ipaddr.js would also read classful and hex forms (`10.1`, `0x0a.0.0.1`), Ruby's IPAddr does not.
  const valid = text.includes(":") ? ipaddr.IPv6.isValid(text) : ipaddr.IPv4.isValidFourPartDecimal(text);
  if (!valid) return undefined;
  const address = ipaddr.parse(text);
  if (address.kind() === "ipv6" && (address as ipaddr.IPv6).isIPv4MappedAddress())
    return (address as ipaddr.IPv6).toIPv4Address();
  return address;
}

/** The normalised `a.b.c.d/n` form, or Conjur's error message for an invalid entry. */
export function normalizeCidr(text: string): { cidr: string } | { error: string } {
  const invalid = { error: `Invalid IP address or CIDR range '${text.slice(0, MAX_CIDR_CHARS)}'` };
  if (text.length > MAX_CIDR_CHARS) return invalid;
  const slash = text.indexOf("/");
  const address = parseAddress(slash < 0 ? text : text.slice(0, slash));
  if (!address) return invalid;
  const maxBits = address.kind() === "ipv4" ? 32 : 128;
  let bits = maxBits;
  if (slash >= 0) {
    const suffix = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(suffix) || Number(suffix) > maxBits) return invalid;
    bits = Number(suffix);
  }
  const network = networkOf(address, bits);
  const written = address.kind() === "ipv6" ? (address as ipaddr.IPv6).toRFC5952String() : address.toString();
  const normal = address.kind() === "ipv6" ? (network as ipaddr.IPv6).toRFC5952String() : network.toString();
  if (normal !== written)
    return { error: `${invalid.error}: Value has bits set to right of mask. Did you mean '${normal}/${bits}'?` };
  return { cidr: `${normal}/${bits}` };
}

function networkOf(address: ipaddr.IPv4 | ipaddr.IPv6, bits: number): ipaddr.IPv4 | ipaddr.IPv6 {
  const bytes = address.toByteArray();
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    bytes[i] = bytes[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return ipaddr.fromByteArray(bytes);
}

/** Parses stored (already normalised) CIDRs; an unreadable entry matches nothing. */
export function parseCidrs(cidrs: readonly string[]): Cidr[] {
  return cidrs.flatMap((c): Cidr[] => {
    const slash = c.indexOf("/");
    const address = parseAddress(slash < 0 ? c : c.slice(0, slash));
    return address ? [[address, slash < 0 ? (address.kind() === "ipv4" ? 32 : 128) : Number(c.slice(slash + 1))]] : [];
  });
}

export function addressInAny(address: string, cidrs: readonly Cidr[]): boolean {
  const parsed = parseAddress(address);
  if (!parsed) return false;
  return cidrs.some(([network, bits]) => network.kind() === parsed.kind() && parsed.match(network, bits));
}
