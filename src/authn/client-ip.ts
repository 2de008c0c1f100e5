/**
 * The client's address, by Conjur's rule (Rack 2.2 `Request#ip` with Conjur's
 * `IsIpTrusted` filter; conjur-api-second-pass.md §7.3): 127.0.0.1, ::1 and the configured
 * trusted proxies are proxies. A connection from an untrusted address is the client, whatever
 * it sends; from a proxy, the rightmost untrusted `X-Forwarded-For` entry is the client (the
 * first entry when all are trusted). The one answer serves /whoami, audit, policy versions,
 * throttling, `restricted_to` and host factory token CIDRs.
 */
import { addressInAny, parseAddress, parseCidrs, type Cidr } from "./cidr.js";
import { LRUCache } from "lru-cache";

/** Bounds on a hostile header: we read at most this much of it, and only its rightmost entries. */
export const XFF_MAX_CHARS = 4096;
export const XFF_MAX_ENTRIES = 32;

const ALWAYS_TRUSTED = ["127.0.0.1/32", "::1/128"];

/** Peers remembered (a server sees few distinct ones: its clients, proxies, kubelets); least recently used go first. */
const PEERS_REMEMBERED = 1024;

export class ClientIpResolver {
  readonly #trusted: Cidr[];
  /** Socket peer → its canonical form and whether it is a proxy: parsing it is most of a request's address work. */
  readonly #peers = new LRUCache<string, { address: string; trusted: boolean }>({ max: PEERS_REMEMBERED });

  /** `trustedProxies`: normalised CIDRs (config validates them). */
  constructor(trustedProxies: readonly string[] = []) {
    this.#trusted = parseCidrs([...ALWAYS_TRUSTED, ...trustedProxies]);
  }

  isTrusted(address: string): boolean {
    return addressInAny(address, this.#trusted);
  }

  /** `remoteAddress` is the socket's peer; `forwardedFor` the raw header (undefined when absent). */
  resolve(remoteAddress: string | undefined, forwardedFor: string | undefined): string {
    const peer = this.#peer(remoteAddress ?? "");
    const remote = peer.address;
    if (!peer.trusted || !forwardedFor) return remote;
    // Rack splits on commas and whitespace and strips ports; we also skip entries that are not addresses.
    const entries = forwardedFor
      .slice(-XFF_MAX_CHARS)
      .split(/[,\s]+/)
      .slice(-XFF_MAX_ENTRIES)
      .flatMap((entry) => {
        const address = canonical(stripPort(entry));
        return address ? [address] : [];
      });
    if (entries.length === 0) return remote;
    const untrusted = entries.filter((address) => !this.isTrusted(address));
    return untrusted.length > 0 ? untrusted[untrusted.length - 1]! : entries[0]!;
  }

  #peer(remoteAddress: string): { address: string; trusted: boolean } {
    let peer = this.#peers.get(remoteAddress);
    if (!peer) {
      const address = canonical(remoteAddress) ?? remoteAddress;
      peer = { address, trusted: this.isTrusted(address) };
      this.#peers.set(remoteAddress, peer);
    }
    return peer;
  }
}

/** `1.2.3.4:80` → `1.2.3.4`, `[::1]:80` → `::1`; a bare IPv6 address keeps its colons. */
function stripPort(entry: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(entry);
  if (bracketed) return bracketed[1]!;
  const v4WithPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(entry);
  return v4WithPort ? v4WithPort[1]! : entry;
}

/** The address in its usual text form (IPv4-mapped IPv6 as IPv4), or undefined when it is not one. */
function canonical(text: string): string | undefined {
  const address = parseAddress(text);
  if (!address) return undefined;
  return address.kind() === "ipv6"
    ? (address as unknown as { toRFC5952String(): string }).toRFC5952String()
    : address.toString();
}
