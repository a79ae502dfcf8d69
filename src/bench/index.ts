/**
 * `npm run bench`: every benchmark (or those named on the command line), one
 * after another in one process, each subject sampled beside its floor. Prints
 * ONE table (subject, floor, median, ratio, target, verdict; src/bench/report.ts)
 * from the `rows` every bench returns, and saves all numbers as JSON in
 * bench-results/.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { formatTable, type ReportRow } from './report.js';

const BENCHES: Record<string, () => Promise<unknown>> = {
  sandbox: async () => (await import('./sandbox-bench.js')).runSandboxBench(),
  sessions: async () => (await import('./sessions-bench.js')).runSessionsBench(),
  mcp: async () => (await import('./mcp-bench.js')).runMcpBench(),
  codemode: async () => (await import('./codemode-bench.js')).runCodeModeBench(),
  analysis: async () => (await import('./analysis-bench.js')).runAnalysisBench(),
  agent: async () => (await import('./agent-bench.js')).runAgentBench(),
};

async function main(): Promise<number> {
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
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
      results[name] = await BENCHES[name]!();
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
    else if (r.error === undefined) console.error(`benchmark ${name} returned no rows for the table`);
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

process.exitCode = await main();
