/**
 * Turns an ExecResult into an MCP tool reply: a compact text block for
 * text-only models (status, output, error with line, a hint), structured
 * content that matches EXEC_OUTPUT_SHAPE, images as image content, and
 * resource links to full copies of output that was clipped. Pure.
 */
import type { CallToolResult } from '@modelcontextprotocol/server';
import type { DisplayOutput, ExecResult } from '../sandbox/executor.js';
import type { SessionExecResult } from '../sessions/contract.js';
import { limitsJson } from './tools/schemas.js';

/** Where the full copy of a clipped stream can be read. */
export interface FullOutputLink {
  uri: string;
  name: string;
  /** Where it lives for the model: a workspace path (session runs) or only the resource. */
  workspacePath?: string;
  size: number;
}

export interface ExecReplyOptions {
  /** Characters of each stream kept inline in the reply. */
  maxChars: number;
  links?: { stdout?: FullOutputLink; stderr?: FullOutputLink };
  /** The Python packages the sandbox has, for a ModuleNotFoundError's hint (src/sandbox/python-packages.ts). */
  pythonPackages?: readonly string[];
}

const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'] as const;

/** Keep the head and the tail (errors tend to be at the end) and mark the cut. */
export function clipText(text: string, maxChars: number, where?: string): { text: string; omitted: number } {
  if (text.length <= maxChars) return { text, omitted: 0 };
  const head = Math.floor(maxChars * 0.6);
  const tail = maxChars - head;
  const omitted = text.length - head - tail;
  const marker = `\n[... ${omitted} characters omitted${where === undefined ? '' : `; full output: ${where}`} ...]\n`;
  return { text: text.slice(0, head) + marker + text.slice(text.length - tail), omitted };
}

/** One actionable sentence for a result, or undefined when there is nothing to add. */
export function execHint(
  result: ExecResult | SessionExecResult,
  pythonPackages?: readonly string[],
): string | undefined {
  const l = result.limits;
  const restarted = 'kernelRestarted' in result && result.kernelRestarted === true;
  const restartNote = restarted ? ' The kernel restarted: variables are gone, workspace files are kept.' : '';
  switch (result.status) {
    case 'ok':
      return restarted ? restartNote.trim() : undefined;
    case 'error': {
      if (result.error?.type === 'ModuleNotFoundError' && pythonPackages !== undefined) {
        return (
          `${result.error.message}: it is not installed, and nothing can be installed here (no network, so pip install cannot work). ` +
          `Installed Python packages: ${pythonPackages.join(', ')}; use one of them or the standard library.${restartNote}`
        );
      }
      const at = result.error?.line === undefined ? '' : ` at line ${result.error.line}`;
      const what =
        result.error === undefined ? `exited with code ${result.exitCode ?? '?'}` : `raised ${result.error.type}${at}`;
      return `The program ${what}; fix the code and run it again.${restartNote}`;
    }
    case 'timeout':
      return `The run exceeded the wall-clock limit of ${l.wallMs} ms; make it faster, run less at once, or pass a larger limits.wall_ms.${restartNote}`;
    case 'cpu_time':
      return `The run used more than ${l.cpuMs} ms of CPU; make it cheaper or pass a larger limits.cpu_ms.${restartNote}`;
    case 'memory':
      return `The run exceeded the memory limit of ${Math.round(l.memoryBytes / 1048576)} MiB; process data in chunks or pass a larger limits.memory_bytes.${restartNote}`;
    case 'process_limit':
      return `The run started more than ${l.processes} processes/threads; use fewer workers or pass a larger limits.processes.${restartNote}`;
    case 'output_limit':
      return `The run printed more than ${l.outputTotalBytes} bytes and was stopped; print less, or write results to a file and read a part of it.${restartNote}`;
    case 'disk_limit':
      return `The run wrote more than ${Math.round(l.diskBytes / 1048576)} MiB to the workspace; write less or delete files first.${restartNote}`;
    case 'interrupted':
      return `The run was interrupted; the session's state is kept where the language allows.${restartNote}`;
    case 'cancelled':
      return `The run was cancelled and its processes were stopped.${restartNote}`;
    case 'killed':
      return `The run was killed${result.signal === null ? '' : ` by ${result.signal}`}; check resource use and try again.${restartNote}`;
    case 'not_started':
      return `The program did not start${result.reason === undefined ? '' : `: ${result.reason}`}.`;
    case 'blocked':
      return 'Blocked by policy before running: nothing ran. See findings and follow each hint.';
    case 'protocol_error':
      return `The session kernel broke its control protocol and was stopped; its variables are lost and the next execution starts a fresh kernel. Do not write to the kernel's control channel (fd 3).`;
  }
}

function imageParts(outputs: DisplayOutput[] | undefined): { data: string; mimeType: string }[] {
  const images: { data: string; mimeType: string }[] = [];
  for (const out of outputs ?? []) {
    const type = IMAGE_TYPES.find((t) => typeof out.data[t] === 'string' && out.data[t] !== '');
    if (type !== undefined) images.push({ data: (out.data[type] ?? '').replace(/\s+/g, ''), mimeType: type });
  }
  return images;
}

function outputSummaries(outputs: DisplayOutput[] | undefined, maxChars: number): Record<string, unknown>[] {
  return (outputs ?? []).map((out) => {
    const text = out.data['text/plain'];
    const summary: Record<string, unknown> = { kind: out.kind, mime_types: Object.keys(out.data) };
    if (text !== undefined) summary['text'] = clipText(text, maxChars).text;
    return summary;
  });
}

/** The structured content of an execution (schema: EXEC_OUTPUT in tools/schemas.ts). */
export function execStructured(
  result: ExecResult | SessionExecResult,
  options: ExecReplyOptions,
): Record<string, unknown> & { stdout: string; stderr: string } {
  const stdout = clipText(result.stdout, options.maxChars, options.links?.stdout?.uri);
  const stderr = clipText(result.stderr, options.maxChars, options.links?.stderr?.uri);
  const out: Record<string, unknown> & { stdout: string; stderr: string } = {
    status: result.status,
    exit_code: result.exitCode,
    signal: result.signal,
    stdout: stdout.text,
    stderr: stderr.text,
    stdout_omitted_chars: stdout.omitted,
    stderr_omitted_chars: stderr.omitted,
    stdout_dropped_bytes: result.stdoutDroppedBytes,
    stderr_dropped_bytes: result.stderrDroppedBytes,
    duration_ms: Math.round(result.durationMs),
    outputs: outputSummaries(result.outputs, options.maxChars),
    limits: limitsJson(result.limits),
    isolation: { ...result.isolation },
  };
  if (result.error !== undefined) {
    const e = result.error;
    out['error'] = {
      type: e.type,
      message: e.message,
      ...(e.line === undefined ? {} : { line: e.line }),
      ...(e.column === undefined ? {} : { column: e.column }),
      ...(e.traceback === undefined ? {} : { traceback: clipText(e.traceback, options.maxChars).text }),
    };
  }
  if (result.reason !== undefined) out['reason'] = result.reason;
  if (result.cached) out['cached'] = true;
  if (result.files !== undefined) out['files'] = result.files.map((f) => ({ path: f.path, size: f.size }));
  if (result.findings?.length) out['findings'] = result.findings.map((f) => ({ ...f }));
  if ('sessionId' in result) {
    out['session_id'] = result.sessionId;
    out['execution_id'] = result.executionId;
    out['execution_count'] = result.executionCount;
    if (result.kernelRestarted !== undefined) out['kernel_restarted'] = result.kernelRestarted;
    if (result.note !== undefined) out['note'] = result.note;
    if (result.warnings?.length) out['warnings'] = [...result.warnings];
    if (result.cpuMs !== undefined) out['cpu_ms'] = Math.round(result.cpuMs);
    if (result.idleCpuMs !== undefined) out['idle_cpu_ms'] = Math.round(result.idleCpuMs);
    if (result.toolCalls !== undefined) out['tool_calls'] = result.toolCalls;
  }
  const full: Record<string, string> = {};
  if (options.links?.stdout !== undefined) full['stdout'] = options.links.stdout.uri;
  if (options.links?.stderr !== undefined) full['stderr'] = options.links.stderr.uri;
  if (Object.keys(full).length > 0) out['full_output'] = full;
  const hint = execHint(result, options.pythonPackages);
  if (hint !== undefined) out['hint'] = hint;
  return out;
}

function statusLine(result: ExecResult | SessionExecResult): string {
  const parts = [`status: ${result.status}`];
  if (result.exitCode !== null && result.status !== 'ok') parts.push(`exit code ${result.exitCode}`);
  if (result.signal !== null) parts.push(`signal ${result.signal}`);
  parts.push(result.cached ? 'from the result cache' : `${Math.round(result.durationMs)} ms`);
  if ('sessionId' in result) parts.push(`session ${result.sessionId} [${result.executionCount}]`);
  return parts.join(', ');
}

/** The whole reply. `isError` is set whenever the program did not finish with status ok. */
export function buildExecReply(result: ExecResult | SessionExecResult, options: ExecReplyOptions): CallToolResult {
  const structured = execStructured(result, options);
  const lines = [statusLine(result)];
  if (result.reason !== undefined && result.status !== 'ok' && result.status !== 'error') {
    lines.push(`reason: ${result.reason}`);
  }
  if (structured.stdout !== '') lines.push('--- stdout ---', structured.stdout.replace(/\n$/, ''));
  if (result.stdoutDroppedBytes > 0)
    lines.push(`[stdout: ${result.stdoutDroppedBytes} bytes over the output limit were dropped]`);
  if (structured.stderr !== '') lines.push('--- stderr ---', structured.stderr.replace(/\n$/, ''));
  if (result.stderrDroppedBytes > 0)
    lines.push(`[stderr: ${result.stderrDroppedBytes} bytes over the output limit were dropped]`);
  for (const out of result.outputs ?? []) {
    const text = out.data['text/plain'];
    if (out.kind === 'result' && text !== undefined)
      lines.push(`--- result ---`, clipText(text, options.maxChars).text);
  }
  if (result.error !== undefined) {
    const at = result.error.line === undefined ? '' : ` (line ${result.error.line})`;
    lines.push(`error: ${result.error.type}: ${result.error.message}${at}`);
  }
  if ('note' in result && result.note !== undefined) lines.push(`note: ${result.note}`);
  // Problems beside the result (e.g. the history store is failing): the result itself stands.
  if ('warnings' in result) for (const w of result.warnings ?? []) lines.push(`warning: ${w}`);
  const hint = execHint(result, options.pythonPackages);
  if (hint !== undefined) lines.push(`hint: ${hint}`);
  const content: CallToolResult['content'] = [{ type: 'text', text: lines.join('\n') }];
  for (const image of imageParts(result.outputs))
    content.push({ type: 'image', data: image.data, mimeType: image.mimeType });
  for (const link of [options.links?.stdout, options.links?.stderr]) {
    if (link === undefined) continue;
    content.push({
      type: 'resource_link',
      uri: link.uri,
      name: link.name,
      mimeType: 'text/plain',
      description:
        link.workspacePath === undefined
          ? `Full output (${link.size} bytes); read it with resources/read.`
          : `Full output (${link.size} bytes), saved in the workspace as ${link.workspacePath}.`,
    });
  }
  return { content, structuredContent: structured, isError: result.status !== 'ok' };
}
