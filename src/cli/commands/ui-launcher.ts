/**
 * `codemode ui --open` without the token on a command line: the browser is
 * given a file:// page (in a fresh 0700 directory, the file 0600) that
 * redirects to the tokened address, so `ps` shows only the file's path.
 * The page is deleted when the workbench stops.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export interface LauncherPage {
  /** file:// address of the page: safe to pass on a command line. */
  url: string;
  remove(): void;
}

export function writeLauncherPage(target: string, dir = os.tmpdir()): LauncherPage {
  const folder = mkdtempSync(path.join(dir, 'codemode-ui-'));
  const file = path.join(folder, 'open.html');
  const quoted = JSON.stringify(target).replace(/</g, '\\u003c');
  writeFileSync(
    file,
    '<!doctype html><meta charset="utf-8"><meta name="referrer" content="no-referrer"><title>codemode</title>' +
      `<script>location.replace(${quoted});</script>` +
      '<p>Opening the codemode workbench…</p>\n',
    { mode: 0o600 },
  );
  return { url: pathToFileURL(file).href, remove: () => rmSync(folder, { recursive: true, force: true }) };
}
