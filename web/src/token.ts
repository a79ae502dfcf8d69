/**
 * The bearer token: taken from the URL fragment (#token=...) once, then removed
 * from the address bar so it does not linger in history or get shared in a
 * copied link; kept in sessionStorage (this tab only) afterwards.
 */
const KEY = 'codemode.token';

export function takeToken(
  loc: Location = location,
  hist: History = history,
  store: Storage = sessionStorage,
): string | null {
  const params = new URLSearchParams(loc.hash.replace(/^#/, ''));
  const fromHash = params.get('token');
  if (fromHash) {
    store.setItem(KEY, fromHash);
    params.delete('token');
    const rest = params.toString();
    hist.replaceState(null, '', loc.pathname + loc.search + (rest ? `#${rest}` : ''));
    return fromHash;
  }
  return store.getItem(KEY);
}

export function saveToken(token: string, store: Storage = sessionStorage): void {
  store.setItem(KEY, token);
}

export function forgetToken(store: Storage = sessionStorage): void {
  store.removeItem(KEY);
}
