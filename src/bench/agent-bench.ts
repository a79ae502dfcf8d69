/**
 * The agent loop's own cost per step, model latency excluded (the model is the
 * scripted loopback server, whose turns are written at once):
 *
 * - a run_code step in a real sandboxed session (step_start to step_end:
 *   the model request over HTTP/SSE through the real provider adapter, the
 *   execution, the observation) beside the floor of the bare
 *   `SessionManager.execute` of the same code in the same session, sampled
 *   alternately; target floor + 5 ms;
 * - the loop alone with an instant session (no sandbox), target < 5 ms a step,
 *   and with an in-process mock model (no HTTP), for information;
 * - the task suite with scripted correct solutions: every checker must pass.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { LanguageModelV3StreamPart } from '@ai-sdk/provider';
import { MockLanguageModelV3, convertArrayToReadableStream } from 'ai/test';
import type { AgentEvent } from '../agent/contract.js';
import { runAgent } from '../agent/loop.js';
import { startScriptedServer, type ScriptedServer, type ScriptedTurn } from '../agent/scripted-server.js';
import { runTaskSuite, scriptedSolution } from '../agent/tasks/runner.js';
import type { SessionExecResult, SessionService } from '../sessions/contract.js';
import { makeRow, median, round, type ReportRow } from './report.js';

export interface AgentBenchOptions {
  /** Rounds of (one agent run of `stepsPerRun` steps, the same number of bare executions). */
  rounds?: number;
  stepsPerRun?: number;
  /** Skip the task suite (it starts a session per task). */
  suite?: boolean;
}

/** A session whose executions return at once: what remains is the loop's own work. */
function instantSession(): SessionService {
  let n = 0;
  return {
    async create() {
      return { id: 'bench' };
    },
    get() {
      return { id: 'bench', language: 'python' };
    },
    async execute(_id: string, code: string) {
      n++;
      return {
        status: 'ok',
        exitCode: 0,
        signal: null,
        stdout: `${code.length}\n`,
        stderr: '',
        stdoutDroppedBytes: 0,
        stderrDroppedBytes: 0,
        durationMs: 0,
        executionId: `e${n}`,
        sessionId: 'bench',
        executionCount: n,
      } as unknown as SessionExecResult;
    },
    async writeFile(_id: string, p: string, content: Uint8Array) {
      return { path: p, size: content.length };
    },
    async close() {},
  } as unknown as SessionService;
}

const codeFor = (i: number) => `x_${i % 7} = ${i} * 2\nprint(x_${i % 7})`;

function stepsScript(steps: number, offset = 0): ScriptedTurn[] {
  const turns: ScriptedTurn[] = Array.from({ length: steps }, (_, i) => ({
    text: 'Next.',
    tools: [{ name: 'run_code', input: { code: codeFor(offset + i) } }],
  }));
  turns.push({ tools: [{ name: 'final_answer', input: { answer: 'done' } }] });
  return turns;
}

/** Durations of the run_code steps of a run, from its events. */
function stepTimer(): { onEvent: (e: AgentEvent) => void; samples: number[] } {
  const samples: number[] = [];
  let started = 0;
  let ranCode = false;
  return {
    samples,
    onEvent(e) {
      if (e.type === 'step_start') {
        started = performance.now();
        ranCode = false;
      } else if (e.type === 'result' && e.tool === 'run_code') ranCode = true;
      else if (e.type === 'step_end' && ranCode) samples.push(performance.now() - started);
    },
  };
}

const env = (server: ScriptedServer) => ({
  OPENAI_API_KEY: 'bench',
  ANTHROPIC_API_KEY: 'bench',
  OPENAI_BASE_URL: server.openaiBaseURL,
  ANTHROPIC_BASE_URL: server.anthropicBaseURL,
});

export async function runAgentBench(options: AgentBenchOptions = {}): Promise<{ rows: ReportRow[] }> {
  const rounds = options.rounds ?? 12;
  const steps = options.stepsPerRun ?? 10;
  const rows: ReportRow[] = [];
  const server = await startScriptedServer();
  const root = mkdtempSync(path.join(os.tmpdir(), 'codemode-agent-bench-'));
  chmodSync(root, 0o755);
  const { createProcessSandbox } = await import('../sandbox/process/process-sandbox.js');
  const { SessionManager } = await import('../sessions/session-manager.js');
  const sessions = new SessionManager({
    sandbox: await createProcessSandbox(),
    store: null,
    workspaceRoot: root,
    pool: false,
  });
  try {
    // 1. A step in a real session beside the bare execution of the same code.
    const info = await sessions.create({ language: 'python' });
    const session = { service: sessions, id: info.id };
    const stepSamples: number[] = [];
    const floorSamples: number[] = [];
    const floor = async (offset: number) => {
      for (let i = 0; i < steps; i++) {
        const t0 = performance.now();
        await sessions.execute(info.id, codeFor(offset + i));
        floorSamples.push(performance.now() - t0);
      }
    };
    const subject = async (offset: number) => {
      server.script(stepsScript(steps, offset));
      const timer = stepTimer();
      const r = await runAgent({
        task: 'bench',
        model: 'openai:gpt-4.1',
        env: env(server),
        session,
        budgets: { maxSteps: steps + 2 },
        checkpoints: false, // the loop's own cost: a git commit per step is a feature, not loop overhead
        onEvent: timer.onEvent,
      });
      if (!r.ok) throw new Error(`bench run failed: ${r.message}`);
      stepSamples.push(...timer.samples);
    };
    for (let r = 0; r < rounds + 1; r++) {
      const before = [stepSamples.length, floorSamples.length] as const;
      if (r % 2 === 0) {
        await subject(r * steps);
        await floor(r * steps);
      } else {
        await floor(r * steps);
        await subject(r * steps);
      }
      if (r === 0) {
        // Warm-up round: dropped.
        stepSamples.length = before[0];
        floorSamples.length = before[1];
      }
    }
    rows.push(
      makeRow(
        'run_code step (scripted model over HTTP, real session)',
        stepSamples,
        floorSamples,
        { kind: 'plus', ms: 5 },
        {
          overheadMs: round(median(stepSamples) - median(floorSamples)),
          floorIs: 'SessionManager.execute of the same code in the same session',
        },
      ),
    );

    // 2. The loop alone, both wire formats, and without HTTP.
    for (const provider of ['openai:gpt-4.1', 'anthropic:claude-sonnet-4-5']) {
      const perStep: number[] = [];
      const cpuPerStep: number[] = [];
      for (let r = 0; r < rounds + 2; r++) {
        server.script(stepsScript(steps - 1));
        const timer = stepTimer();
        const cpu0 = process.cpuUsage();
        const result = await runAgent({
          task: 'bench',
          model: provider,
          env: env(server),
          sessionService: instantSession(),
          budgets: { maxSteps: steps + 1 },
          checkpoints: false,
          onEvent: timer.onEvent,
        });
        const cpu = process.cpuUsage(cpu0);
        if (!result.ok) throw new Error(`bench run failed: ${result.message}`);
        if (r >= 2) {
          perStep.push(...timer.samples);
          cpuPerStep.push((cpu.user + cpu.system) / 1000 / result.steps);
        }
      }
      const wire = provider.split(':')[0];
      rows.push(makeRow(`loop step, instant session (${wire} wire)`, perStep, null, { kind: 'under', ms: 5 }));
      // CPU time is what the loop costs whatever else the machine runs (the scripted server's share included).
      rows.push(
        makeRow(`loop step CPU time (${wire} wire, with the scripted server)`, cpuPerStep, null, {
          kind: 'under',
          ms: 5,
        }),
      );
    }
    const mockSteps: number[] = [];
    for (let r = 0; r < rounds + 2; r++) {
      let i = 0;
      const model = new MockLanguageModelV3({
        doStream: async () => {
          const last = ++i >= steps;
          const parts: LanguageModelV3StreamPart[] = [
            { type: 'stream-start', warnings: [] },
            last
              ? { type: 'tool-call', toolCallId: `c${i}`, toolName: 'final_answer', input: '{"answer":"done"}' }
              : {
                  type: 'tool-call',
                  toolCallId: `c${i}`,
                  toolName: 'run_code',
                  input: JSON.stringify({ code: codeFor(i) }),
                },
            {
              type: 'finish',
              finishReason: { unified: 'tool-calls', raw: undefined },
              usage: {
                inputTokens: { total: 10, noCache: 10, cacheRead: 0, cacheWrite: 0 },
                outputTokens: { total: 5, text: 5, reasoning: 0 },
              },
            },
          ];
          return { stream: convertArrayToReadableStream(parts) };
        },
      });
      const timer = stepTimer();
      const result = await runAgent({
        task: 'bench',
        model,
        sessionService: instantSession(),
        budgets: { maxSteps: steps + 1 },
        checkpoints: false,
        onEvent: timer.onEvent,
      });
      if (!result.ok) throw new Error(`bench run failed: ${result.message}`);
      if (r >= 2) mockSteps.push(...timer.samples);
    }
    rows.push(makeRow('loop step, instant session, in-process mock model', mockSteps, null, { kind: 'info' }));

    // 3. The task suite with scripted correct solutions.
    if (options.suite !== false) {
      const suite = await runTaskSuite({
        model: 'openai:gpt-4.1',
        env: env(server),
        sessions,
        beforeTask: (task) => server.script(scriptedSolution(task)),
      });
      const durations = suite.outcomes.map((o) => o.durationMs);
      const row = makeRow(`task suite, scripted solutions: ${suite.passed}/${suite.total} passed`, durations, null, {
        kind: 'info',
      });
      rows.push({
        ...row,
        target: `${suite.total}/${suite.total} pass`,
        verdict: suite.passed === suite.total ? 'PASS' : 'MISS',
        detail: { ...row.detail, failed: suite.outcomes.filter((o) => !o.passed) },
      });
    }
  } finally {
    await sessions.shutdown();
    await server.close();
    rmSync(root, { recursive: true, force: true });
  }
  return { rows };
}

const isEntry = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isEntry) {
  const { formatTable } = await import('./report.js');
  const { rows } = await runAgentBench({ suite: !process.argv.includes('--no-suite') });
  console.log(formatTable(rows));
}
