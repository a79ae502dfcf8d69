/**
 * The Code Mode runtime (a ToolHost): upstream servers + approval rules + typed API
 * + tool search + the isolate executor. Credentials stay in the UpstreamManager;
 * code only ever sees JSON values and the generated declarations.
 */
import { AppError, errorMessage } from '../errors.js';
import { needsApproval, type CodeModeConfig, type UpstreamServerConfig } from './config.js';
import type { ToolHost } from './contract.js';
import {
  IsolateExecutor,
  type CodeModeApiShape,
  type CodeModeLanguage,
  type CodeModeLimits,
  type CodeModeResult,
  type IsolateExecutorOptions,
} from './isolate-executor.js';
import {
  buildApi,
  generatePython,
  generateTypeScript,
  toolDeclaration,
  toIdentifier,
  toolSignature,
  type ApiServer,
  type ApiTool,
} from './typegen.js';
import { UpstreamManager, type CallToolResultLike, type UpstreamConnector, type UpstreamToolInfo } from './upstream.js';

export type SearchDetail = 'names' | 'signatures' | 'full';

export interface CatalogEntry {
  server: ApiServer;
  tool: ApiTool;
  config: UpstreamServerConfig;
  info: UpstreamToolInfo;
  needsApproval: boolean;
}

export interface Catalog {
  api: ApiServer[];
  entries: CatalogEntry[];
  /** Servers that could not be listed, with the reason (including their stderr). */
  unavailable: { server: string; message: string }[];
}

export interface CodeModeRuntimeOptions {
  /** Use this manager instead of creating one (its servers should match the config). */
  upstream?: UpstreamManager;
  /** How to connect to servers (tests inject fakes). */
  connector?: UpstreamConnector;
  /** Default limits for `run`. */
  limits?: Partial<CodeModeLimits>;
  /**
   * Where programs run: an executor to share, or options for this runtime's own
   * (concurrency cap, queue, worker memory...). Default: its own, with defaults.
   */
  isolates?: IsolateExecutor | IsolateExecutorOptions;
}

export interface RunCodeRequest {
  language: CodeModeLanguage;
  code: string;
  limits?: Partial<CodeModeLimits>;
  signal?: AbortSignal;
  /** Tools under requireApproval (`server.tool` identifiers) a human approved for this run only (the agent's approver). */
  approvedTools?: readonly string[];
}

/**
 * What code receives from a tool call: the typed structuredContent when the tool
 * has an output schema; else the text content joined when every block is text,
 * else the content blocks. An `isError` result becomes an UPSTREAM_ERROR.
 */
export function toolResultValue(
  label: string,
  info: Pick<UpstreamToolInfo, 'outputSchema'>,
  result: CallToolResultLike,
): unknown {
  const content = Array.isArray(result.content) ? result.content : [];
  const texts = content.map((c) =>
    typeof c === 'object' && c !== null && (c as { type?: unknown }).type === 'text'
      ? String((c as { text?: unknown }).text ?? '')
      : null,
  );
  const allText = texts.every((t) => t !== null);
  if (result.isError) {
    const text =
      texts
        .filter((t) => t !== null)
        .join('\n')
        .trim() || 'the tool reported an error without a message';
    throw new AppError('UPSTREAM_ERROR', `${label} failed: ${text}`, { tool: label });
  }
  if (info.outputSchema !== undefined && result.structuredContent !== undefined) return result.structuredContent;
  if (result.structuredContent !== undefined && content.length === 0) return result.structuredContent;
  return allText ? texts.join('\n') : content;
}

function firstSentence(text: string | undefined, max = 120): string {
  if (!text) return '';
  const line = text.trim().split('\n')[0] ?? '';
  const m = /^(.+?[.!?])(\s|$)/.exec(line);
  const s = m ? (m[1] as string) : line;
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

function words(text: string): string[] {
  return text
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w !== '');
}

/** Rank catalog entries for a query: names weigh more than descriptions. Pure. */
export function rankTools(entries: readonly CatalogEntry[], query: string): CatalogEntry[] {
  const tokens = [...new Set(words(query))];
  if (tokens.length === 0) return [...entries];
  const scored: { entry: CatalogEntry; score: number; index: number }[] = [];
  entries.forEach((entry, index) => {
    const toolName = entry.tool.name.toLowerCase();
    const toolWords = new Set(words(entry.tool.name));
    const serverWords = new Set([...words(entry.server.name), entry.server.identifier.toLowerCase()]);
    const desc = `${entry.info.title ?? ''} ${entry.info.description ?? ''}`;
    const descWords = words(desc);
    let score = 0;
    let matched = 0;
    for (const t of tokens) {
      let s = 0;
      if (toolName === t || entry.tool.identifier.toLowerCase() === t) s += 10;
      if (toolWords.has(t)) s += 6;
      else if (toolName.includes(t)) s += 4;
      if (serverWords.has(t)) s += 3;
      if (descWords.includes(t)) s += 2;
      else if (descWords.some((w) => w.startsWith(t))) s += 1;
      if (s > 0) matched++;
      score += s;
    }
    // Prefer tools matching more of the query's words.
    if (score > 0) scored.push({ entry, score: score + matched * 5, index });
  });
  scored.sort((a, b) => b.score - a.score || a.index - b.index);
  return scored.map((s) => s.entry);
}

export class CodeModeRuntime implements ToolHost {
  readonly upstream: UpstreamManager;
  /** Runs programs in isolates, in worker processes outside this one. */
  readonly isolates: IsolateExecutor;
  readonly #ownsIsolates: boolean;
  readonly #configs: Map<string, UpstreamServerConfig>;
  readonly #limits: Partial<CodeModeLimits>;
  #catalog: Catalog | null = null;
  #catalogKey: unknown[] = [];
  #declarations = new Map<string, string>();
  #shape: { catalog: Catalog; shape: CodeModeApiShape } | null = null;

  constructor(config: CodeModeConfig, options: CodeModeRuntimeOptions = {}) {
    this.#configs = new Map(config.servers.map((s) => [s.name, s]));
    this.#limits = options.limits ?? {};
    this.#ownsIsolates = !(options.isolates instanceof IsolateExecutor);
    this.isolates =
      options.isolates instanceof IsolateExecutor ? options.isolates : new IsolateExecutor(options.isolates);
    this.upstream =
      options.upstream ??
      new UpstreamManager(config.servers, {
        ...(options.connector ? { connector: options.connector } : {}),
        onToolsChanged: () => this.invalidate(),
      });
  }

  /** Forget the cached catalog and declarations (tools changed upstream). */
  invalidate(): void {
    this.#catalog = null;
    this.#declarations.clear();
  }

  /** Every enabled server's tools mapped to identifiers. Failing servers are listed in `unavailable`. */
  async catalog(): Promise<Catalog> {
    const listed = await this.upstream.listAllTools();
    const key = listed.map((l) => l.tools ?? l.error?.message);
    if (this.#catalog && key.length === this.#catalogKey.length && key.every((k, i) => k === this.#catalogKey[i])) {
      return this.#catalog;
    }
    const ok = listed.filter((l) => l.tools !== undefined);
    const api = buildApi(ok.map((l) => ({ name: l.server, tools: l.tools ?? [] })));
    const entries: CatalogEntry[] = [];
    api.forEach((server, i) => {
      const config = this.#configs.get(server.name) as UpstreamServerConfig;
      const tools = ok[i]?.tools ?? [];
      server.tools.forEach((tool, j) => {
        entries.push({
          server,
          tool,
          config,
          info: tools[j] as UpstreamToolInfo,
          needsApproval: needsApproval(config, tool.name),
        });
      });
    });
    const unavailable = listed
      .filter((l) => l.error !== undefined)
      .map((l) => ({ server: l.server, message: l.error?.message ?? 'unavailable' }));
    this.#catalog = { api, entries, unavailable };
    this.#catalogKey = key;
    this.#declarations.clear();
    return this.#catalog;
  }

  /** Find a tool by the names code uses (identifiers) or by its upstream names. */
  async resolve(server: string, tool: string, retried = false): Promise<CatalogEntry> {
    const catalog = await this.catalog();
    const found =
      catalog.entries.find((e) => e.server.identifier === server && e.tool.identifier === tool) ??
      catalog.entries.find((e) => e.server.name === server && e.tool.name === tool);
    if (found) return found;
    const down = catalog.unavailable.find((u) => u.server === server || toIdentifier(u.server) === server);
    if (down && !retried && this.upstream.isStarting(down.server)) {
      // This server is still starting: wait for it alone (its start-up timeout bounds the wait), not for the others.
      await this.upstream.listTools(down.server).catch(() => undefined);
      return this.resolve(server, tool, true);
    }
    if (down)
      throw new AppError('UPSTREAM_UNAVAILABLE', `codemode.${server}.${tool}: ${down.message}`, { server, tool });
    const known = catalog.api.some((s) => s.identifier === server || s.name === server);
    throw new AppError(
      'NOT_FOUND',
      known
        ? `codemode.${server}.${tool} does not exist; use codemode.search_tools("${tool}") to find the right name`
        : `codemode.${server} is not a configured server (servers: ${catalog.api.map((s) => s.identifier).join(', ') || 'none'})`,
      { server, tool },
    );
  }

  /** Call through approval rules and return the raw MCP result (for pass-through tools). */
  async callToolRaw(
    server: string,
    tool: string,
    args: unknown,
    signal?: AbortSignal,
    approved?: ReadonlySet<string>,
  ): Promise<{ entry: CatalogEntry; result: CallToolResultLike }> {
    const entry = await this.resolve(server, tool);
    const label = `codemode.${entry.server.identifier}.${entry.tool.identifier}`;
    if (entry.needsApproval && !approved?.has(`${entry.server.identifier}.${entry.tool.identifier}`)) {
      throw new AppError(
        'APPROVAL_REQUIRED',
        `${label} needs approval and was not called: the config lists "${entry.tool.name}" under requireApproval. ` +
          `To allow it, add "${entry.tool.name}" to mcpServers.${entry.server.name}.approved.`,
        { server: entry.server.name, tool: entry.tool.name },
      );
    }
    if (typeof args !== 'object' || args === null || Array.isArray(args)) {
      throw new AppError('INVALID_ARGUMENT', `${label}: arguments must be an object`);
    }
    const result = await this.upstream.callTool(entry.server.name, entry.tool.name, args as Record<string, unknown>, {
      ...(signal ? { signal } : {}),
    });
    return { entry, result };
  }

  async callTool(
    server: string,
    tool: string,
    args: unknown,
    signal?: AbortSignal,
    approved?: ReadonlySet<string>,
  ): Promise<unknown> {
    try {
      const { entry, result } = await this.callToolRaw(server, tool, args, signal, approved);
      return toolResultValue(`codemode.${entry.server.identifier}.${entry.tool.identifier}`, entry.info, result);
    } catch (e) {
      if (e instanceof AppError) {
        const label = `codemode.${server}.${tool}`;
        if (e.message.includes(label) || e.message.startsWith('codemode.')) throw e;
        throw new AppError(e.code, `${label}: ${e.message}`, e.data, { cause: e });
      }
      throw new AppError('INTERNAL', `codemode.${server}.${tool}: ${errorMessage(e)}`, undefined, { cause: e });
    }
  }

  async searchTools(query: string, detail: SearchDetail = 'signatures', limit?: number): Promise<string> {
    const catalog = await this.catalog();
    const max = limit ?? (detail === 'names' ? 50 : detail === 'signatures' ? 15 : 5);
    const ranked = rankTools(catalog.entries, query);
    const shown = ranked.slice(0, max);
    const mark = (e: CatalogEntry) => (e.needsApproval ? ' [needs approval]' : '');
    const lines: string[] = [];
    if (shown.length === 0) {
      lines.push(
        `No tools match "${query}". Servers: ${catalog.api.map((s) => `${s.identifier} (${s.tools.length})`).join(', ') || 'none'}.`,
      );
    } else {
      lines.push(
        `${ranked.length} of ${catalog.entries.length} tools match "${query}"${ranked.length > shown.length ? `; showing ${shown.length}` : ''}.`,
      );
    }
    for (const e of shown) {
      const desc = firstSentence(e.info.description ?? e.info.title);
      if (detail === 'names')
        lines.push(`codemode.${e.server.identifier}.${e.tool.identifier}${mark(e)}${desc ? ` - ${desc}` : ''}`);
      else if (detail === 'signatures') {
        lines.push(
          `${desc ? `// ${desc}${mark(e)}\n` : mark(e) ? `//${mark(e)}\n` : ''}${toolSignature(e.server, e.tool)}`,
        );
      } else lines.push(`${mark(e) ? `//${mark(e)}\n` : ''}${toolDeclaration(e.server, e.tool)}`);
    }
    for (const u of catalog.unavailable) lines.push(`(server ${u.server} is unavailable: ${u.message.split('\n')[0]})`);
    return lines.join('\n');
  }

  async declarations(language: 'typescript' | 'python'): Promise<string> {
    const catalog = await this.catalog();
    const cached = this.#declarations.get(language);
    if (cached !== undefined) return cached;
    const text = language === 'typescript' ? generateTypeScript(catalog.api) : generatePython(catalog.api);
    this.#declarations.set(language, text);
    return text;
  }

  /** A compact description of servers and tools, for a tool description. */
  async summary(maxToolsPerServer = 40): Promise<string> {
    const catalog = await this.catalog();
    const needingApproval = new Set(catalog.entries.filter((e) => e.needsApproval).map((e) => e.tool));
    const lines = ['Upstream MCP servers, callable as `await codemode.<server>.<tool>(args)`:'];
    for (const s of catalog.api) {
      const names = s.tools
        .slice(0, maxToolsPerServer)
        .map((t) => (needingApproval.has(t) ? `${t.identifier}(needs approval)` : t.identifier));
      const more = s.tools.length > maxToolsPerServer ? `, ... ${s.tools.length - maxToolsPerServer} more` : '';
      lines.push(`- ${s.identifier}: ${names.join(', ')}${more}`);
    }
    for (const u of catalog.unavailable) lines.push(`- ${u.server}: unavailable (${u.message.split('\n')[0]})`);
    if (catalog.api.length === 0 && catalog.unavailable.length === 0) lines.push('- (no servers configured)');
    lines.push(
      'Get argument/result types with search_tools (or `await codemode.search_tools(query, "signatures")` in code). ' +
        'Tools with an output schema return typed objects; others return their text.',
    );
    return lines.join('\n');
  }

  /** The shape of `codemode` inside the isolate. */
  async apiShape(): Promise<CodeModeApiShape> {
    const catalog = await this.catalog();
    // Made once per catalog: every run sends it.
    if (this.#shape?.catalog === catalog) return this.#shape.shape;
    const servers: CodeModeApiShape['servers'] = catalog.api.map((s) => ({
      identifier: s.identifier,
      tools: s.tools.map((t) => t.identifier),
    }));
    const taken = new Set(servers.map((s) => s.identifier));
    for (const u of catalog.unavailable) {
      const identifier = toIdentifier(u.server);
      if (!taken.has(identifier) && identifier !== 'search_tools')
        servers.push({ identifier, tools: [], unavailable: true });
    }
    const shape = { servers };
    this.#shape = { catalog, shape };
    return shape;
  }

  /**
   * Run a program against the API in a fresh isolate (in a worker process; at most
   * the executor's cap at once, the rest queue). Never throws for the program's failures.
   */
  async run(request: RunCodeRequest): Promise<CodeModeResult> {
    const api = await this.apiShape();
    const approved = request.approvedTools?.length ? new Set(request.approvedTools) : undefined;
    const host: ToolHost = approved
      ? {
          callTool: (server, tool, args, signal) => this.callTool(server, tool, args, signal, approved),
          searchTools: (query, detail) => this.searchTools(query, detail),
          declarations: (language) => this.declarations(language),
        }
      : this;
    const result = await this.isolates.run({
      language: request.language,
      code: request.code,
      host,
      api,
      limits: { ...this.#limits, ...request.limits },
      ...(request.signal ? { signal: request.signal } : {}),
    });
    // A sick server the program reached for is reported in the result, even when the program caught its error.
    const { unavailable } = await this.catalog();
    const touched = new Set(result.toolCalls.map((c) => c.name.split('.')[0]));
    for (const u of unavailable) {
      if (!touched.has(u.server) && !touched.has(toIdentifier(u.server))) continue;
      result.logs.push(`[codemode] upstream server ${u.server} is unavailable: ${u.message.split('\n')[0]}`);
    }
    return result;
  }

  async close(): Promise<void> {
    await Promise.all([this.upstream.close(), this.#ownsIsolates ? this.isolates.close() : undefined]);
  }
}
