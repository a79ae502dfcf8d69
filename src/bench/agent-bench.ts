/**
 * The agent loop's own cost per step, without model latency or sandbox time:
 * the real provider adapters and HTTP client against the scripted loopback
 * server, and an instant in-memory session. Target: median under 5 ms a step.
 */
import type { AgentResult } from '../agent/contract.js';
import { runAgent } from '../agent/loop.js';
import { startScriptedServer, type ScriptedTurn } from '../agent/scripted-server.js';
import type { SessionExecResult, SessionService } from '../sessions/contract.js';
import { MockLanguageModelV3, convertArrayToReadableStream } from 'ai/test';
import type { LanguageModelV3StreamPart } from '@ai-sdk/provider';

export interface AgentBenchOptions {
  runs?: number;
  stepsPerRun?: number;
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
    async writeFile(_id: string, path: string, content: Uint8Array) {
      return { path, size: content.length };
    },
    async close() {},
  } as unknown as SessionService;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

export async function runAgentBench(options: AgentBenchOptions = {}): Promise<object> {
  const runs = options.runs ?? 20;
  const steps = options.stepsPerRun ?? 10;
  const server = await startScriptedServer();
  const results: Record<string, { medianMsPerStep: number; p90MsPerStep: number }> = {};
  try {
    for (const provider of ['openai:gpt-4.1', 'anthropic:claude-sonnet-4-5']) {
      const perStep: number[] = [];
      for (let r = 0; r < runs + 2; r++) {
        const turns: ScriptedTurn[] = Array.from({ length: steps - 1 }, (_, i) => ({
          text: 'Next.',
          tools: [{ name: 'run_code', input: { code: `x_${i} = ${i} * 2\nprint(x_${i})` } }],
        }));
        turns.push({ tools: [{ name: 'final_answer', input: { answer: 'done' } }] });
        server.script(turns);
        const t0 = performance.now();
        const result: AgentResult = await runAgent({
          task: 'bench',
          model: provider,
          env: {
            OPENAI_API_KEY: 'bench',
            ANTHROPIC_API_KEY: 'bench',
            OPENAI_BASE_URL: server.openaiBaseURL,
            ANTHROPIC_BASE_URL: server.anthropicBaseURL,
          },
          sessionService: instantSession(),
          budgets: { maxSteps: steps + 1 },
        });
        const ms = performance.now() - t0;
        if (!result.ok) throw new Error(`bench run failed: ${result.message}`);
        if (r >= 2) perStep.push(ms / result.steps); // two warm-up runs
      }
      const sorted = [...perStep].sort((a, b) => a - b);
      results[provider] = {
        medianMsPerStep: Number(median(perStep).toFixed(3)),
        p90MsPerStep: Number((sorted[Math.floor(sorted.length * 0.9)] ?? NaN).toFixed(3)),
      };
    }
  } finally {
    await server.close();
  }
  // The loop alone: an in-process model (no HTTP, no SSE parsing).
  const perStep: number[] = [];
  for (let r = 0; r < runs + 2; r++) {
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
                input: JSON.stringify({ code: `x = ${i}` }),
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
    const t0 = performance.now();
    const result = await runAgent({
      task: 'bench',
      model,
      sessionService: instantSession(),
      budgets: { maxSteps: steps + 1 },
    });
    if (!result.ok) throw new Error(`bench run failed: ${result.message}`);
    if (r >= 2) perStep.push((performance.now() - t0) / result.steps);
  }
  const sorted = [...perStep].sort((a, b) => a - b);
  results['in-process mock model'] = {
    medianMsPerStep: Number(median(perStep).toFixed(3)),
    p90MsPerStep: Number((sorted[Math.floor(sorted.length * 0.9)] ?? NaN).toFixed(3)),
  };
  console.table(results);
  return { runs, stepsPerRun: steps, targetMsPerStep: 5, results };
}

const isEntry = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isEntry) await runAgentBench();
