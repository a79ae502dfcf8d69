/**
 * Throttled `notifications/progress` for a long tool call: collects live
 * output and, at most every `intervalMs`, sends the output so far (its tail)
 * as the message. Progress is the elapsed time in ms, so it always increases.
 * Does nothing when the request carried no progressToken.
 */
import type { OutputChunk } from '../sandbox/executor.js';

export interface ProgressNotification {
  method: 'notifications/progress';
  params: { progressToken: string | number; progress: number; message?: string };
}

export interface ProgressReporterOptions {
  progressToken: string | number | undefined;
  send: (notification: ProgressNotification) => Promise<void>;
  intervalMs?: number;
  /** Characters of output carried in each message (the tail). */
  messageChars?: number;
  now?: () => number;
}

export interface ProgressReporter {
  /** Feed to ExecRequest.onOutput / SessionExecOptions.onOutput. */
  onOutput: (chunk: OutputChunk) => void;
  stop(): void;
}

export function createProgressReporter(options: ProgressReporterOptions): ProgressReporter {
  const token = options.progressToken;
  if (token === undefined) return { onOutput: () => {}, stop: () => {} };
  const intervalMs = options.intervalMs ?? 250;
  const messageChars = options.messageChars ?? 4000;
  const now = options.now ?? Date.now;
  const started = now();
  let output = '';
  let dirty = false;
  let lastProgress = 0;
  let stopped = false;

  const flush = (): void => {
    if (stopped) return;
    const progress = Math.max(now() - started, lastProgress + 1);
    lastProgress = progress;
    const message = dirty ? output.slice(-messageChars) : `running for ${Math.round(progress / 1000)} s`;
    dirty = false;
    options
      .send({ method: 'notifications/progress', params: { progressToken: token, progress, message } })
      .catch(() => {
        // The client went away; the run's own cancellation handles the rest.
      });
  };

  let ticks = 0;
  const heartbeatEvery = Math.max(1, Math.round(2000 / intervalMs));
  const timer = setInterval(() => {
    ticks += 1;
    if (dirty || ticks % heartbeatEvery === 0) flush();
  }, intervalMs);
  timer.unref();

  return {
    onOutput(chunk) {
      output = (output + chunk.text).slice(-messageChars * 2);
      dirty = true;
    },
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
