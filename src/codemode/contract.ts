/**
 * The contract between Code Mode (upstream MCP tools as an API) and the places
 * that run code against it: the in-process isolate and the session kernels.
 * Types only. Credentials and upstream connections stay behind ToolHost.
 */

export interface ToolCallRecord {
  /** "server.tool" as the code called it. */
  name: string;
  durationMs: number;
  ok: boolean;
  error?: string;
}

export interface ToolHost {
  /**
   * Call an upstream tool. Resolves to the tool's typed structuredContent when it
   * has an output schema, else to its content (text joined, or the content array).
   * Rejects with an AppError (UPSTREAM_ERROR, UPSTREAM_UNAVAILABLE, TIMEOUT,
   * APPROVAL_REQUIRED, NOT_FOUND) whose message names the tool.
   */
  callTool(server: string, tool: string, args: unknown, signal?: AbortSignal): Promise<unknown>;
  /** Search the API: names, signatures or full declarations. */
  searchTools(query: string, detail?: 'names' | 'signatures' | 'full'): Promise<string>;
  /** Declarations for a language: TypeScript .d.ts text or Python stub text. */
  declarations(language: 'typescript' | 'python'): Promise<string>;
}
