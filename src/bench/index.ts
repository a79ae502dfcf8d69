/**
 * `npm run bench`: every benchmark (or those named on the command line), one
 * after another in one process, each subject sampled beside its floor. Prints
 * ONE table (subject, floor, median, ratio, target, verdict; src/bench/report.ts)
 * from the `rows` every bench returns, and saves all numbers as JSON in
 * bench-results/. `--only <text>` (repeatable) measures only the subjects whose
 * name contains the text, e.g. `node dist/bench/index.js mcp --only "stdio 2026"`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatTable, subjectFilter, type ReportRow, type SubjectFilter } from './report.js';

const BENCHES: Record<string, (only: SubjectFilter) => Promise<unknown>> = {
  sandbox: async (only) => (await import('./sandbox-bench.js')).runSandboxBench({ only }),
  sessions: async (only) => (await import('./sessions-bench.js')).runSessionsBench({ only }),
  mcp: async (only) => (await import('./mcp-bench.js')).runMcpBench({ only }),
  codemode: async (only) => (await import('./codemode-bench.js')).runCodeModeBench({ only }),
  analysis: async () => (await import('./analysis-bench.js')).runAnalysisBench(),
  agent: async () => (await import('./agent-bench.js')).runAgentBench(),
  workbench: async () => (await import('./workbench-bench.js')).runWorkbenchBench(),
  cluster: async (only) => (await import('./cluster-bench.js')).runClusterBench({ only }),
};

/** Bench names and `--only` patterns from argv. */
export function parseBenchArgs(argv: readonly string[]): { names: string[]; only: string[] } {
  const names: string[] = [];
  const only: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--only') only.push(argv[++i] ?? '');
    else if (a.startsWith('--only=')) only.push(a.slice('--only='.length));
    else if (!a.startsWith('-')) names.push(a);
  }
  return { names, only };
}

async function main(): Promise<number> {
  const { names: wanted, only: patterns } = parseBenchArgs(process.argv.slice(2));
  const only = subjectFilter(patterns);
  for (const name of wanted) {
    if (!BENCHES[name]) {
      console.error(`unknown benchmark "${name}"; choose from: ${Object.keys(BENCHES).join(', ')}`);
      return 2;
    }
  }
  const names = wanted.length ? wanted : Object.keys(BENCHES);
  const results: Record<string, unknown> = {};
  let failed = 0;
  for (const name of names) {
    console.log(`\n=== ${name} ===`);
    const started = performance.now();
    try {
      results[name] = await BENCHES[name]!(only);
    } catch (e) {
      failed++;
      results[name] = { error: e instanceof Error ? e.stack : String(e) };
      console.error(`benchmark ${name} failed:`, e);
    }
    console.log(`(${name}: ${((performance.now() - started) / 1000).toFixed(1)} s)`);
  }
  const report = {
    date: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      model: os.cpus()[0]?.model,
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      load: os.loadavg(),
    },
    node: process.version,
    results,
  };
  const rows: ReportRow[] = [];
  for (const [name, result] of Object.entries(results)) {
    const r = result as { rows?: ReportRow[]; error?: unknown };
    if (Array.isArray(r.rows)) rows.push(...r.rows.map((row) => ({ ...row, subject: `${name}: ${row.subject}` })));
    else if (r.error === undefined && !patterns.length)
      console.error(`benchmark ${name} returned no rows for the table`);
  }
  console.log(`\n${formatTable(rows)}`);
  const misses = rows.filter((r) => r.verdict === 'MISS').map((r) => r.subject);
  if (misses.length) console.log(`\nMISS: ${misses.join('; ')} (see each row's detail in bench-results/latest.json)`);
  const dir = path.resolve('bench-results');
  mkdirSync(dir, { recursive: true });
  const json = JSON.stringify(report, null, 2);
  writeFileSync(path.join(dir, `bench-${report.date.replace(/[:.]/g, '-')}.json`), json);
  writeFileSync(path.join(dir, 'latest.json'), json);
  console.log(`\nsaved bench-results/latest.json`);
  return failed ? 1 : 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1]))
  process.exitCode = await main();
