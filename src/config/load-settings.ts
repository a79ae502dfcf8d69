/**
 * The I/O edge of settings: find and read the settings file, pick the state
 * directory, and hand everything to the pure resolveSettings.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AppError } from '../errors.js';
import { resolveSettings, type DeepPartial, type Settings } from './settings.js';

export const SETTINGS_FILE_NAME = 'codemode.json';

export interface LoadSettingsOptions {
  /** --settings FILE */
  settingsPath?: string;
  env?: NodeJS.ProcessEnv;
  flags?: DeepPartial<Settings>;
  cwd?: string;
}

/**
 * Where codemode keeps its database and workspaces. Root uses /var/lib/codemode
 * because the sandbox user (uid 65534) must be able to reach the workspaces,
 * and /root is closed to it.
 */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CODEMODE_HOME) return path.resolve(env.CODEMODE_HOME);
  return process.getuid?.() === 0 ? '/var/lib/codemode' : path.join(os.homedir(), '.codemode');
}

export function loadSettings(options: LoadSettingsOptions = {}): {
  settings: Settings;
  warnings: string[];
  file: string | null;
} {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const explicit = options.settingsPath ?? env.CODEMODE_SETTINGS;
  const candidate = explicit ? path.resolve(cwd, explicit) : path.join(cwd, SETTINGS_FILE_NAME);
  let file: unknown;
  let filePath: string | null = null;
  if (explicit || existsSync(candidate)) {
    filePath = candidate;
    let text: string;
    try {
      text = readFileSync(candidate, 'utf8');
    } catch (e) {
      throw new AppError(
        'INVALID_CONFIG',
        `cannot read settings file ${candidate}: ${(e as NodeJS.ErrnoException).code}`,
      );
    }
    try {
      file = JSON.parse(text);
    } catch (e) {
      throw new AppError('INVALID_CONFIG', `settings file ${candidate} is not valid JSON: ${(e as Error).message}`);
    }
  }
  const { settings, errors, warnings } = resolveSettings({
    file,
    ...(filePath ? { filePath } : {}),
    env,
    ...(options.flags ? { flags: options.flags } : {}),
    stateDir: defaultStateDir(env),
  });
  if (errors.length > 0) {
    throw new AppError('INVALID_CONFIG', `invalid settings:\n- ${errors.join('\n- ')}`, { errors });
  }
  return { settings, warnings, file: filePath };
}

/** Create the state and workspace directories, searchable by the sandbox user but not listable. */
export function ensureStateDirs(settings: Settings): void {
  mkdirSync(settings.workspaces.root, { recursive: true, mode: 0o711 });
  if (settings.store.enabled) mkdirSync(path.dirname(settings.store.path), { recursive: true, mode: 0o711 });
}
