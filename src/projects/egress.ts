/**
 * Egress policies (settings `network.policies.<name>`): which host:port pairs
 * a session may reach through the host's proxy, and the byte and request caps.
 * Pure: validation and the allow decision. The proxy is egress-proxy.ts.
 */

export interface NetworkPolicy {
  /** "host:port" entries; a host may start with "*." to allow its subdomains (not the bare domain). */
  allow: string[];
  /** Bytes both ways over the session's life, at most. */
  maxBytes: number;
  /** Connections (CONNECT tunnels or forwarded requests) over the session's life, at most. */
  maxRequests: number;
}

const ENTRY = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,62})?(\.[a-z0-9]([a-z0-9-]{0,62})?)*|\[[0-9a-f:.]+\]):([0-9]{1,5})$/;
const POLICY_NAME = /^[a-z][a-z0-9-]{0,39}$/;

/** Problems with the settings `network.policies` map, each naming its key. */
export function policiesSettingProblems(value: unknown): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return ['network.policies must map policy names to {allow, maxBytes, maxRequests}'];
  const out: string[] = [];
  for (const [name, p] of Object.entries(value)) {
    const where = `network.policies.${name}`;
    if (!POLICY_NAME.test(name)) out.push(`${where}: a policy name is lowercase letters, digits and dashes`);
    if (typeof p !== 'object' || p === null || Array.isArray(p)) {
      out.push(`${where} must be an object {allow, maxBytes, maxRequests}`);
      continue;
    }
    const v = p as Record<string, unknown>;
    for (const k of Object.keys(v))
      if (!['allow', 'maxBytes', 'maxRequests'].includes(k))
        out.push(`${where}.${k} is not a policy key (allow, maxBytes, maxRequests)`);
    if (!Array.isArray(v.allow) || !v.allow.every((e) => typeof e === 'string' && validEntry(e)))
      out.push(
        `${where}.allow must be an array of "host:port" (lowercase host, port 1-65535; "*.example.com:443" for subdomains)`,
      );
    for (const k of ['maxBytes', 'maxRequests'] as const) {
      const n = v[k];
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) out.push(`${where}.${k} must be a positive integer`);
    }
  }
  return out;
}

function validEntry(e: string): boolean {
  const m = ENTRY.exec(e);
  if (!m) return false;
  const port = Number(m[6]);
  return port >= 1 && port <= 65535;
}

/** Whether the policy lets a connection to host:port through. The host is compared lowercased, without a trailing dot. */
export function allowed(policy: Pick<NetworkPolicy, 'allow'>, host: string, port: number): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  for (const entry of policy.allow) {
    const i = entry.lastIndexOf(':');
    if (Number(entry.slice(i + 1)) !== port) continue;
    const pattern = entry.slice(0, i);
    if (pattern.startsWith('*.') ? h.endsWith(pattern.slice(1)) && h.length > pattern.length - 1 : h === pattern)
      return true;
  }
  return false;
}

/**
 * The target of a proxy request line: CONNECT's authority ("host:port"), or an
 * absolute http:// URL (port 80 by default). Null when it is neither.
 */
export function proxyTarget(method: string, target: string): { host: string; port: number; path: string } | null {
  if (method === 'CONNECT') {
    const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/.exec(target);
    if (!m) return null;
    const port = Number(m[2]);
    return port >= 1 && port <= 65535 ? { host: m[1]!.toLowerCase(), port, path: '' } : null;
  }
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' || url.username || url.password) return null;
  const port = url.port === '' ? 80 : Number(url.port);
  return { host: url.hostname.toLowerCase(), port, path: `${url.pathname}${url.search}` };
}
