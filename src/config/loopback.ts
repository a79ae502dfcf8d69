/**
 * The one loopback test (pure): which bind addresses and host names reach only
 * this machine. Literals only, never a name that merely looks like one: a
 * 127.0.0.0/8 dotted quad, ::1, or "localhost". "127.evil.com" is not loopback.
 */

const OCTET = /^(0|[1-9]\d{0,2})$/;

/** Whether `host` (optionally in [brackets]) is a loopback literal or "localhost". */
export function isLoopback(host: string): boolean {
  const h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (h.toLowerCase() === 'localhost') return true;
  if (isIpv6Loopback(h)) return true;
  const parts = h.split('.');
  return parts.length === 4 && parts[0] === '127' && parts.every((p) => OCTET.test(p) && Number(p) <= 255);
}

/** ::1 in any of its spellings (0:0:0:0:0:0:0:1, 0::1, ...), and nothing else. */
function isIpv6Loopback(h: string): boolean {
  if (!/^[0-9a-f:]+$/i.test(h) || !h.includes(':')) return false;
  const halves = h.split('::');
  if (halves.length > 2) return false;
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const head = groups(halves[0] ?? '');
  const tail = halves.length === 2 ? groups(halves[1] ?? '') : [];
  const all =
    halves.length === 2 ? [...head, ...Array<string>(8 - head.length - tail.length).fill('0'), ...tail] : head;
  if (all.length !== 8 || all.some((g) => !/^[0-9a-f]{1,4}$/i.test(g))) return false;
  return all.slice(0, 7).every((g) => Number.parseInt(g, 16) === 0) && Number.parseInt(all[7]!, 16) === 1;
}
