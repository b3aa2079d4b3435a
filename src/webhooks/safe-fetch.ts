/**
 * Calling out to a URL an administrator typed, without letting it reach the
 * desk's own network (SSRF): https only; the name resolved here, every
 * address it resolves to checked, and the connection made to the checked
 * address (pinned), so a name that answers differently the second time
 * (DNS rebinding) cannot pass; no redirect followed; a short timeout; the
 * answer's body read up to a cap and discarded.
 *
 * WEBHOOKS_ALLOW_LOOPBACK (tests) lets plain http and loopback addresses
 * through, never private, link-local or metadata ones.
 */
import { promises as dns } from "node:dns";
import http from "node:http";
import https from "node:https";
import net from "node:net";

export const TIMEOUT_MS = 10_000;
export const MAX_BODY_BYTES = 64 * 1024;

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a host name to every address it has (tests pass their own). */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export const systemResolver: Resolver = async (hostname) => {
  const answers = await dns.lookup(hostname, { all: true, verbatim: true });
  return answers.map((a) => ({
    address: a.address,
    family: a.family === 6 ? 6 : 4,
  }));
};

export class CalloutRefused extends Error {}

/** A resolver that gives up after `ms` (the system's may wait far longer). */
export function withTimeout(resolve: Resolver, ms: number): Resolver {
  return (hostname) =>
    new Promise((ok, fail) => {
      const timer = setTimeout(
        () =>
          fail(Object.assign(new Error("DNS timeout"), { code: "ETIMEOUT" })),
        ms,
      );
      resolve(hostname).then(
        (answers) => {
          clearTimeout(timer);
          ok(answers);
        },
        (err: unknown) => {
          clearTimeout(timer);
          fail(err);
        },
      );
    });
}

type AddressClass =
  | "loopback"
  | "private"
  | "shared (carrier-grade NAT)"
  | "link-local"
  | "unspecified"
  | "multicast"
  | "reserved";

/** IPv4 ranges no webhook may reach, most specific first. */
const V4_RANGES: [string, number, AddressClass][] = [
  ["0.0.0.0", 8, "unspecified"],
  ["127.0.0.0", 8, "loopback"],
  ["10.0.0.0", 8, "private"],
  ["172.16.0.0", 12, "private"],
  ["192.168.0.0", 16, "private"],
  ["100.64.0.0", 10, "shared (carrier-grade NAT)"],
  // The cloud metadata service (169.254.169.254) lives here.
  ["169.254.0.0", 16, "link-local"],
  ["192.0.0.0", 24, "reserved"],
  ["192.0.2.0", 24, "reserved"],
  ["198.18.0.0", 15, "reserved"],
  ["198.51.100.0", 24, "reserved"],
  ["203.0.113.0", 24, "reserved"],
  ["224.0.0.0", 4, "multicast"],
  ["240.0.0.0", 4, "reserved"],
];

function v4Number(ip: string): number {
  return ip.split(".").reduce((n, part) => n * 256 + Number(part), 0);
}

function v4Class(ip: string): AddressClass | null {
  const n = v4Number(ip);
  for (const [base, bits, cls] of V4_RANGES) {
    const size = 2 ** (32 - bits);
    const start = v4Number(base);
    if (n >= start && n < start + size) return cls;
  }
  return null;
}

/** The 16 bytes of an IPv6 address (with or without an embedded IPv4 tail). */
export function ipv6Bytes(ip: string): number[] {
  let text = ip.replace(/%.*$/, "");
  const tail: number[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const n = v4Number(v4[1]!);
    text = text.slice(0, -v4[1]!.length) + "0:0";
    tail.push((n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);
  }
  const [head, rest] = text.includes("::") ? text.split("::") : [text, null];
  const groups = (s: string | undefined) =>
    s ? s.split(":").filter((g) => g !== "") : [];
  const left = groups(head);
  const right = rest === null ? [] : groups(rest);
  const fill = 8 - left.length - right.length;
  const all = [
    ...left,
    ...Array<string>(Math.max(0, fill)).fill("0"),
    ...right,
  ];
  const bytes: number[] = [];
  for (const g of all) {
    const v = parseInt(g, 16);
    bytes.push((v >> 8) & 255, v & 255);
  }
  if (tail.length) bytes.splice(12, 4, ...tail);
  return bytes;
}

function startsWith(bytes: number[], prefix: number[], bits: number) {
  for (let i = 0; i < bits; i++) {
    const byte = i >> 3;
    const mask = 0x80 >> (i & 7);
    if ((bytes[byte]! & mask) !== (prefix[byte]! & mask)) return false;
  }
  return true;
}

function v6Class(ip: string): AddressClass | null {
  const b = ipv6Bytes(ip);
  const embeddedV4 = () => b.slice(12, 16).join(".");
  if (b.every((x) => x === 0)) return "unspecified";
  if (b.slice(0, 15).every((x) => x === 0) && b[15] === 1) return "loopback";
  // IPv4-mapped (::ffff:a.b.c.d) and NAT64 (64:ff9b::a.b.c.d): judged as
  // the IPv4 address they stand for.
  if (
    startsWith(b, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff], 96) ||
    startsWith(b, [0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0], 96)
  )
    return v4Class(embeddedV4()) ?? null;
  if (startsWith(b, [0xfc], 7)) return "private";
  if (startsWith(b, [0xfe, 0xc0], 10)) return "private";
  if (startsWith(b, [0xfe, 0x80], 10)) return "link-local";
  if (startsWith(b, [0xff], 8)) return "multicast";
  // Documentation, Teredo and 6to4 (which carry an IPv4 address of their own).
  if (startsWith(b, [0x20, 0x01, 0x0d, 0xb8], 32)) return "reserved";
  if (startsWith(b, [0x20, 0x01, 0, 0], 32)) return "reserved";
  if (startsWith(b, [0x20, 0x02], 16)) return "reserved";
  // Only global unicast (2000::/3) is reachable.
  if (!startsWith(b, [0x20], 3)) return "reserved";
  return null;
}

/**
 * Why the desk will not call this address, or null when it may: loopback
 * only where WEBHOOKS_ALLOW_LOOPBACK says so; private, shared, link-local
 * (the metadata service), unspecified, multicast and reserved never.
 */
export function addressRefusal(
  ip: string,
  allowLoopback: boolean,
): string | null {
  const family = net.isIP(ip);
  if (family === 0) return `${ip} is not an IP address`;
  const cls = family === 4 ? v4Class(ip) : v6Class(ip);
  if (cls === null) return null;
  if (cls === "loopback" && allowLoopback) return null;
  return `${ip} is a ${cls} address`;
}

/**
 * What the URL itself may be, before any name is resolved: an absolute
 * https URL (http only with loopback allowed), no user name or password in
 * it, and no literal address the desk would refuse. Null: acceptable.
 */
export function urlRefusal(raw: string, allowLoopback: boolean): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "Enter a full URL, like https://hooks.example.org/disclosure-desk.";
  }
  if (url.protocol !== "https:" && !(allowLoopback && url.protocol === "http:"))
    return "The URL must start with https:// (deliveries are only made over TLS).";
  if (url.username || url.password)
    return "Leave the user name and password out of the URL; the deliveries are signed instead.";
  if (url.hash) return "Leave the #fragment out of the URL.";
  const host = hostOf(url);
  if (!host) return "The URL has no host name.";
  if (net.isIP(host)) {
    const refused = addressRefusal(host, allowLoopback);
    if (refused) return `The URL may not point at this address: ${refused}.`;
  } else if (
    !allowLoopback &&
    (host === "localhost" || host.endsWith(".localhost"))
  )
    return "The URL may not point at this machine (localhost).";
  return null;
}

/** The URL's host, an IPv6 literal without its brackets. */
function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, "$1");
}

/** Resolves and checks: every address the name has must be acceptable. */
export async function checkedAddress(
  host: string,
  allowLoopback: boolean,
  resolve: Resolver,
): Promise<ResolvedAddress> {
  const family = net.isIP(host);
  const answers: ResolvedAddress[] =
    family !== 0
      ? [{ address: host, family: family as 4 | 6 }]
      : await resolve(host).catch((err: unknown) => {
          throw new CalloutRefused(
            `${host} could not be resolved (${(err as { code?: string }).code ?? String(err)})`,
          );
        });
  if (answers.length === 0) throw new CalloutRefused(`${host} has no address`);
  for (const a of answers) {
    const refused = addressRefusal(a.address, allowLoopback);
    // Any bad answer refuses the name: which one a client picks is not ours to guess.
    if (refused)
      throw new CalloutRefused(`refused: ${host} resolves to ${refused}`);
  }
  return answers[0]!;
}

export interface CalloutResult {
  status: number;
  /** The connection went to this address, the one checked. */
  address: string;
  /** How much of the answer's body was read (and discarded): about the cap at most. */
  bodyBytes: number;
}

export interface CalloutOptions {
  allowLoopback: boolean;
  resolve?: Resolver;
  timeoutMs?: number;
  maxBodyBytes?: number;
}

/**
 * POSTs a body to a URL under the rules above. Resolves with the status of
 * any answer (a 3xx is an answer, not followed); rejects with
 * CalloutRefused before connecting to a refused address, or with the
 * network's error (timeout, reset, TLS).
 */
export async function safePost(
  rawUrl: string,
  body: string,
  headers: Record<string, string>,
  options: CalloutOptions,
): Promise<CalloutResult> {
  const refused = urlRefusal(rawUrl, options.allowLoopback);
  if (refused) throw new CalloutRefused(refused);
  const url = new URL(rawUrl);
  const host = hostOf(url);
  const timeoutMs = options.timeoutMs ?? TIMEOUT_MS;
  const pinned = await checkedAddress(
    host,
    options.allowLoopback,
    withTimeout(options.resolve ?? systemResolver, timeoutMs),
  );
  const cap = options.maxBodyBytes ?? MAX_BODY_BYTES;
  const client = url.protocol === "https:" ? https : http;
  return new Promise<CalloutResult>((resolve, reject) => {
    let settled = false;
    let read = 0;
    const done = (err: Error | null, status?: number) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else
        resolve({ status: status!, address: pinned.address, bodyBytes: read });
    };
    const req = client.request(
      {
        method: "POST",
        protocol: url.protocol,
        host,
        port: url.port || undefined,
        path: `${url.pathname}${url.search}`,
        headers: {
          ...headers,
          "content-type": "application/json",
          "content-length": String(Buffer.byteLength(body)),
          "user-agent": "DisclosureDesk-Webhooks/1",
        },
        // The connection goes to the address checked above, whatever the
        // name would answer now; TLS still checks the certificate's name.
        lookup: (_hostname, opts, callback) => {
          if ((opts as { all?: boolean }).all)
            (callback as (e: null, a: ResolvedAddress[]) => void)(null, [
              pinned,
            ]);
          else callback(null, pinned.address, pinned.family);
        },
        ...(net.isIP(host) === 0 && { servername: host }),
        // A fresh connection each time: no socket pinned to another address.
        agent: false,
      },
      (res) => {
        const status = res.statusCode ?? 0;
        res.on("data", (chunk: Buffer) => {
          read += chunk.length;
          // Enough: the status is what counts, the rest is not read.
          if (read > cap) {
            res.destroy();
            done(null, status);
          }
        });
        res.on("end", () => done(null, status));
        res.on("error", (err) => done(err));
        res.on("close", () => done(null, status));
      },
    );
    const timer = setTimeout(() => {
      req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    req.on("error", (err) => done(err));
    req.end(body);
  });
}
