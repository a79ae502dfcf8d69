/**
 * Where codemode keeps its state and where the user's own (trusted) settings
 * live. The one copy of these rules; everything else imports them.
 */
import os from 'node:os';
import path from 'node:path';

/**
 * Where codemode keeps its database, workspaces and generated token:
 * $CODEMODE_HOME, else /var/lib/codemode as root (the sandbox user must be able
 * to reach the workspaces, and /root is closed to it), else ~/.codemode.
 */
export function defaultStateDir(
  env: NodeJS.ProcessEnv = process.env,
  uid: number | undefined = process.getuid?.(),
  home: string = os.homedir(),
): string {
  if (env.CODEMODE_HOME) return path.resolve(env.CODEMODE_HOME);
  return uid === 0 ? '/var/lib/codemode' : path.join(home, '.codemode');
}

/**
 * The user's own settings file, trusted like flags and the environment:
 * $XDG_CONFIG_HOME/codemode/config.json, else ~/.config/codemode/config.json.
 */
export function userSettingsFile(env: NodeJS.ProcessEnv = process.env, home: string = os.homedir()): string {
  const base =
    env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : path.join(home, '.config');
  return path.join(base, 'codemode', 'config.json');
}
