/**
 * Opens the Code Mode runtime from an mcpServers file, as every command that
 * takes one does (`serve --config`, `agent --mcp-config`): parse and validate
 * (errors name the key), drop servers that would start this codemode again,
 * and refuse to start upstreams when this process is itself an upstream of
 * codemode. Returns undefined in that last case (after saying why).
 */
import { AppError } from '../errors.js';
import type { CodeModeRuntime, CodeModeRuntimeOptions } from './codemode.js';

export async function openCodeModeRuntime(
  file: string,
  env: NodeJS.ProcessEnv,
  log: (message: string) => void,
  options: { flag?: string; runtime?: CodeModeRuntimeOptions } = {},
): Promise<CodeModeRuntime | undefined> {
  const { UPSTREAM_MARKER_ENV, selfIdentity } = await import('./upstream.js');
  const parent = env[UPSTREAM_MARKER_ENV];
  if (parent !== undefined && parent !== '') {
    log(
      `config: not starting the upstream servers of ${file}: this codemode was started as an upstream ` +
        `of codemode (pid ${parent}), and would start codemode again`,
    );
    return undefined;
  }
  const { loadCodeModeConfig, withoutSelf } = await import('./config.js');
  const parsed = await loadCodeModeConfig(file);
  for (const w of parsed.warnings) log(`config: ${w.path}: ${w.message}`);
  if (parsed.errors.length > 0) {
    const list = parsed.errors.map((e) => `${e.path}: ${e.message}`).join('; ');
    throw new AppError('INVALID_CONFIG', `invalid ${options.flag ?? '--config'} ${file}: ${list}`);
  }
  const { config, skipped } = withoutSelf(parsed.config, selfIdentity(env));
  for (const s of skipped) log(`config: ${s.message}`);
  const { CodeModeRuntime } = await import('./codemode.js');
  return new CodeModeRuntime(config, options.runtime);
}
