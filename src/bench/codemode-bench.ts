/**
 * Code Mode benchmark: one scripted multi-step task over the real server-filesystem
 * and server-memory, done by direct tool calling and by one Code Mode program.
 * Compares the tokens a model's context carries (gpt-tokenizer) and wall time,
 * and measures the cold start of an isolate plus one tool call.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
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

export const TOKEN_REDUCTION_TARGET = 0.9;
export const COLD_START_TARGET_MS = 10;

export interface CodeModeBenchOptions {
  /** Data-set sizes (customer records) to run the task at. Default [10, 40, 100]. */
  sizes?: number[];
  /** Samples for the cold-start median. Default 30. */
  runs?: number;
  /** Where the table goes. Default console.log. */
  log?: (line: string) => void;
}

export interface TokenBreakdown {
  total: number;
  parts: Record<string, number>;
}

export interface TaskRun {
  customers: number;
  matches: number;
  tokens: { direct: TokenBreakdown; codeMode: TokenBreakdown; reduction: number; targetMet: boolean };
  wallMs: { direct: number; codeMode: number };
  toolCalls: { direct: number; codeMode: number };
}

export interface CodeModeBenchReport {
  task: string;
  runs: TaskRun[];
  coldStart: { runs: number; isolateOnlyMedianMs: number; isolatePlusToolCallMedianMs: number; targetMet: boolean };
  /** Where the isolates ran (a worker process, its cgroup). */
  isolation: { backend: string; cgroup: string; memoryCap: string | null; pidsCap: number | null };
}

const TASK =
  'Read every customer record in customers/, find the EU customers on the "pro" plan, total their MRR, ' +
  'record a summary entity (one observation per customer) in the memory graph, and write report.md.';

const REGIONS = ['eu', 'us', 'apac'];
const PLANS = ['free', 'pro', 'enterprise'];

function median(samples: number[]): number {
  const s = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

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

async function runTask(runtime: CodeModeRuntime, root: string, count: number, codeModeDefs: number): Promise<TaskRun> {
  const dir = path.join(root, `customers-${count}`);
  mkdirSync(dir);
  for (let i = 1; i <= count; i++) {
    const r = customerRecord(i);
    writeFileSync(path.join(dir, `${String(r.id)}.json`), JSON.stringify(r, null, 2));
  }
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

  // --- Code Mode: two tool definitions (with the summary), one search, the program and the reply.
  const codeParts: Record<string, number> = {};
  codeParts['tool definitions (+summary)'] = codeModeDefs;
  const query = 'list directory read multiple files create entities write file';
  const search = await runtime.searchTools(query, 'signatures', 4);
  codeParts['search_tools call + result'] = tokens(
    JSON.stringify({ name: 'search_tools', arguments: { query, detail: 'signatures' } }) + search,
  );
  const program = `const dir = ${JSON.stringify(dir)};
const listing = (await codemode.filesystem.list_directory({ path: dir })).content;
const paths = listing.split("\\n").filter((l) => l.startsWith("[FILE]")).map((l) => dir + "/" + l.slice(7).trim());
const text = (await codemode.filesystem.read_multiple_files({ paths })).content;
const rows = text.split("\\n---\\n").map((c) => JSON.parse(c.slice(c.indexOf("{"))));
const hits = rows.filter((c) => c.region === "eu" && c.plan === "pro");
const total = hits.reduce((s, c) => s + c.mrr, 0);
const lines = hits.map((c) => c.name + ": " + c.mrr + " MRR");
await codemode.memory.create_entities({ entities: [{ name: "EU pro customers (${count})", entityType: "report", observations: [...lines, "total MRR " + total] }] });
await codemode.filesystem.write_file({ path: dir + "/../report-${count}.md", content: "# EU pro customers\\n\\n" + lines.map((l) => "- " + l).join("\\n") + "\\n\\nTotal MRR: " + total + "\\n" });
return { customers: rows.length, matches: hits.length, totalMrr: total };`;
  codeParts['program'] = tokens(
    JSON.stringify({ name: 'run_code_mode', arguments: { language: 'javascript', code: program } }),
  );
  const codeStarted = performance.now();
  const run = await runtime.run({ language: 'javascript', code: program });
  const codeMs = performance.now() - codeStarted;
  if (run.status !== 'ok') throw new Error(`code mode program failed: ${JSON.stringify(run.error ?? run.reason)}`);
  const value = run.value as { customers: number; matches: number; totalMrr: number };
  if (value.customers !== count || value.matches !== hits.length || value.totalMrr !== total) {
    throw new Error(`code mode and direct results differ: ${JSON.stringify(value)} vs ${hits.length}/${total}`);
  }
  codeParts['final result'] = tokens(formatRunReply(run));

  const directTotal = Object.values(directParts).reduce((a, b) => a + b, 0);
  const codeTotal = Object.values(codeParts).reduce((a, b) => a + b, 0);
  const reduction = 1 - codeTotal / directTotal;
  return {
    customers: count,
    matches: hits.length,
    tokens: {
      direct: { total: directTotal, parts: directParts },
      codeMode: { total: codeTotal, parts: codeParts },
      reduction: Math.round(reduction * 1000) / 1000,
      targetMet: reduction >= TOKEN_REDUCTION_TARGET,
    },
    wallMs: { direct: Math.round(directMs * 10) / 10, codeMode: Math.round(codeMs * 10) / 10 },
    toolCalls: { direct: directCalls, codeMode: run.toolCalls.length },
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
    for (const size of sizes) runs.push(await runTask(runtime, root, size, codeModeDefs));

    // Cold start: a fresh isolate per run (in the warm worker process), alone and with one tool call.
    const isolateOnly: number[] = [];
    const withCall: number[] = [];
    for (let i = 0; i < samples; i++) {
      let t = performance.now();
      await runtime.run({ language: 'javascript', code: 'return 1;' });
      isolateOnly.push(performance.now() - t);
      t = performance.now();
      const r = await runtime.run({
        language: 'javascript',
        code: 'return await codemode.memory.open_nodes({ names: ["x"] });',
      });
      withCall.push(performance.now() - t);
      if (r.status !== 'ok') throw new Error(`cold-start run failed: ${JSON.stringify(r.error)}`);
    }
    const coldMedian = median(withCall);
    const report: CodeModeBenchReport = {
      task: TASK,
      runs,
      coldStart: {
        runs: samples,
        isolateOnlyMedianMs: Math.round(median(isolateOnly) * 100) / 100,
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

function printReport(r: CodeModeBenchReport, log: (line: string) => void): void {
  const col = (v: string | number, n = 12) => String(v).padStart(n);
  log(`Code Mode bench. Task: ${r.task}`);
  log('');
  log(
    `${'records'.padEnd(8)}${col('matches', 9)}${col('direct tok')}${col('code tok')}${col('reduction')}` +
      `${col('calls d/c')}${col('direct ms')}${col('code ms')}`,
  );
  for (const t of r.runs) {
    log(
      `${String(t.customers).padEnd(8)}${col(t.matches, 9)}${col(t.tokens.direct.total)}${col(t.tokens.codeMode.total)}` +
        `${col(`${(t.tokens.reduction * 100).toFixed(1)}%`)}${col(`${t.toolCalls.direct}/1`)}` +
        `${col(t.wallMs.direct)}${col(t.wallMs.codeMode)}`,
    );
  }
  const last = r.runs.at(-1);
  if (last) {
    log('');
    log(`token breakdown at ${last.customers} records:`);
    for (const [k, v] of Object.entries(last.tokens.direct.parts)) log(`  direct    ${k.padEnd(30)}${col(v, 7)}`);
    for (const [k, v] of Object.entries(last.tokens.codeMode.parts)) log(`  code mode ${k.padEnd(30)}${col(v, 7)}`);
  }
  log('');
  log(
    `token target (>= ${TOKEN_REDUCTION_TARGET * 100}% fewer): ` +
      r.runs.map((t) => `${t.customers} records ${t.tokens.targetMet ? 'met' : 'NOT met'}`).join(', '),
  );
  log(
    `isolate cold start, median of ${r.coldStart.runs}: ${r.coldStart.isolateOnlyMedianMs} ms alone, ` +
      `${r.coldStart.isolatePlusToolCallMedianMs} ms with one tool call ` +
      `(target < ${COLD_START_TARGET_MS} ms: ${r.coldStart.targetMet ? 'met' : 'NOT met'})`,
  );
  log(
    `isolates ran in: ${r.isolation.backend}, cgroup ${r.isolation.cgroup}` +
      (r.isolation.memoryCap ? ` (memory cap ${r.isolation.memoryCap}, pids ${String(r.isolation.pidsCap)})` : ''),
  );
}
