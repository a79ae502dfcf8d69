/**
 * The isolate worker: a child process of the server that runs Code Mode programs
 * in isolated-vm isolates, one run at a time, so nothing a program allocates
 * lands in the server's memory. It talks to the host only through framed
 * messages on fd 3 (isolate-protocol.ts); tool calls go to the host, which keeps
 * credentials and upstream connections. Sizes are measured here, in this realm,
 * after each copy out of the isolate, whatever the program did to its prototypes.
 * Started by isolate-executor.ts with `--no-node-snapshot` (isolated-vm needs it).
 */
import { Socket } from 'node:net';
import ivm from 'isolated-vm';
import {
  FrameReader,
  MAX_LOG_LINES_PER_FRAME,
  MAX_NAME_CHARS,
  OUTCOME_SLACK_CHARS,
  encodeFrame,
  type DoneMessage,
  type HostMessage,
  type WorkerMessage,
} from './isolate-protocol.js';

const USER_FILE = 'user-code.js';
/** Error messages and stacks are clipped to these many characters inside the isolate. */
const MAX_MESSAGE_CHARS = 16 * 1024;
const MAX_STACK_CHARS = 16 * 1024;

const BOOTSTRAP = String.raw`"use strict";
(() => {
  const call = globalThis.__cm_call;
  const log = globalThis.__cm_log;
  const done = globalThis.__cm_done;
  const { api, maxArg, maxResult, maxLog, maxInFlight } = JSON.parse(globalThis.__cm_setup);
  delete globalThis.__cm_call;
  delete globalThis.__cm_log;
  delete globalThis.__cm_done;
  delete globalThis.__cm_setup;
  // Captured before user code runs: replacing them later changes nothing here.
  const apply = Reflect.apply;
  const then = Promise.prototype.then;
  const slice = String.prototype.slice;
  const PromiseCtor = Promise;
  const stringify = JSON.stringify;
  const parse = JSON.parse;
  const ErrorCtor = Error;
  const TypeErrorCtor = TypeError;
  const RangeErrorCtor = RangeError;
  const isArray = Array.isArray;
  const freeze = Object.freeze;
  const StringCtor = String;
  const clip = (s, n) => (s.length > n ? apply(slice, s, [0, n]) + '... [clipped]' : s);

  // At most maxInFlight tool calls leave the isolate at once; the rest wait here,
  // their arguments still in the isolate's heap. The worker and the host check too.
  let inFlight = 0;
  const waiting = [];
  // Tool calls waiting for their reply, by id (no prototype: nothing user code changes reaches it).
  const replies = Object.create(null);
  let lastCall = 0;
  async function invoke(server, tool, label, args) {
    if (args === undefined) args = {};
    if (typeof args !== 'object' || args === null || isArray(args)) {
      throw new TypeErrorCtor(label + ': arguments must be an object, e.g. ' + label + '({ ... })');
    }
    let json;
    try {
      json = stringify(args);
    } catch (e) {
      const why = e && /circular|cyclic/i.test(StringCtor(e.message)) ? 'they contain a cycle' : StringCtor(e && e.message);
      throw new TypeErrorCtor(label + ': arguments cannot be sent as JSON (' + why + '); pass plain data');
    }
    if (typeof json !== 'string') json = '{}';
    if (json.length > maxArg) {
      throw new RangeErrorCtor(label + ': arguments are ' + json.length + ' characters of JSON, over the ' + maxArg + ' limit');
    }
    while (inFlight >= maxInFlight) await new PromiseCtor((resolve) => { waiting[waiting.length] = resolve; });
    inFlight++;
    let reply;
    try {
      // The worker answers at once (a refusal, as JSON text) or later through the deliver function.
      reply = await new PromiseCtor((resolve) => {
        const id = ++lastCall;
        const now = call(server, tool, json, id);
        if (typeof now === 'string') resolve(now);
        else replies[id] = resolve;
      });
    } finally {
      inFlight--;
      if (waiting.length > 0) {
        const next = waiting[0];
        for (let i = 1; i < waiting.length; i++) waiting[i - 1] = waiting[i];
        waiting.length--;
        next();
      }
    }
    const r = parse(reply);
    if (r.ok) return r.value;
    const err = new ErrorCtor(r.message);
    err.name = 'ToolError';
    err.code = r.code;
    err.tool = label;
    throw err;
  }

  const codemode = {};
  for (const s of api.servers) {
    if (s.unavailable) {
      codemode[s.identifier] = new Proxy(freeze({}), {
        get: (_target, tool) =>
          typeof tool === 'string' ? (args) => invoke(s.identifier, tool, 'codemode.' + s.identifier + '.' + tool, args) : undefined,
      });
      continue;
    }
    const ns = {};
    for (const t of s.tools) {
      const label = 'codemode.' + s.identifier + '.' + t;
      ns[t] = (args) => invoke(s.identifier, t, label, args);
    }
    codemode[s.identifier] = freeze(ns);
  }
  codemode.search_tools = (query, detail) =>
    invoke('', 'search_tools', 'codemode.search_tools', { query: StringCtor(query), detail: detail === undefined ? 'signatures' : StringCtor(detail) });
  Object.defineProperty(globalThis, 'codemode', { value: freeze(codemode), enumerable: true });

  const fmt = (v) => {
    if (typeof v === 'string') return v;
    if (v instanceof ErrorCtor) return v.name + ': ' + v.message;
    try {
      const s = stringify(v);
      return s === undefined ? StringCtor(v) : s;
    } catch (e) {
      return StringCtor(v);
    }
  };
  const logAt = (level) => (...a) => {
    const text = a.map(fmt).join(' ');
    log(level, typeof text === 'string' ? clip(text, maxLog) : '');
  };
  Object.defineProperty(globalThis, 'console', {
    value: freeze({ log: logAt('log'), info: logAt('info'), debug: logAt('debug'), warn: logAt('warn'), error: logAt('error') }),
    enumerable: false,
  });

  const describe = (e) => {
    if (e instanceof ErrorCtor || (e && typeof e === 'object' && typeof e.message === 'string')) {
      return {
        type: clip(StringCtor(e.name || 'Error'), 200),
        message: clip(StringCtor(e.message), ${MAX_MESSAGE_CHARS}),
        stack: clip(StringCtor(e.stack || ''), ${MAX_STACK_CHARS}),
      };
    }
    return { type: 'Error', message: clip('Uncaught ' + fmt(e), ${MAX_MESSAGE_CHARS}), stack: '' };
  };
  const settle = (v) => {
    let json;
    try {
      json = stringify(v);
    } catch (e) {
      return stringify({ ok: false, error: { type: 'TypeError', message: 'the return value cannot be sent as JSON: ' + StringCtor(e && e.message), stack: '' } });
    }
    if (json === undefined) return '{"ok":true,"value":null}';
    if (json.length > maxResult) {
      return stringify({ ok: false, error: { type: 'RangeError', message: 'the return value is ' + json.length + ' characters of JSON, over the ' + maxResult + ' limit; return a smaller summary', stack: '' } });
    }
    return '{"ok":true,"value":' + json + '}';
  };
  globalThis.__cm_run = (fn) => {
    delete globalThis.__cm_run;
    apply(then, fn(), [(v) => done(settle(v)), (e) => done(stringify({ ok: false, error: describe(e) }))]);
  };
  // The bootstrap's value: how the worker hands a tool call's reply to the program.
  return (id, json) => {
    const resolve = replies[id];
    if (resolve === undefined) return;
    delete replies[id];
    resolve(json);
  };
})();
`;

type RunMessage = Extract<HostMessage, { t: 'run' }>;

/**
 * The program runs on this thread, in synchronous entries (its start, then one per
 * tool-call reply), each bounded by the isolate's own timeout: no thread hop per
 * call. A stop from the host is read between entries; so that the host's watchdog,
 * which started first, still decides a wall-clock stop, an entry may run this long
 * past the run's wall-clock limit (well inside the host's grace before it kills us).
 */
const WALL_SLACK_MS = 50;

interface Run {
  id: number;
  spec: RunMessage;
  /** Null until the run's isolate is ready. */
  slot: Slot | null;
  /** The bootstrap's deliver function: (isolate call id, reply JSON). */
  deliver: ivm.Reference | null;
  nextCall: number;
  /** Calls forwarded to the host: our call id → the isolate's id for it. */
  calls: Map<number, unknown>;
  /** What the program settled with (its outcome text), once it did. */
  outcome: { text: unknown } | null;
  /** Time spent inside the isolate so far (counted against cpuMs). */
  usedMs: number;
  deadline: number;
  logLines: string[];
  logChars: number;
  dropped: number;
  flushScheduled: boolean;
  stopped: boolean;
  ended: boolean;
  end: (done: DoneMessage) => void;
}

/** An isolate with its context and compiled bootstrap, made before the run that uses it. */
interface Slot {
  isolate: ivm.Isolate;
  context: ivm.Context;
  bootstrap: ivm.Script;
  memoryMb: number;
  run: Run | null;
}

const channel = new Socket({ fd: 3, readable: true, writable: true });
let current: Run | null = null;
interface Spare {
  memoryMb: number;
  ready: boolean;
  slot: Promise<Slot>;
}
const SPARES = 2;
/** Isolates for the next runs, being made or ready. */
const spares: Spare[] = [];
/** Isolates of ended runs, disposed when no run is in progress. */
const retired: Slot[] = [];
let spareMemoryMb = Number(process.env.CODEMODE_ISOLATE_MEMORY_MB) || 64;
let maintenanceScheduled = false;

function send(message: WorkerMessage): void {
  channel.write(encodeFrame(message));
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}... [clipped]` : text;
}

function toolError(message: string, code: string): string {
  return JSON.stringify({ ok: false, message, code });
}

/**
 * A tool call from the isolate, measured here (after the copy): a refusal now, as
 * the JSON reply text, or undefined once forwarded to the host (the reply is
 * delivered into the isolate when it comes).
 */
function toolCall(slot: Slot, server: unknown, tool: unknown, args: unknown, id: unknown): string | undefined {
  const run = slot.run;
  if (!run || run.ended) return toolError('the program has ended', 'CANCELLED');
  if (
    typeof server !== 'string' ||
    typeof tool !== 'string' ||
    server.length > MAX_NAME_CHARS ||
    tool.length > MAX_NAME_CHARS
  ) {
    return toolError('a tool call needs a server and tool name', 'INVALID_ARGUMENT');
  }
  const name = server === '' ? tool : `codemode.${server}.${tool}`;
  if (typeof args !== 'string' || args.length > run.spec.maxArgBytes) {
    return toolError(`${name}: arguments over the ${run.spec.maxArgBytes}-character limit`, 'TOO_LARGE');
  }
  if (run.calls.size >= run.spec.maxInFlight) {
    return toolError(`${name}: more than ${run.spec.maxInFlight} tool calls in flight`, 'LIMIT_EXCEEDED');
  }
  const call = ++run.nextCall;
  run.calls.set(call, id);
  flushLogs(run);
  send({ t: 'call', run: run.id, call, server, tool, args });
  return undefined;
}

function logLine(slot: Slot, level: unknown, text: unknown): void {
  const run = slot.run;
  if (!run || run.ended || typeof level !== 'string' || typeof text !== 'string') return;
  const line = level === 'warn' || level === 'error' ? `[${level}] ${text}` : text;
  if (run.logChars + line.length > run.spec.maxLogBytes) run.dropped += line.length;
  else {
    run.logChars += line.length;
    run.logLines.push(line);
  }
  if (!run.flushScheduled) {
    run.flushScheduled = true;
    setImmediate(() => flushLogs(run));
  }
}

function flushLogs(run: Run): void {
  run.flushScheduled = false;
  if (run.logLines.length === 0 && run.dropped === 0) return;
  while (run.logLines.length > 0 || run.dropped > 0) {
    const lines = run.logLines.splice(0, MAX_LOG_LINES_PER_FRAME);
    send({ t: 'log', run: run.id, lines, dropped: run.dropped });
    run.dropped = 0;
  }
}

/**
 * Make an isolate for a later run. Only `new Isolate` runs on this thread; the
 * context and the bootstrap's compilation run on the isolate's own thread.
 */
async function makeSlot(memoryMb: number): Promise<Slot> {
  const isolate = new ivm.Isolate({ memoryLimit: memoryMb });
  try {
    const context = await isolate.createContext();
    const bootstrap = await isolate.compileScript(BOOTSTRAP, { filename: 'codemode-bootstrap.js' });
    const slot: Slot = { isolate, context, bootstrap, memoryMb, run: null };
    const g = context.global;
    // Called from the isolate while it runs on this thread (entries are synchronous): no hop.
    await g.set(
      '__cm_call',
      new ivm.Callback((server: unknown, tool: unknown, args: unknown, id: unknown) =>
        toolCall(slot, server, tool, args, id),
      ),
    );
    await g.set('__cm_log', new ivm.Callback((level: unknown, text: unknown) => logLine(slot, level, text)));
    await g.set(
      '__cm_done',
      new ivm.Callback((text: unknown) => {
        const run = slot.run;
        if (run && !run.ended && run.outcome === null) run.outcome = { text };
      }),
    );
    return slot;
  } catch (e) {
    if (!isolate.isDisposed) isolate.dispose();
    throw e;
  }
}

function dispose(slot: Slot): void {
  if (!slot.isolate.isDisposed) slot.isolate.dispose();
}

/**
 * Dispose ended runs' isolates and keep SPARES made ahead (a new Isolate costs a
 * few ms of this thread), one step per event-loop turn so a run that arrives meanwhile
 * waits for one step at most; never while a run is in progress (it would hold up
 * the run's tool-call replies), so the run's end resumes it.
 */
function maintain(): void {
  if (maintenanceScheduled) return;
  maintenanceScheduled = true;
  setImmediate(() => {
    maintenanceScheduled = false;
    if (current) return;
    const old = retired.pop();
    if (old) dispose(old);
    else if (spares.some((s) => s.memoryMb !== spareMemoryMb)) {
      for (const stale of spares.splice(0)) void stale.slot.then(dispose, () => undefined);
    } else if (spares.length < SPARES) addSpare(spareMemoryMb);
    else return;
    maintain();
  });
}

function addSpare(memoryMb: number): Spare {
  const spare: Spare = { memoryMb, ready: false, slot: makeSlot(memoryMb) };
  // A failure surfaces when a run awaits this slot (it then makes its own and reports why that failed).
  spare.slot.then(
    () => (spare.ready = true),
    () => undefined,
  );
  spares.push(spare);
  return spare;
}

async function takeSlot(memoryMb: number): Promise<Slot> {
  const ready = spares.findIndex((s) => s.ready && s.memoryMb === memoryMb);
  const i = ready >= 0 ? ready : spares.findIndex((s) => s.memoryMb === memoryMb);
  const [spare] = i >= 0 ? spares.splice(i, 1) : [];
  if (spare) {
    try {
      return await spare.slot;
    } catch {
      // made again below, with its own error if it fails again
    }
  }
  return makeSlot(memoryMb);
}

/** How an entry into the isolate failed, measured in this realm. */
function failure(run: Run, slot: Slot, e: unknown): DoneMessage {
  const message = errorText(e);
  if (run.stopped) return { t: 'done', run: run.id, kind: 'stopped' };
  // Only the memory limit disposes an isolate behind our back.
  if (/memory limit/i.test(message) || slot.isolate.isDisposed) return { t: 'done', run: run.id, kind: 'memory' };
  if (/execution timed out/i.test(message)) return { t: 'done', run: run.id, kind: 'cpu' };
  return { t: 'done', run: run.id, kind: 'internal', message: clip(message, 16_000) };
}

function finish(run: Run, done: DoneMessage): void {
  if (run.ended) return;
  run.ended = true;
  run.end(done);
}

/** Run `step` in the isolate with what is left of the run's CPU and wall-clock budget; end the run when it settled. */
function enter(run: Run, slot: Slot, step: (timeout: number) => void): void {
  if (run.ended) return;
  const started = performance.now();
  const left = Math.min(run.spec.cpuMs - run.usedMs, run.deadline - started);
  try {
    step(Math.max(1, Math.ceil(left)));
  } catch (e) {
    finish(run, failure(run, slot, e));
    return;
  } finally {
    run.usedMs += performance.now() - started;
  }
  if (run.outcome === null) return;
  // Measured here, after the copy out of the isolate, whatever the program did to its prototypes.
  const reply = run.outcome.text;
  if (typeof reply !== 'string') {
    finish(run, { t: 'done', run: run.id, kind: 'internal', message: 'the program ended without an outcome' });
  } else if (reply.length > run.spec.maxResultBytes + OUTCOME_SLACK_CHARS) {
    finish(run, { t: 'done', run: run.id, kind: 'too_large', chars: reply.length });
  } else finish(run, { t: 'done', run: run.id, kind: 'outcome', outcome: reply });
}

/** Set the program up in `slot` and make its first entry. */
function begin(run: Run, slot: Slot): void {
  const { spec } = run;
  try {
    slot.context.global.setSync('__cm_setup', spec.setup);
    run.deliver = slot.bootstrap.runSync(slot.context, { timeout: 1000, reference: true }) as ivm.Reference;
  } catch (e) {
    finish(run, failure(run, slot, e));
    return;
  }
  let script: ivm.Script;
  try {
    script = slot.isolate.compileScriptSync(spec.source, { filename: USER_FILE });
  } catch (e) {
    finish(run, { t: 'done', run: run.id, kind: 'compile', message: clip(errorText(e), 16_000) });
    return;
  }
  enter(run, slot, (timeout) => script.runSync(slot.context, { timeout }));
}

async function start(spec: RunMessage): Promise<void> {
  if (current) {
    send({ t: 'done', run: spec.run, kind: 'internal', message: 'the worker is already running a program' });
    return;
  }
  const run: Run = {
    id: spec.run,
    spec,
    slot: null,
    deliver: null,
    nextCall: 0,
    calls: new Map(),
    outcome: null,
    usedMs: 0,
    deadline: performance.now() + (spec.wallMs ?? Infinity) + WALL_SLACK_MS,
    logLines: [],
    logChars: 0,
    dropped: 0,
    flushScheduled: false,
    stopped: false,
    ended: false,
    end: () => undefined,
  };
  const ended = new Promise<DoneMessage>((resolve) => (run.end = resolve));
  current = run;
  let slot: Slot;
  try {
    slot = await takeSlot(spec.memoryMb);
  } catch (e) {
    current = null;
    send({ t: 'done', run: spec.run, kind: 'internal', message: `could not create an isolate: ${errorText(e)}` });
    maintain();
    return;
  }
  run.slot = slot;
  slot.run = run;
  if (run.stopped) finish(run, { t: 'done', run: run.id, kind: 'stopped' });
  else begin(run, slot);
  const done = await ended;
  run.calls.clear();
  flushLogs(run);
  send(done);
  slot.run = null;
  current = null;
  retired.push(slot);
  spareMemoryMb = spec.memoryMb;
  maintain();
}

function onHostMessage(message: HostMessage): void {
  if (message.t === 'run') {
    void start(message);
    return;
  }
  const run = current;
  if (!run || run.id !== message.run) return; // for a run that already ended
  if (message.t === 'reply') {
    const id = run.calls.get(message.call);
    const { slot, deliver } = run;
    if (id === undefined || !slot || !deliver) return;
    run.calls.delete(message.call);
    enter(run, slot, (timeout) => deliver.applySync(undefined, [id, message.json], { timeout }));
  } else if (message.t === 'stop') {
    run.stopped = true;
    if (run.slot) {
      dispose(run.slot);
      finish(run, { t: 'done', run: run.id, kind: 'stopped' });
    }
  }
}

const reader = new FrameReader(
  () => 2 ** 31,
  (body) => onHostMessage(JSON.parse(body.toString('utf8')) as HostMessage),
  (why) => {
    process.stderr.write(`codemode worker: bad frame from the host: ${why}\n`);
    process.exit(70);
  },
);
channel.on('data', (chunk: Buffer) => reader.push(chunk));
// The host went away (or closed the channel): nothing left to serve.
channel.on('end', () => process.exit(0));
channel.on('error', () => process.exit(0));

// Ready once the first isolate is made (or failed: the first run then reports why); the second follows.
void addSpare(spareMemoryMb)
  .slot.then(
    () => send({ t: 'ready', pid: process.pid }),
    () => send({ t: 'ready', pid: process.pid }),
  )
  .finally(maintain);
