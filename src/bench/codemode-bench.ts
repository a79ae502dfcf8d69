/**
 * Code Mode benchmark: scripted multi-step tasks over the real server-filesystem
 * and server-memory, each done by direct tool calling and by Code Mode. Compares
 * the tokens a model's context carries (gpt-tokenizer), counting every call the
 * Code Mode side makes: searches, exploratory runs, failed attempts and their
 * retries, and the final program. One task learns the output format through
 * search_tools and a sample instead of hard-coding it. Every task is reported.
 * Also measures an isolate plus one tool call beside the tool call alone.
 */
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/server';
import { encode } from 'gpt-tokenizer';
import { CodeModeRuntime } from '../codemode/codemode.js';
import { parseCodeModeConfig } from '../codemode/config.js';
import type { CallToolResultLike } from '../codemode/upstream.js';
import { formatRunReply, registerCodeModeTools } from '../mcp/tools/code-mode.js';
import { registryFor } from '../mcp/server.js';
import { interleave, makeRow, median, type ReportRow, type SubjectFilter } from './report.js';

export const TOKEN_REDUCTION_TARGET = 0.9;
/** Isolate + one tool call, median (issue 10). */
export const COLD_START_TARGET_MS = 2.5;

export interface CodeModeBenchOptions {
  /** Data-set sizes (customer records) to run the task at. Default [10, 40, 100]. */
  sizes?: number[];
  /** Samples for the cold-start median. Default 30. */
  runs?: number;
  /** Where the table goes. Default console.log. */
  log?: (line: string) => void;
  /** Which subjects to measure (`--only`): `isolate` skips the token tasks. Default: all. */
  only?: SubjectFilter;
}

export interface TokenBreakdown {
  total: number;
  parts: Record<string, number>;
}

export interface TaskRun {
  task: string;
  customers: number;
  matches: number;
  tokens: { direct: TokenBreakdown; codeMode: TokenBreakdown; reduction: number; targetMet: boolean };
  wallMs: { direct: number; codeMode: number };
  toolCalls: { direct: number; codeMode: number };
  /** Code Mode calls made only to learn something (search_tools, sample runs). */
  exploratoryCalls: number;
  /** Code Mode programs that failed and were written again. */
  retries: number;
}

export interface CodeModeBenchReport {
  tasks: Record<string, string>;
  runs: TaskRun[];
  rows: ReportRow[];
  coldStart: { runs: number; isolateOnlyMedianMs: number; isolatePlusToolCallMedianMs: number; targetMet: boolean };
  /** Where the isolates ran (a worker process, its cgroup). */
  isolation: { backend: string; cgroup: string; memoryCap: string | null; pidsCap: number | null };
}

const TASKS = {
  'eu-pro-report':
    'Read every customer record in customers/, find the EU customers on the "pro" plan, total their MRR, ' +
    'record a summary entity (one observation per customer) in the memory graph, and write report.md.',
  'eu-pro-report, format learned':
    'The same task, but the program does not know how read_multiple_files formats its output: it reads the ' +
    'tool through search_tools, looks at a sample, and its first guess (one JSON document) fails and is retried.',
  'plans-by-region': 'Count the customers on each plan per region and record the table as one memory entity.',
} as const;

const REGIONS = ['eu', 'us', 'apac'];
const PLANS = ['free', 'pro', 'enterprise'];

function tokens(text: string): number {
  return encode(text).length;
}

function customerRecord(i: number): Record<string, unknown> {
  return {
    id: `c-${String(i).padStart(3, '0')}`,
    name: `Customer ${i}`,
    region: REGIONS[i % REGIONS.length],
    plan: PLANS[Math.floor(i / REGIONS.length) % PLANS.length],
    mrr: 50 + ((i * 37) % 400),
    contact: { email: `ops${i}@customer${i}.example`, phone: `+1-555-01${String(i).padStart(2, '0')}` },
    notes: `Signed ${2019 + (i % 5)}. Uses the API daily; last ticket was about invoices and SSO configuration.`,
  };
}

function resultText(r: CallToolResultLike): string {
  return (r.content ?? []).map((c) => (c as { text?: string }).text ?? JSON.stringify(c)).join('\n');
}

/** Tool definitions as an LLM API receives them: name, description, input schema. */
function toolDefinitions(tools: { name: string; description?: string; inputSchema?: unknown }[]): string {
  return JSON.stringify(
    tools.map((t) => ({ name: t.name, description: t.description ?? '', input_schema: t.inputSchema })),
  );
}

function nodeModule(rel: string): string {
  return fileURLToPath(new URL(`../../node_modules/@modelcontextprotocol/${rel}`, import.meta.url));
}

/** The Code Mode side's transcript: every call the model makes and what comes back, in tokens. */
class CodeModeTranscript {
  readonly parts: Record<string, number> = {};
  calls = 0;
  exploratory = 0;
  retries = 0;
  ms = 0;

  constructor(
    private readonly runtime: CodeModeRuntime,
    definitions: number,
  ) {
    this.parts['tool definitions (+summary)'] = definitions;
  }

  private add(part: string, n: number): void {
    this.parts[part] = (this.parts[part] ?? 0) + n;
  }

  async search(query: string, detail: 'names' | 'signatures' | 'full'): Promise<string> {
    this.calls++;
    this.exploratory++;
    const result = await this.runtime.searchTools(query, detail, 4);
    this.add(
      'search_tools calls + results',
      tokens(JSON.stringify({ name: 'search_tools', arguments: { query, detail } }) + result),
    );
    return result;
  }

  /** One run_code_mode call; `kind` says why the model made it. */
  async run(code: string, kind: 'explore' | 'attempt' | 'final'): Promise<Awaited<ReturnType<CodeModeRuntime['run']>>> {
    this.calls++;
    if (kind === 'explore') this.exploratory++;
    const t0 = performance.now();
    const result = await this.runtime.run({ language: 'javascript', code });
    this.ms += performance.now() - t0;
    const call = tokens(JSON.stringify({ name: 'run_code_mode', arguments: { language: 'javascript', code } }));
    const reply = tokens(formatRunReply(result));
    const part =
      kind === 'final'
        ? 'program + result'
        : kind === 'explore'
          ? 'exploratory runs + results'
          : 'failed attempts + errors';
    this.add(part, call + reply);
    if (kind === 'attempt' && result.status !== 'ok') this.retries++;
    return result;
  }

  get total(): number {
    return Object.values(this.parts).reduce((a, b) => a + b, 0);
  }
}

function writeCustomers(root: string, name: string, count: number): string {
  const dir = path.join(root, name);
  mkdirSync(dir);
  for (let i = 1; i <= count; i++) {
    const r = customerRecord(i);
    writeFileSync(path.join(dir, `${String(r.id)}.json`), JSON.stringify(r, null, 2));
  }
  return dir;
}

/** The program every eu-pro variant ends with (the format known). */
function euProProgram(dir: string, label: string): string {
  return `const dir = ${JSON.stringify(dir)};
const listing = (await codemode.filesystem.list_directory({ path: dir })).content;
const paths = listing.split("\\n").filter((l) => l.startsWith("[FILE]")).map((l) => dir + "/" + l.slice(7).trim());
const text = (await codemode.filesystem.read_multiple_files({ paths })).content;
const rows = text.split("\\n---\\n").map((c) => JSON.parse(c.slice(c.indexOf("{"))));
const hits = rows.filter((c) => c.region === "eu" && c.plan === "pro");
const total = hits.reduce((s, c) => s + c.mrr, 0);
const lines = hits.map((c) => c.name + ": " + c.mrr + " MRR");
await codemode.memory.create_entities({ entities: [{ name: "EU pro customers (${label})", entityType: "report", observations: [...lines, "total MRR " + total] }] });
await codemode.filesystem.write_file({ path: dir + "/../report-${label}.md", content: "# EU pro customers\\n\\n" + lines.map((l) => "- " + l).join("\\n") + "\\n\\nTotal MRR: " + total + "\\n" });
return { customers: rows.length, matches: hits.length, totalMrr: total };`;
}

async function runTask(
  runtime: CodeModeRuntime,
  root: string,
  count: number,
  codeModeDefs: number,
  learnFormat = false,
): Promise<TaskRun> {
  const task: keyof typeof TASKS = learnFormat ? 'eu-pro-report, format learned' : 'eu-pro-report';
  const label = `${learnFormat ? 'learned-' : ''}${count}`;
  const dir = writeCustomers(root, `customers-${label}`, count);
  const catalog = await runtime.catalog();
  const up = runtime.upstream;

  // --- Direct tool calling: the model sees every definition, call and result.
  const directParts: Record<string, number> = {};
  directParts['tool definitions'] = tokens(toolDefinitions(catalog.entries.map((e) => e.info)));
  let callsText = '';
  let resultsText = '';
  let directCalls = 0;
  const direct = async (server: string, tool: string, args: Record<string, unknown>) => {
    directCalls++;
    callsText += JSON.stringify({ name: `${server}__${tool}`, arguments: args });
    const text = resultText(await up.callTool(server, tool, args));
    resultsText += text;
    return text;
  };
  const directStarted = performance.now();
  const listing = await direct('filesystem', 'list_directory', { path: dir });
  const files = listing
    .split('\n')
    .filter((l) => l.startsWith('[FILE]'))
    .map((l) => path.join(dir, l.slice('[FILE] '.length).trim()));
  const contents = await direct('filesystem', 'read_multiple_files', { paths: files });
  const seen = contents
    .split(/\n---\n/)
    .map((chunk) => chunk.slice(chunk.indexOf('{')))
    .filter((json) => json.startsWith('{'))
    .map((json) => JSON.parse(json) as { name: string; region: string; plan: string; mrr: number });
  const hits = seen.filter((c) => c.region === 'eu' && c.plan === 'pro');
  const total = hits.reduce((sum, c) => sum + c.mrr, 0);
  const observations = hits.map((c) => `${c.name}: ${c.mrr} MRR`);
  await direct('memory', 'create_entities', {
    entities: [
      {
        name: `EU pro customers (direct, ${count})`,
        entityType: 'report',
        observations: [...observations, `total MRR ${total}`],
      },
    ],
  });
  await direct('filesystem', 'write_file', {
    path: path.join(root, `report-direct-${count}.md`),
    content: `# EU pro customers\n\n${observations.map((o) => `- ${o}`).join('\n')}\n\nTotal MRR: ${total}\n`,
  });
  const directMs = performance.now() - directStarted;
  directParts['tool calls (arguments)'] = tokens(callsText);
  directParts['tool results'] = tokens(resultsText);

  // --- Code Mode: the definitions, the searches, every run (exploratory, failed, final) and its reply.
  const cm = new CodeModeTranscript(runtime, codeModeDefs);
  await cm.search('list directory read multiple files create entities write file', 'signatures');
  if (learnFormat) {
    // What does read_multiple_files return? The tool's own description, then a sample.
    await cm.search('read multiple files', 'full');
    const sample = await cm.run(
      `const dir = ${JSON.stringify(dir)};
const listing = (await codemode.filesystem.list_directory({ path: dir })).content;
const paths = listing.split("\\n").filter((l) => l.startsWith("[FILE]")).slice(0, 2).map((l) => dir + "/" + l.slice(7).trim());
return { listing: listing.slice(0, 200), sample: (await codemode.filesystem.read_multiple_files({ paths })).content.slice(0, 700) };`,
      'explore',
    );
    if (sample.status !== 'ok') throw new Error(`the sample run failed: ${JSON.stringify(sample.error)}`);
    // A first guess that the output is one JSON document: it fails, and the model retries.
    const guess = await cm.run(
      `const dir = ${JSON.stringify(dir)};
const listing = (await codemode.filesystem.list_directory({ path: dir })).content;
const paths = listing.split("\\n").filter((l) => l.startsWith("[FILE]")).map((l) => dir + "/" + l.slice(7).trim());
const rows = JSON.parse((await codemode.filesystem.read_multiple_files({ paths })).content);
return rows.length;`,
      'attempt',
    );
    if (guess.status === 'ok') throw new Error('the wrong guess about the format unexpectedly worked');
  }
  const run = await cm.run(euProProgram(dir, label), 'final');
  if (run.status !== 'ok') throw new Error(`code mode program failed: ${JSON.stringify(run.error ?? run.reason)}`);
  const value = run.value as { customers: number; matches: number; totalMrr: number };
  if (value.customers !== count || value.matches !== hits.length || value.totalMrr !== total) {
    throw new Error(`code mode and direct results differ: ${JSON.stringify(value)} vs ${hits.length}/${total}`);
  }
  const codeParts = cm.parts;
  const codeMs = cm.ms;

  const directTotal = Object.values(directParts).reduce((a, b) => a + b, 0);
  const codeTotal = Object.values(codeParts).reduce((a, b) => a + b, 0);
  const reduction = 1 - codeTotal / directTotal;
  return {
    task,
    customers: count,
    matches: hits.length,
    tokens: {
      direct: { total: directTotal, parts: directParts },
      codeMode: { total: codeTotal, parts: codeParts },
      reduction: Math.round(reduction * 1000) / 1000,
      targetMet: reduction >= TOKEN_REDUCTION_TARGET,
    },
    wallMs: { direct: Math.round(directMs * 10) / 10, codeMode: Math.round(codeMs * 10) / 10 },
    toolCalls: { direct: directCalls, codeMode: cm.calls },
    exploratoryCalls: cm.exploratory,
    retries: cm.retries,
  };
}

/** Plans per region: direct reads every record; Code Mode runs one program. */
async function runPlansByRegion(
  runtime: CodeModeRuntime,
  root: string,
  count: number,
  codeModeDefs: number,
): Promise<TaskRun> {
  const dir = writeCustomers(root, `plans-${count}`, count);
  const catalog = await runtime.catalog();
  const up = runtime.upstream;
  const directParts: Record<string, number> = {
    'tool definitions': tokens(toolDefinitions(catalog.entries.map((e) => e.info))),
  };
  let transcript = '';
  let directCalls = 0;
  const direct = async (server: string, tool: string, args: Record<string, unknown>) => {
    directCalls++;
    const text = resultText(await up.callTool(server, tool, args));
    transcript += JSON.stringify({ name: `${server}__${tool}`, arguments: args }) + text;
    return text;
  };
  const t0 = performance.now();
  const listing = await direct('filesystem', 'list_directory', { path: dir });
  const files = listing
    .split('\n')
    .filter((l) => l.startsWith('[FILE]'))
    .map((l) => path.join(dir, l.slice('[FILE] '.length).trim()));
  const contents = await direct('filesystem', 'read_multiple_files', { paths: files });
  const table: Record<string, Record<string, number>> = {};
  for (const chunk of contents.split(/\n---\n/)) {
    const c = JSON.parse(chunk.slice(chunk.indexOf('{'))) as { region: string; plan: string };
    (table[c.region] ??= {})[c.plan] = (table[c.region]?.[c.plan] ?? 0) + 1;
  }
  const observations = Object.entries(table).map(([r, plans]) => `${r}: ${JSON.stringify(plans)}`);
  await direct('memory', 'create_entities', {
    entities: [{ name: `plans by region (direct, ${count})`, entityType: 'report', observations }],
  });
  const directMs = performance.now() - t0;
  directParts['tool calls + results'] = tokens(transcript);

  const cm = new CodeModeTranscript(runtime, codeModeDefs);
  await cm.search('list directory read multiple files create entities', 'signatures');
  const run = await cm.run(
    `const dir = ${JSON.stringify(dir)};
const listing = (await codemode.filesystem.list_directory({ path: dir })).content;
const paths = listing.split("\\n").filter((l) => l.startsWith("[FILE]")).map((l) => dir + "/" + l.slice(7).trim());
const text = (await codemode.filesystem.read_multiple_files({ paths })).content;
const table = {};
for (const c of text.split("\\n---\\n").map((c) => JSON.parse(c.slice(c.indexOf("{"))))) {
  table[c.region] ??= {};
  table[c.region][c.plan] = (table[c.region][c.plan] ?? 0) + 1;
}
const observations = Object.entries(table).map(([r, p]) => r + ": " + JSON.stringify(p));
await codemode.memory.create_entities({ entities: [{ name: "plans by region (${count})", entityType: "report", observations }] });
return table;`,
    'final',
  );
  if (run.status !== 'ok')
    throw new Error(`plans-by-region program failed: ${JSON.stringify(run.error ?? run.reason)}`);
  if (JSON.stringify(run.value) !== JSON.stringify(table)) {
    throw new Error(`code mode and direct tables differ: ${JSON.stringify(run.value)} vs ${JSON.stringify(table)}`);
  }
  const directTotal = Object.values(directParts).reduce((a, b) => a + b, 0);
  const reduction = 1 - cm.total / directTotal;
  return {
    task: 'plans-by-region',
    customers: count,
    matches: Object.keys(table).length,
    tokens: {
      direct: { total: directTotal, parts: directParts },
      codeMode: { total: cm.total, parts: cm.parts },
      reduction: Math.round(reduction * 1000) / 1000,
      targetMet: reduction >= TOKEN_REDUCTION_TARGET,
    },
    wallMs: { direct: Math.round(directMs * 10) / 10, codeMode: Math.round(cm.ms * 10) / 10 },
    toolCalls: { direct: directCalls, codeMode: cm.calls },
    exploratoryCalls: cm.exploratory,
    retries: cm.retries,
  };
}

export async function runCodeModeBench(options: CodeModeBenchOptions = {}): Promise<CodeModeBenchReport> {
  const sizes = options.sizes ?? [10, 40, 100];
  const samples = options.runs ?? 30;
  const log = options.log ?? ((line: string) => console.log(line));
  const root = mkdtempSync(path.join(tmpdir(), 'codemode-bench-'));
  const parsed = parseCodeModeConfig({
    mcpServers: {
      filesystem: { command: process.execPath, args: [nodeModule('server-filesystem/dist/index.js'), root] },
      memory: {
        command: process.execPath,
        args: [nodeModule('server-memory/dist/index.js')],
        env: { MEMORY_FILE_PATH: path.join(root, 'memory.jsonl') },
      },
    },
  });
  if (parsed.errors.length > 0) throw new Error(parsed.errors.map((e) => e.message).join('; '));
  const runtime = new CodeModeRuntime(parsed.config);
  const mcp = new McpServer({ name: 'codemode-bench', version: '0.0.0' });
  const client = new Client({ name: 'bench', version: '0.0.0' });
  try {
    // Warm both servers so neither path pays for process start-up.
    const catalog = await runtime.catalog();
    if (catalog.unavailable.length > 0) throw new Error(catalog.unavailable.map((u) => u.message).join('; '));
    // The Code Mode tool definitions exactly as an MCP client lists them.
    const handle = registerCodeModeTools(registryFor(mcp), runtime);
    await handle.ready;
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await mcp.connect(serverSide);
    await client.connect(clientSide);
    const codeModeDefs = tokens(toolDefinitions((await client.listTools()).tools));

    const runs: TaskRun[] = [];
    const want = options.only ?? (() => true);
    if (want('tokens')) {
      for (const size of sizes) runs.push(await runTask(runtime, root, size, codeModeDefs));
      for (const size of sizes) runs.push(await runTask(runtime, root, size, codeModeDefs, true));
      for (const size of sizes) runs.push(await runPlansByRegion(runtime, root, size, codeModeDefs));
    }

    // An isolate + one tool call, beside the same tool call made directly (interleaved).
    const toolCall = { names: ['x'] };
    const isolateOnly = await interleave(
      () => runtime.run({ language: 'javascript', code: 'return 1;' }),
      async () => undefined,
      samples,
      3,
    );
    // CPU time of the subject alone: this process around each run, the workers over the whole series
    // (it includes disposing each run's isolate and making the next one, off the request path).
    let hostCpuUs = 0;
    let subjectRuns = 0;
    const workerCpu0 = workerCpuMs(runtime);
    const withCall = await interleave(
      async () => {
        const cpu0 = process.cpuUsage();
        const r = await runtime.run({
          language: 'javascript',
          code: 'return await codemode.memory.open_nodes({ names: ["x"] });',
        });
        const cpu = process.cpuUsage(cpu0);
        hostCpuUs += cpu.user + cpu.system;
        subjectRuns++;
        if (r.status !== 'ok') throw new Error(`cold-start run failed: ${JSON.stringify(r.error)}`);
      },
      () => runtime.upstream.callTool('memory', 'open_nodes', toolCall),
      samples,
      3,
    );
    const workerCpuRun = workerCpuSince(workerCpu0, workerCpuMs(runtime));
    const cpuPerRun = {
      hostCpuMsPerRun: Math.round(hostCpuUs / 10 / subjectRuns) / 100,
      workerCpuMsPerRun: workerCpuRun === null ? null : Math.round((workerCpuRun * 100) / subjectRuns) / 100,
    };
    log(
      `isolate + one tool call, CPU per run: server ${cpuPerRun.hostCpuMsPerRun} ms, isolate worker ${String(cpuPerRun.workerCpuMsPerRun)} ms`,
    );
    const coldMedian = median(withCall.subject);
    const rows: ReportRow[] = [
      makeRow(
        'isolate + one tool call (floor: the tool call alone)',
        withCall.subject,
        withCall.floor,
        { kind: 'under', ms: COLD_START_TARGET_MS },
        cpuPerRun,
      ),
      makeRow('isolate alone', isolateOnly.subject, null, { kind: 'info' }),
      // Tokens, not ms: floor = direct tool calling, median = Code Mode (every call counted).
      ...runs.map((t) =>
        makeRow(
          `tokens: ${t.task}, ${t.customers} records (calls ${t.toolCalls.direct}/${t.toolCalls.codeMode}, explore ${t.exploratoryCalls}, retries ${t.retries})`,
          [t.tokens.codeMode.total],
          [t.tokens.direct.total],
          { kind: 'ratio', max: 1 - TOKEN_REDUCTION_TARGET },
          { unit: 'tokens' },
        ),
      ),
    ];
    const report: CodeModeBenchReport = {
      tasks: TASKS,
      runs,
      rows,
      coldStart: {
        runs: samples,
        isolateOnlyMedianMs: Math.round(median(isolateOnly.subject) * 100) / 100,
        isolatePlusToolCallMedianMs: Math.round(coldMedian * 100) / 100,
        targetMet: coldMedian < COLD_START_TARGET_MS,
      },
      isolation: {
        backend: runtime.isolates.isolation.backend,
        cgroup: runtime.isolates.isolation.cgroup,
        memoryCap: runtime.isolates.isolation.memoryCap,
        pidsCap: runtime.isolates.isolation.pidsCap,
      },
    };
    printReport(report, log);
    return report;
  } finally {
    await client.close().catch(() => undefined);
    await mcp.close().catch(() => undefined);
    await runtime.close();
    rmSync(root, { recursive: true, force: true });
  }
}

/** CPU time (user + system, ms) of each of the executor's worker processes so far; null where /proc is not readable. */
function workerCpuMs(runtime: CodeModeRuntime): Map<number, number> | null {
  const byPid = new Map<number, number>();
  for (const w of runtime.isolates.stats().workers) {
    try {
      const fields = readFileSync(`/proc/${w.pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      byPid.set(w.pid, ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS);
    } catch {
      return null;
    }
  }
  return byPid;
}

/** Worker CPU between two readings (a worker started in between counts whole; one gone in between is missed). */
function workerCpuSince(before: Map<number, number> | null, after: Map<number, number> | null): number | null {
  if (before === null || after === null) return null;
  let total = 0;
  for (const [pid, ms] of after) total += ms - (before.get(pid) ?? 0);
  return total;
}
/** USER_HZ, 100 on Linux. */
const CLOCK_TICKS = 100;

function printReport(r: CodeModeBenchReport, log: (line: string) => void): void {
  const col = (v: string | number, n = 12) => String(v).padStart(n);
  log('Code Mode bench. Tasks:');
  for (const [name, text] of Object.entries(r.tasks)) log(`  ${name}: ${text}`);
  log('');
  log(
    `${'task'.padEnd(32)}${col('records', 8)}${col('direct tok')}${col('code tok')}${col('reduction')}` +
      `${col('calls d/c')}${col('explore', 8)}${col('retries', 8)}${col('direct ms')}${col('code ms')}`,
  );
  for (const t of r.runs) {
    log(
      `${t.task.padEnd(32)}${col(t.customers, 8)}${col(t.tokens.direct.total)}${col(t.tokens.codeMode.total)}` +
        `${col(`${(t.tokens.reduction * 100).toFixed(1)}%`)}${col(`${t.toolCalls.direct}/${t.toolCalls.codeMode}`)}` +
        `${col(t.exploratoryCalls, 8)}${col(t.retries, 8)}${col(t.wallMs.direct)}${col(t.wallMs.codeMode)}`,
    );
  }
  for (const t of r.runs.filter((x) => x.customers === Math.max(...r.runs.map((y) => y.customers)))) {
    log('');
    log(`token breakdown, ${t.task} at ${t.customers} records:`);
    for (const [k, v] of Object.entries(t.tokens.direct.parts)) log(`  direct    ${k.padEnd(30)}${col(v, 7)}`);
    for (const [k, v] of Object.entries(t.tokens.codeMode.parts)) log(`  code mode ${k.padEnd(30)}${col(v, 7)}`);
  }
  log(
    `isolates ran in: ${r.isolation.backend}, cgroup ${r.isolation.cgroup}` +
      (r.isolation.memoryCap ? ` (memory cap ${r.isolation.memoryCap}, pids ${String(r.isolation.pidsCap)})` : ''),
  );
}
