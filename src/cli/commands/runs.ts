/**
 * `codemode runs list|show|export|replay`: the recorded agent runs (see
 * `codemode agent`, `codemode fix`). Records come from the store the settings
 * name; ids may be shortened to any unique prefix. Only the local CLI owner's
 * runs are shown unless --all.
 *
 * Exit codes: 0 done (replay: the outcomes match), 1 replay differs, 4 no such run.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AgentEvent } from '../../agent/contract.js';
import { transcriptMarkdown } from '../../agent/transcript-markdown.js';
import type { AgentRunRecord, AgentRunStore, AgentRunSummary } from '../../agent/transcript.js';
import { AppError } from '../../errors.js';
import type { SessionService } from '../../sessions/contract.js';
import { numberFlag, parse } from '../args.js';
import type { CliIO, Command } from '../io.js';
import { openSessionRuntime } from '../session-runtime.js';
import { CLI_OWNER, LivePrinter, openRunStore } from './agent.js';

const HELP = `usage: codemode runs <list|show|export|replay> [options]

Agent runs recorded by \`codemode agent\` and \`codemode fix\`.

  runs list [--limit N] [--all] [--json]        newest first
  runs show ID [--json]                          steps, actions and their results
  runs export ID [--format json|md] [--out FILE] the whole record (json, default) or Markdown
  runs replay ID [--json] [--quiet]              re-run offline: the recorded model turns are replayed,
                                                 the code runs again in a fresh session; exit 0 when
                                                 every action and the outcome match

ID may be any unique prefix of a run id. --all: every owner's runs (e.g. runs made over MCP).
`;

export interface RunsCommandDeps {
  runs?: AgentRunStore;
  /** Where replays run instead of starting a session runtime (tests). */
  sessions?: SessionService;
}

export const runsCommand: Command = (argv, io) => runsCommandWith(argv, io);

export async function runsCommandWith(argv: string[], io: CliIO, deps: RunsCommandDeps = {}): Promise<number> {
  const { values, positionals } = parse(argv, {
    limit: { type: 'string' },
    all: { type: 'boolean' },
    json: { type: 'boolean' },
    format: { type: 'string' },
    out: { type: 'string', short: 'o' },
    quiet: { type: 'boolean', short: 'q' },
    help: { type: 'boolean', short: 'h' },
  });
  const [sub, id, ...extra] = positionals;
  if (values.help || !sub) {
    io.stdout.write(HELP);
    return values.help ? 0 : 2;
  }
  if (extra.length) throw new AppError('INVALID_ARGUMENT', `unexpected argument "${extra[0]}"\n\n${HELP}`);
  const owner = values.all ? undefined : CLI_OWNER;
  const runs = deps.runs ?? (await openRunStore(io));
  try {
    const find = (): AgentRunRecord => {
      if (!id) throw new AppError('INVALID_ARGUMENT', `give a run id: codemode runs ${sub} ID`);
      const r = runs.get(id, owner);
      if (!r) throw new AppError('NOT_FOUND', `no run "${id}" (or the prefix is not unique): see codemode runs list`);
      return r;
    };
    switch (sub) {
      case 'list': {
        const limit = numberFlag(values.limit, 'limit') ?? 20;
        const list = runs.list({ ...(owner !== undefined ? { owner } : {}), limit });
        io.stdout.write(values.json ? JSON.stringify(list, null, 2) + '\n' : listText(list));
        return 0;
      }
      case 'show': {
        const r = find();
        io.stdout.write(values.json ? JSON.stringify(r, null, 2) + '\n' : showText(r));
        return 0;
      }
      case 'export': {
        const r = find();
        const format = values.format ?? 'json';
        if (format !== 'json' && format !== 'md')
          throw new AppError('INVALID_ARGUMENT', `--format must be json or md, got "${format}"`);
        const text = format === 'md' ? transcriptMarkdown(r) : JSON.stringify(r, null, 2) + '\n';
        if (values.out) {
          const file = path.resolve(io.cwd, values.out);
          // Transcripts hold code and outputs: private to the user, like the store.
          writeFileSync(file, text, { mode: 0o600 });
          io.stderr.write(`wrote ${file}\n`);
        } else io.stdout.write(text);
        return 0;
      }
      case 'replay':
        return await replay(find(), io, deps, Boolean(values.json), Boolean(values.quiet));
      default:
        throw new AppError('INVALID_ARGUMENT', `unknown subcommand "${sub}"\n\n${HELP}`);
    }
  } finally {
    if (!deps.runs) runs.close();
  }
}

async function replay(r: AgentRunRecord, io: CliIO, deps: RunsCommandDeps, json: boolean, quiet: boolean) {
  const { replayRun } = await import('../../agent/transcript-replay.js');
  let sessions = deps.sessions;
  let close = async () => {};
  if (!sessions) {
    // A replay leaves nothing behind: its session lives in memory only.
    const runtime = await openSessionRuntime({ ...io, env: { ...io.env, CODEMODE_STORE: 'off' } });
    sessions = runtime.sessions;
    close = () => runtime.close();
  }
  const printer = json || quiet ? null : new LivePrinter(io);
  try {
    const report = await replayRun(r, {
      sessionService: sessions,
      owner: CLI_OWNER,
      ...(printer ? { onEvent: (e: AgentEvent) => printer.event(e) } : {}),
    });
    if (json)
      io.stdout.write(
        JSON.stringify(
          {
            runId: r.id,
            matches: report.matches,
            differences: report.differences,
            notes: report.notes,
            replay: report.replay,
          },
          null,
          2,
        ) + '\n',
      );
    else {
      for (const n of report.notes) io.stdout.write(`note: ${n}\n`);
      io.stdout.write(
        report.matches
          ? `replay of ${r.id}: matches (${r.steps} steps, ${r.stopReason})\n`
          : `replay of ${r.id}: differs\n${report.differences.map((d) => `  - ${d}`).join('\n')}\n`,
      );
    }
    return report.matches ? 0 : 1;
  } finally {
    printer?.stop();
    await close();
  }
}

function listText(list: AgentRunSummary[]): string {
  if (!list.length) return 'no recorded runs\n';
  const rows = list.map((r) => [
    r.id,
    r.createdAt.replace('T', ' ').slice(0, 19),
    r.ok ? 'done' : r.stopReason,
    String(r.steps),
    `${r.usage.inputTokens}/${r.usage.outputTokens}`,
    r.usage.costUsd === undefined ? '-' : `$${r.usage.costUsd.toFixed(4)}`,
    r.model,
    oneLine(r.task, 50),
  ]);
  const head = ['ID', 'CREATED', 'OUTCOME', 'STEPS', 'TOKENS', 'COST', 'MODEL', 'TASK'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const fmt = (row: string[]) =>
    row
      .map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [fmt(head), ...rows.map(fmt)].join('\n') + '\n';
}

function showText(r: AgentRunRecord): string {
  const cost = r.usage.costUsd === undefined ? 'cost unknown' : `$${r.usage.costUsd.toFixed(4)}`;
  const out = [`run ${r.id} · ${r.model} · ${r.language} · session ${r.sessionId} · ${r.createdAt}`, `task: ${r.task}`];
  for (const s of r.transcript) {
    out.push(`step ${s.step}${s.completed ? ` (${s.inputTokens} in / ${s.outputTokens} out)` : ' (no reply)'}`);
    if (s.text.trim()) out.push(`  ${oneLine(s.text, 100)}`);
    for (const a of s.actions) {
      const what = a.code ?? (a.input === undefined ? '' : JSON.stringify(a.input));
      out.push(`  ${a.ok === false ? '✖' : '✔'} ${a.tool}: ${a.status ?? 'no result'}  ${oneLine(what, 80)}`);
    }
  }
  out.push(
    `${r.ok ? 'done' : 'stopped'} (${r.stopReason}): ${r.answer !== undefined ? oneLine(r.answer, 200) : r.message}`,
    `${r.steps} steps · ${r.usage.inputTokens} tokens in / ${r.usage.outputTokens} out · ${cost} · ${(r.durationMs / 1000).toFixed(1)} s`,
  );
  return out.join('\n') + '\n';
}

function oneLine(s: string, max: number): string {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}
