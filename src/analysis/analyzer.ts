/**
 * The analyser: parse (a real parser per language), extract facts, apply the
 * rules and the policy. Results are cached by a hash of the language, code and
 * Code Mode tool marks; the policy is applied after the cache, so one cache
 * serves every policy. Never throws because the code is bad: a syntax error is
 * a result, and a parser that fails reports `unanalysed`.
 */
import { createHash } from 'node:crypto';
import type { Language } from '../sandbox/executor.js';
import { extractBash } from './extract/bash.js';
import { extractJavaScript } from './extract/javascript.js';
import { jsDataflow } from './extract/javascript-dataflow.js';
import { PythonHelper, type PythonHelperOptions } from './extract/python.js';
import { pythonTriggers } from './extract/python-triggers.js';
import { matchRules, type RawFinding } from './match.js';
import { DEFAULT_POLICY, type Policy } from './policy.js';
import { RULES } from './rules.js';
import type { AnalysisRequest, AnalysisResult, Dataflow, Extraction, Finding, Rule, SyntaxErrorInfo } from './types.js';

export interface AnalyzerOptions {
  rules?: readonly Rule[];
  /** Entries kept in the content-hash cache. */
  cacheSize?: number;
  python?: PythonHelperOptions;
  /** Larger sources are not analysed (reported `unanalysed`). */
  maxBytes?: number;
}

interface Cached {
  syntaxError?: SyntaxErrorInfo;
  raw: RawFinding[];
  unanalysed?: string;
}

export class Analyzer {
  readonly rules: readonly Rule[];
  readonly #cache = new Map<string, Cached>();
  readonly #cacheSize: number;
  readonly #maxBytes: number;
  readonly #python: PythonHelper;
  readonly #dataflow = new Map<string, Dataflow>();

  constructor(options: AnalyzerOptions = {}) {
    this.rules = options.rules ?? RULES;
    this.#cacheSize = options.cacheSize ?? 512;
    this.#maxBytes = options.maxBytes ?? 1 << 20;
    this.#python = new PythonHelper({
      maxBytes: this.#maxBytes,
      triggers: pythonTriggers(this.rules),
      ...options.python,
    });
  }

  async analyze(request: AnalysisRequest, policy: Policy = DEFAULT_POLICY): Promise<AnalysisResult> {
    const key = cacheKey(request);
    let entry = this.#cache.get(key);
    if (entry) {
      this.#cache.delete(key); // most recently used goes last
      this.#cache.set(key, entry);
    } else {
      entry = await this.#compute(request);
      if (!entry.unanalysed) {
        this.#cache.set(key, entry);
        if (this.#cache.size > this.#cacheSize) this.#cache.delete(this.#cache.keys().next().value!);
      }
    }
    return applyPolicy(entry, policy);
  }

  async #compute(request: AnalysisRequest): Promise<Cached> {
    if (Buffer.byteLength(request.code) > this.#maxBytes)
      return { raw: [], unanalysed: `larger than ${this.#maxBytes} bytes: not analysed` };
    const extraction = await this.#extract(request.language, request.code);
    const out: Cached = { raw: matchRules(extraction.facts, this.rules, request.language, request.tools) };
    if (extraction.syntaxError) out.syntaxError = extraction.syntaxError;
    if (extraction.unanalysed) out.unanalysed = extraction.unanalysed;
    return out;
  }

  async #extract(language: Language, code: string): Promise<Extraction> {
    try {
      switch (language) {
        case 'python':
          return await this.#python.extract(code);
        case 'javascript':
          return await extractJavaScript(code, false);
        case 'typescript':
          return await extractJavaScript(code, true);
        case 'bash':
          return await extractBash(code);
      }
    } catch (e) {
      // A parser failing on some input must never block a run: report it, analyse nothing.
      return {
        facts: [],
        unanalysed: `the ${language} analysis failed: ${e instanceof Error ? e.message : String(e)}`,
      };
    }
  }

  /**
   * The top-level names a cell defines and reads (src/sessions/graph.ts builds
   * the session's dataflow graph from them). Cached by content like analyze().
   */
  async dataflow(language: Language, code: string): Promise<Dataflow> {
    const key = cacheKey({ language, code });
    const hit = this.#dataflow.get(key);
    if (hit) return hit;
    let out: Dataflow;
    try {
      if (Buffer.byteLength(code) > this.#maxBytes)
        out = { defs: [], uses: [], unknown: [{ reason: `larger than ${this.#maxBytes} bytes`, line: 1 }] };
      else if (language === 'python') out = await this.#python.dataflow(code);
      else if (language === 'bash')
        out = { defs: [], uses: [], unknown: [{ reason: 'names in bash cells are not analysed', line: 1 }] };
      else out = jsDataflow(code, language === 'typescript');
    } catch (e) {
      return {
        defs: [],
        uses: [],
        unknown: [{ reason: `not analysed: ${e instanceof Error ? e.message : e}`, line: 1 }],
      };
    }
    if (!out.unknown.some((u) => u.reason.startsWith('not analysed'))) {
      this.#dataflow.set(key, out);
      if (this.#dataflow.size > this.#cacheSize) this.#dataflow.delete(this.#dataflow.keys().next().value!);
    }
    return out;
  }

  /** Stops the Python helper (it restarts on the next request). */
  close(): void {
    this.#python.close();
  }
}

export function cacheKey(request: AnalysisRequest): string {
  const h = createHash('sha256').update(request.language).update('\0').update(request.code);
  if (request.tools?.length) h.update('\0').update(JSON.stringify(request.tools));
  return h.digest('base64url');
}

function applyPolicy(entry: Cached, policy: Policy): AnalysisResult {
  const findings: Finding[] = [];
  for (const r of entry.raw) {
    const level = policy.get(r.rule.id) ?? r.rule.severity;
    if (level === 'off') continue;
    findings.push({
      rule: r.rule.id,
      severity: level,
      line: r.line,
      column: r.column,
      message: r.rule.message,
      hint: r.rule.hint,
    });
  }
  const out: AnalysisResult = { findings };
  if (entry.syntaxError) out.syntaxError = entry.syntaxError;
  if (entry.unanalysed) out.unanalysed = entry.unanalysed;
  return out;
}

/** True when the findings stop the run. */
export function isBlocked(result: AnalysisResult): boolean {
  return result.findings.some((f) => f.severity === 'block');
}

let shared: Analyzer | undefined;
/** One analyser per process (one Python helper, one cache). */
export function sharedAnalyzer(): Analyzer {
  return (shared ??= new Analyzer());
}
