/**
 * Python facts from Python's own parser, in a resident helper process the host
 * starts once (`python3 -I -S python-facts.py`). Trusted code parsing untrusted
 * text: input size and time are bounded here, recursion and memory in the
 * helper. A crash or timeout reports `unanalysed` and never blocks a run.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Dataflow, Extraction } from '../types.js';
import type { PythonTriggers } from './python-triggers.js';

export interface PythonHelperOptions {
  /** The interpreter (Debian's, not the sandbox's). */
  python?: string;
  /** Longest wait for one answer before the helper is killed and restarted. */
  timeoutMs?: number;
  /** Larger sources are not analysed. */
  maxBytes?: number;
  /** The bytecode fast path's triggers (pythonTriggers(rules)); without them every cell is walked. */
  triggers?: PythonTriggers;
}

const SCRIPT = fileURLToPath(new URL('./python-facts.py', import.meta.url));

type Reply = Extraction & Partial<Dataflow>;

interface Pending {
  resolve: (e: Reply) => void;
  timer: NodeJS.Timeout;
}

export class PythonHelper {
  #child: ChildProcessWithoutNullStreams | null = null;
  #pending = new Map<number, Pending>();
  #nextId = 1;
  #buffer = '';
  readonly #python: string;
  readonly #timeoutMs: number;
  readonly #maxBytes: number;
  readonly #triggers: PythonTriggers | undefined;

  constructor(options: PythonHelperOptions = {}) {
    this.#python = options.python ?? '/usr/bin/python3';
    this.#timeoutMs = options.timeoutMs ?? 2000;
    this.#maxBytes = options.maxBytes ?? 1 << 20;
    this.#triggers = options.triggers;
  }

  async extract(code: string): Promise<Extraction> {
    const r = await this.#request(code);
    const out: Extraction = { facts: Array.isArray(r.facts) ? r.facts : [] };
    if (r.syntaxError) out.syntaxError = r.syntaxError;
    if (r.unanalysed) out.unanalysed = r.unanalysed;
    return out;
  }

  /** The top-level names the cell defines and reads (and what cannot be known statically). */
  async dataflow(code: string): Promise<Dataflow> {
    const r = await this.#request(code, 'dataflow');
    if (r.unanalysed) return { defs: [], uses: [], unknown: [{ reason: `not analysed: ${r.unanalysed}`, line: 1 }] };
    return { defs: r.defs ?? [], uses: r.uses ?? [], unknown: r.unknown ?? [] };
  }

  #request(code: string, want?: 'dataflow'): Promise<Reply> {
    if (Buffer.byteLength(code) > this.#maxBytes)
      return Promise.resolve({ facts: [], unanalysed: `larger than ${this.#maxBytes} bytes` });
    const child = this.#start();
    if (!child) return Promise.resolve({ facts: [], unanalysed: 'the Python parser helper could not start' });
    const id = this.#nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#fail(`the Python parser took longer than ${this.#timeoutMs} ms`);
      }, this.#timeoutMs);
      this.#pending.set(id, { resolve, timer });
      this.#ref(true);
      child.stdin.write(JSON.stringify(want ? { id, code, want } : { id, code }) + '\n');
    });
  }

  close(): void {
    this.#fail('the analyser was closed');
  }

  #start(): ChildProcessWithoutNullStreams | null {
    if (this.#child) return this.#child;
    let child: ChildProcessWithoutNullStreams;
    try {
      child = spawn(this.#python, ['-I', '-S', '-B', SCRIPT], { env: {}, stdio: 'pipe' });
    } catch {
      return null; // spawn throws synchronously only for bad arguments; reported as "could not start"
    }
    this.#child = child;
    this.#buffer = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => this.#onData(chunk));
    child.stderr.resume(); // a traceback on stderr is not needed: a crash is reported by exit
    child.stdin.on('error', () => this.#fail('the Python parser helper stopped'));
    child.on('error', () => this.#fail('the Python parser helper could not start'));
    child.on('exit', () => {
      if (this.#child === child) this.#fail('the Python parser helper exited');
    });
    if (this.#triggers) child.stdin.write(JSON.stringify({ triggers: this.#triggers }) + '\n');
    this.#ref(false);
    return child;
  }

  #onData(chunk: string): void {
    this.#buffer += chunk;
    let nl: number;
    while ((nl = this.#buffer.indexOf('\n')) >= 0) {
      const line = this.#buffer.slice(0, nl);
      this.#buffer = this.#buffer.slice(nl + 1);
      let reply: Reply & { id?: number };
      try {
        reply = JSON.parse(line) as Reply & { id?: number };
      } catch {
        this.#fail('the Python parser helper sent a malformed reply');
        return;
      }
      const pending = reply.id === undefined ? undefined : this.#pending.get(reply.id);
      if (!pending) continue;
      this.#pending.delete(reply.id!);
      clearTimeout(pending.timer);
      pending.resolve(reply);
    }
    if (this.#pending.size === 0) this.#ref(false);
  }

  /** Ends the helper (it restarts on the next request) and answers every waiting request "unanalysed". */
  #fail(reason: string): void {
    const child = this.#child;
    this.#child = null;
    if (child && child.exitCode === null) child.kill('SIGKILL');
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.resolve({ facts: [], unanalysed: reason });
    }
    this.#pending.clear();
  }

  /** An idle helper must not keep the host process alive. */
  #ref(on: boolean): void {
    const child = this.#child;
    if (!child) return;
    const streams = [child.stdout, child.stdin, child.stderr] as unknown as { ref?: () => void; unref?: () => void }[];
    if (on) {
      child.ref();
      for (const s of streams) s.ref?.();
    } else {
      child.unref();
      for (const s of streams) s.unref?.();
    }
  }
}
