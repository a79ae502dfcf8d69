/**
 * `codemode sessions list|show|history|export|resume|close`: the saved
 * sessions of this machine's store (the ones `codemode repl`, `codemode agent`
 * and `codemode serve` leave behind), as tables or, with --json, as data.
 * Everything goes through the SessionService, as the local owner.
 *
 * Exit codes: 0, 2 usage, 4 unknown session.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { AppError } from '../../errors.js';
import type { ExecutionRecord, ResumableSession } from '../../sessions/contract.js';
import type { GraphView } from '../../sessions/graph.js';
import { exportSession, type ExportFormat } from '../../sessions/notebook-script.js';
import { parse } from '../args.js';
import type { Command } from '../io.js';
import { openSessionRuntime, type SessionRuntime } from '../session-runtime.js';

const HELP = `usage: codemode sessions <subcommand> [--json]

  list                         saved sessions: id, language, cells, last used
  show ID                      one session: its facts and its last cells
  history ID                   every cell with its status, output and error
  export ID --format ipynb|script [--out FILE]
                               the session as a Jupyter notebook or a script (.py, .js, .ts, .sh);
                               to stdout unless --out
  resume ID [--replay]         open the REPL in the session (--replay re-runs its successful cells)
  close ID                     delete the session's workspace; its history stays readable
  graph ID [--format text|dot|mermaid]
                               the session as a dataflow graph: which cell feeds which (names), stale cells
  rerun ID CELL [--dry-run]    run again, in dependency order, only the cells that depend on cell CELL
                               (the session is resumed with its history replayed first)

  --json                       print data instead of tables (list, show, history, close)
`;

export const sessionsCommand: Command = async (argv, io) => {
  const { values, positionals } = parse(argv, {
    json: { type: 'boolean' },
    format: { type: 'string' },
    out: { type: 'string', short: 'o' },
    replay: { type: 'boolean' },
    'dry-run': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  const [sub, id, ...rest] = positionals;
  const cellArg = sub === 'rerun' ? rest.shift() : undefined;
  const extra = rest;
  if (values.help || sub === undefined || sub === 'help') {
    io.stdout.write(HELP);
    return sub === undefined && !values.help ? 2 : 0;
  }
  if (extra.length > 0) throw new AppError('INVALID_ARGUMENT', `unexpected argument "${extra[0]}"`);
  if (sub === 'resume') {
    const { replCommand } = await import('./repl.js');
    return replCommand(['--session', needId(sub, id), ...(values.replay ? ['--replay'] : [])], io);
  }
  if (!['list', 'show', 'history', 'export', 'close', 'graph', 'rerun'].includes(sub))
    throw new AppError('INVALID_ARGUMENT', `unknown subcommand "${sub}"\n\n${HELP}`);
  if (sub === 'list' && id !== undefined) throw new AppError('INVALID_ARGUMENT', `unexpected argument "${id}"`);
  const format = sub === 'export' ? exportFormat(values.format) : undefined;
  const graphFormat = sub === 'graph' ? (values.format ?? 'text') : undefined;
  if (graphFormat !== undefined && !['text', 'dot', 'mermaid'].includes(graphFormat))
    throw new AppError('INVALID_ARGUMENT', `--format must be text, dot or mermaid for graph, not "${graphFormat}"`);
  const runtime = await openSessionRuntime(io);
  try {
    const print = (data: unknown, table: string) =>
      void io.stdout.write(values.json ? `${JSON.stringify(data, null, 2)}\n` : table);
    switch (sub) {
      case 'list': {
        const list = runtime.sessions.listResumable();
        print(list, sessionTable(list));
        return 0;
      }
      case 'show': {
        const sid = needId(sub, id);
        const { session, history } = savedSession(runtime, sid);
        const facts = session ?? { id: sid, language: history[0]?.language ?? 'unknown', closed: true as const };
        print({ ...facts, lastCells: history.slice(-5) }, showText(facts, history));
        return 0;
      }
      case 'history': {
        const { history } = savedSession(runtime, needId(sub, id));
        print(history, history.map(cellText).join('\n') || '(no cells)\n');
        return 0;
      }
      case 'export': {
        const sid = needId(sub, id);
        const out = exportSession(runtime.sessions, sid, format!);
        if (values.out === undefined) {
          io.stdout.write(out.text);
        } else {
          const file = path.resolve(io.cwd, values.out);
          writeFileSync(file, out.text);
          io.stderr.write(`wrote ${file}\n`);
        }
        return 0;
      }
      case 'graph': {
        const sid = needId(sub, id);
        const { history } = savedSession(runtime, sid);
        const { sharedAnalyzer } = await import('../../analysis/analyzer.js');
        const { sessionGraph } = await import('../../sessions/graph-session.js');
        const { toDot, toMermaid } = await import('../../sessions/graph.js');
        const { graph } = await sessionGraph({ history: () => history }, sid, undefined, (language, code) =>
          sharedAnalyzer().dataflow(language, code),
        );
        const view = graph.view();
        const text =
          graphFormat === 'dot' ? toDot(view) : graphFormat === 'mermaid' ? toMermaid(view) : graphText(view);
        print(view, text.endsWith('\n') ? text : `${text}\n`);
        return 0;
      }
      case 'rerun': {
        const sid = needId(sub, id);
        const cell = Number(cellArg);
        if (!Number.isSafeInteger(cell) || cell < 1)
          throw new AppError(
            'INVALID_ARGUMENT',
            `rerun needs a cell number (an execution count), got "${cellArg ?? ''}"`,
          );
        const { session } = savedSession(runtime, sid);
        if (!session) throw new AppError('SESSION_CLOSED', `session ${sid} is closed; its history is read-only`);
        const { sharedAnalyzer } = await import('../../analysis/analyzer.js');
        const { rerunDownstream } = await import('../../sessions/graph-session.js');
        const dryRun = values['dry-run'] === true;
        if (!dryRun) await runtime.sessions.create({ language: session.language, resumeId: sid, replayHistory: true });
        const r = await rerunDownstream(
          runtime.sessions,
          sid,
          undefined,
          cell,
          (language, code) => sharedAnalyzer().dataflow(language, code),
          { dryRun },
        );
        const lines = [
          r.plan.refused
            ? `nothing runs: ${r.plan.refused}`
            : `${dryRun ? 'would run' : 'ran'} ${r.plan.cells.map((c) => `[${c}]`).join(' ') || 'nothing: no cell depends on it'}`,
          ...r.plan.unknown.map((u) => `not run, cannot tell: [${u.cell}] ${u.reason}`),
          ...r.runs.map(
            (x) =>
              `[${x.cell}] -> In [${x.result.executionCount}] ${x.result.status}${x.result.stdout ? `: ${x.result.stdout.trimEnd()}` : ''}`,
          ),
        ];
        print(r, `${lines.join('\n')}\n`);
        return r.plan.refused || r.runs.some((x) => x.result.status !== 'ok') ? 1 : 0;
      }
      case 'close': {
        const sid = needId(sub, id);
        if (!savedSession(runtime, sid).session)
          throw new AppError('SESSION_CLOSED', `session ${sid} is already closed`);
        // Only a running session can be closed: start its kernel (no replay), then close it for good.
        await runtime.sessions.create({ language: 'python', resumeId: sid });
        await runtime.sessions.close(sid);
        print({ id: sid, closed: true }, `closed session ${sid}: its workspace is deleted, its history kept\n`);
        return 0;
      }
    }
    return 2;
  } finally {
    await runtime.close();
  }
};

function needId(sub: string, id: string | undefined): string {
  if (!id)
    throw new AppError('INVALID_ARGUMENT', `codemode sessions ${sub} needs a session id (see codemode sessions list)`);
  return id;
}

function exportFormat(value: string | undefined): ExportFormat {
  if (value === 'ipynb' || value === 'script') return value;
  throw new AppError(
    'INVALID_ARGUMENT',
    `--format must be ipynb or script, got ${value === undefined ? 'nothing' : `"${value}"`}`,
  );
}

/** A saved session of the local owner (undefined once closed) with its history; NOT_FOUND for an unknown id. */
function savedSession(
  runtime: SessionRuntime,
  id: string,
): { session: ResumableSession | undefined; history: ExecutionRecord[] } {
  const history = runtime.sessions.history(id); // NOT_FOUND for someone else's or an unknown id
  return { session: runtime.sessions.listResumable().find((s) => s.id === id), history };
}

function when(iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function sessionTable(list: ResumableSession[]): string {
  if (list.length === 0) return 'no saved sessions; start one with codemode repl\n';
  const rows = [
    ['ID', 'LANGUAGE', 'CELLS', 'CREATED', 'LAST USED'],
    ...list.map((s) => [s.id, s.language, String(s.executionCount), when(s.createdAt), when(s.lastUsedAt)]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return (
    rows
      .map((r) =>
        r
          .map((c, i) => c.padEnd(widths[i]!))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

function showText(
  s: ResumableSession | { id: string; language: string; closed: true },
  history: ExecutionRecord[],
): string {
  const failed = history.filter((r) => r.status !== 'ok').length;
  const head = [
    `session   ${s.id}`,
    `language  ${s.language}`,
    ...('closed' in s
      ? ['state     closed (workspace deleted)']
      : [`created   ${when(s.createdAt)}`, `last used ${when(s.lastUsedAt)}`]),
    `cells     ${history.length}${failed ? ` (${failed} not ok)` : ''}`,
  ].join('\n');
  const last = history.slice(-5);
  return `${head}\n${last.length ? `\nlast cells:\n${last.map(cellText).join('\n')}` : ''}`;
}

function cellText(r: ExecutionRecord): string {
  const lines = [
    `In [${r.executionCount}] ${r.kind === 'script' ? 'script ' : ''}${r.status}, ${Math.round(r.durationMs)} ms`,
  ];
  lines.push(r.code.replace(/\n$/, '').replace(/^/gm, '    '));
  const output = `${r.stdout}${r.stderr && !r.stderr.includes(r.error?.message ?? '\0') ? r.stderr : ''}`;
  if (output) lines.push(output.replace(/\n$/, '').replace(/^/gm, '  │ '));
  if (r.error) lines.push(`  ✖ ${r.error.type}: ${r.error.message}`);
  return `${lines.join('\n')}\n`;
}

/** The graph for people: each cell, what it defines, where its inputs come from, and whether it is stale. */
function graphText(view: GraphView): string {
  if (view.nodes.length === 0) return '(no cells)';
  const from = new Map<number, string[]>();
  for (const e of view.edges) {
    const list = from.get(e.to) ?? [];
    list.push(`${e.name} from [${e.from}]${e.uncertain ? '?' : ''}`);
    from.set(e.to, list);
  }
  return view.nodes
    .map((n) => {
      const parts = [`[${n.id}]${n.kind === 'script' ? ' script' : ''}`];
      if (n.defs.length) parts.push(`defines ${n.defs.join(', ')}`);
      const inputs = from.get(n.id);
      if (inputs) parts.push(`reads ${inputs.join('; ')}`);
      if (n.opaque) parts.push('(some names unknown)');
      if (n.stale) parts.push('STALE');
      return parts.join('  ');
    })
    .join('\n');
}
