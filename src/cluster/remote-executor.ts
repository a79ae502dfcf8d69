/**
 * The gateway's Executor: one-shot runs go to the `codemode.run` queue group,
 * so whichever worker is free takes each. The run's output streams back to an
 * inbox of this gateway; aborting publishes a cancel for the run's id. Host
 * paths mean nothing on another machine, so `workspaceDir` is refused.
 */
import { randomBytes } from 'node:crypto';
import { AppError } from '../errors.js';
import type { ExecRequest, ExecResult, Executor } from '../sandbox/executor.js';
import { request, type Link } from './link.js';
import { execResultSchema, outputFrameSchema, parseFrame, SUBJECTS, toWire, type RunRequest } from './protocol.js';

export class RemoteExecutor implements Executor {
  constructor(
    private readonly link: Link,
    /** The ceiling's wall time: a run may take this long, plus a margin. */
    private readonly maxWallMs: number,
  ) {}

  async run(req: ExecRequest): Promise<ExecResult> {
    if (req.workspaceDir !== undefined) {
      throw new AppError(
        'INVALID_ARGUMENT',
        'a cluster runs code on workers: workspaceDir (a host path) cannot be used',
      );
    }
    const runId = `r${randomBytes(12).toString('hex')}`;
    const bytes = (v: string | Uint8Array) => toWire(typeof v === 'string' ? new TextEncoder().encode(v) : v);
    const body: RunRequest = {
      runId,
      language: req.language,
      code: req.code,
      ...(req.stdin === undefined ? {} : { stdin: bytes(req.stdin) }),
      ...(req.args === undefined ? {} : { args: req.args }),
      ...(req.files === undefined
        ? {}
        : { files: req.files.map((f) => ({ path: f.path, content: bytes(f.content) })) }),
      ...(req.limits === undefined ? {} : { limits: req.limits }),
    };
    const onOutput = req.onOutput;
    const outputSubject = onOutput === undefined ? undefined : this.link.inbox();
    const sub =
      outputSubject === undefined
        ? undefined
        : this.link.nc.subscribe(outputSubject, {
            callback: (_e, m) => {
              let value: unknown;
              try {
                value = JSON.parse(new TextDecoder().decode(m.data));
              } catch {
                return; // not JSON: dropped like any malformed frame
              }
              const chunk = outputFrameSchema.safeParse(value);
              if (chunk.success) onOutput?.({ stream: chunk.data.stream, text: chunk.data.text });
            },
          });
    const cancel = () => this.link.nc.publish(SUBJECTS.cancel(runId));
    req.signal?.addEventListener('abort', cancel, { once: true });
    try {
      const wallMs = Math.min(req.limits?.wallMs ?? this.maxWallMs, this.maxWallMs);
      const raw = await request(this.link, SUBJECTS.run, body, {
        timeoutMs: wallMs + 60_000,
        ...(outputSubject === undefined ? {} : { outputSubject }),
      });
      return parseFrame(execResultSchema, raw, 'run result') as unknown as ExecResult;
    } finally {
      req.signal?.removeEventListener('abort', cancel);
      sub?.unsubscribe();
    }
  }

  /** The link belongs to whoever opened it. */
  async close(): Promise<void> {}
}
