/**
 * The I/O edge of settings: find and read the settings files, pick the state
 * directory, and hand everything to the pure resolveSettings.
 *
 * Files, lowest precedence first: the user's own ($XDG_CONFIG_HOME/codemode/
 * config.json or ~/.config/codemode/config.json, trusted), then the one named
 * by --settings / CODEMODE_SETTINGS (trusted: the user chose it) or else
 * ./codemode.json when present (untrusted: it may come from a cloned repository).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { AppError } from '../errors.js';
import { resolveSettings, type DeepPartial, type Settings, type SettingsFile } from './settings.js';
import { defaultStateDir, userSettingsFile } from './state-dir.js';

export { defaultStateDir, userSettingsFile } from './state-dir.js';

export const SETTINGS_FILE_NAME = 'codemode.json';

export interface LoadSettingsOptions {
  /** --settings FILE */
  settingsPath?: string;
  env?: NodeJS.ProcessEnv;
  flags?: DeepPartial<Settings>;
  cwd?: string;
  /** The user's home directory (for ~/.config/codemode); default os.homedir(). */
  home?: string;
}

export interface LoadedSettings {
  settings: Settings;
  warnings: string[];
  /** Every settings file read, lowest precedence first. */
  files: { path: string; trusted: boolean }[];
  /** The state directory ($CODEMODE_HOME, ~/.codemode or /var/lib/codemode). */
  stateDir: string;
}

function readSettingsFile(file: string, trusted: boolean): SettingsFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new AppError('INVALID_CONFIG', `cannot read settings file ${file}: ${(e as NodeJS.ErrnoException).code}`);
  }
  try {
    return { path: file, content: JSON.parse(text) as unknown, trusted };
  } catch (e) {
    throw new AppError('INVALID_CONFIG', `settings file ${file} is not valid JSON: ${(e as Error).message}`);
  }
}

export function loadSettings(options: LoadSettingsOptions = {}): LoadedSettings {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const own = userSettingsFile(env, ...(options.home === undefined ? [] : [options.home]));
  const files: SettingsFile[] = [];
  if (existsSync(own)) files.push(readSettingsFile(own, true));
  const explicit = options.settingsPath ?? env.CODEMODE_SETTINGS;
  if (explicit) {
    const named = path.resolve(cwd, explicit);
    if (named !== own) files.push(readSettingsFile(named, true));
  } else {
    const found = path.join(cwd, SETTINGS_FILE_NAME);
    if (found !== own && existsSync(found)) files.push(readSettingsFile(found, false));
  }
  const stateDir = defaultStateDir(env);
  const { settings, errors, warnings } = resolveSettings({
    files,
    userSettingsFile: own,
    env,
    ...(options.flags ? { flags: options.flags } : {}),
    stateDir,
  });
  if (errors.length > 0) {
    throw new AppError('INVALID_CONFIG', `invalid settings:\n- ${errors.join('\n- ')}`, { errors });
  }
  return { settings, warnings, files: files.map((f) => ({ path: f.path, trusted: f.trusted })), stateDir };
}

/**
 * Create the state and workspace directories. The state directory and the
 * database's directory are private (0700) unless the workspaces live inside
 * them: then 0711, which lets the sandbox user reach its workspace without
 * listing anything. A directory is only re-moded when codemode created it or
 * it is the state directory and ours; a --db in /tmp never changes /tmp.
 */
export function ensureStateDirs(settings: Settings, stateDir?: string): void {
  const modeFor = (dir: string) => (isInside(settings.workspaces.root, dir) ? 0o711 : 0o700);
  const prepare = (dir: string) => {
    const created = mkdirSync(dir, { recursive: true, mode: modeFor(dir) });
    const ours = created !== undefined || (stateDir !== undefined && path.resolve(dir) === path.resolve(stateDir));
    if (ours && statSync(dir).uid === process.getuid?.()) chmodSync(dir, modeFor(dir));
  };
  if (stateDir !== undefined) prepare(stateDir);
  mkdirSync(settings.workspaces.root, { recursive: true, mode: 0o711 });
  if (settings.store.enabled) prepare(path.dirname(settings.store.path));
}

function isInside(child: string, parent: string): boolean {
  const rel = path.relative(path.resolve(parent), path.resolve(child));
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}
