/**
 * %agent TASK: the agent loop (src/agent) in the REPL's own session, so its
 * cells land in the same history and its variables stay for the user. Steps
 * stream as appended lines: the model's text, the code it runs, the output,
 * each result, and the final answer.
 */
import type { AgentEvent } from '../../agent/contract.js';
import type { SessionService } from '../../sessions/contract.js';
import type { MagicContext } from './magics.js';

export interface ReplAgentOptions {
  sessions: SessionService;
  sessionId: string;
  model: string;
  env: Record<string, string | undefined>;
  fetch?: typeof globalThis.fetch;
}

export function replAgent(o: ReplAgentOptions): NonNullable<MagicContext['agent']> {
  return async (task, signal, print) => {
    const { runAgent } = await import('../../agent/loop.js');
    let atLineStart = true;
    const write = (s: string) => {
      if (!s) return;
      print.out(s);
      atLineStart = s.endsWith('\n');
    };
    const line = (s: string) => write(`${atLineStart ? '' : '\n'}${s}\n`);
    const onEvent = (e: AgentEvent) => {
      switch (e.type) {
        case 'run_start':
          line(`agent · ${e.model} · session ${e.sessionId}`);
          break;
        case 'step_start':
          line(`── step ${e.step} ──`);
          break;
        case 'text_delta':
        case 'output_delta':
          write(e.text);
          break;
        case 'code':
          line(e.code.replace(/\n$/, '').replace(/^/gm, '  │ '));
          break;
        case 'result':
          line(`${e.ok ? '✔' : '✖'} ${e.tool}: ${e.status}`);
          break;
        case 'retry':
          line(`… ${e.error}; retrying in ${(e.delayMs / 1000).toFixed(1)} s`);
          break;
        case 'notice':
          line(`! ${e.message}`);
          break;
        case 'final':
          line(
            e.result.answer !== undefined ? `== answer ==\n${e.result.answer}` : `== stopped: ${e.result.message} ==`,
          );
          break;
        default:
          break;
      }
    };
    await runAgent({
      task,
      model: o.model,
      env: o.env,
      ...(o.fetch ? { fetch: o.fetch } : {}),
      session: { service: o.sessions, id: o.sessionId },
      keepSession: true,
      signal,
      onEvent,
    });
  };
}
