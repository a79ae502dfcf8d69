/**
 * The static-analysis contract: facts a parser extracts, rules as data over
 * those facts, and the findings a model reads. Types and constants only.
 */
import type { AnalysisFinding, Language } from '../sandbox/executor.js';

/** What a policy does with a rule's findings. */
export type RuleLevel = 'off' | 'warn' | 'block';
export const RULE_LEVELS: readonly RuleLevel[] = ['off', 'warn', 'block'];

export type RuleFamily = 'network' | 'packages' | 'process' | 'env' | 'workspace' | 'loop' | 'codemode';
export const RULE_FAMILIES: readonly RuleFamily[] = [
  'network',
  'packages',
  'process',
  'env',
  'workspace',
  'loop',
  'codemode',
];

/** A condition on one argument of a call (literal values only: what a parser can see). */
export type ArgumentTest =
  /** A string literal that is an http(s)/ftp URL. */
  | 'url'
  /** The workspace itself or everything in it: "/workspace", ".", "*", "/", os.getcwd(), process.cwd()... */
  | 'workspace-root'
  /** /proc/<pid>/environ. */
  | 'proc-environ';

/**
 * A structural pattern over extracted facts. Names are fully resolved dotted
 * names (`import subprocess as sp; sp.run()` is `subprocess.run`); `*` is a
 * wildcard. A rule matches a fact when any listed entry matches it.
 */
export interface RulePattern {
  /** Modules imported or required (`requests` also matches `requests.adapters`). */
  imports?: string[];
  /** Callees of calls and `new` expressions. */
  calls?: string[];
  /** Attribute/member reads (`os.environ`, `process.env`), and for bash the targets of redirections. */
  accesses?: string[];
  /** Shell commands, as words: `curl`, `pip install` (options between the words are skipped). */
  commands?: string[];
  /** Only calls whose argument `index` (0-based) passes `test`, or commands with an operand that does. */
  argument?: { index: number; test: ArgumentTest };
  /** `while True:` / `for (;;)` / `while true; do` with no break, return, raise or exit in its body. */
  endlessLoop?: true;
  /** Code Mode calls `codemode.<server>.<tool>(...)` to a tool the given tool list marks so. */
  codemodeTool?: 'approval' | 'destructive';
}

export interface Rule {
  id: string;
  family: RuleFamily;
  languages: readonly Language[];
  pattern: RulePattern;
  /** The level when neither operator nor session says otherwise. */
  severity: RuleLevel;
  /** Written for a model: what the code will try, and why it will not work or is not allowed. */
  message: string;
  /** What to write instead. */
  hint: string;
}

/** A fact a language extractor found. Lines and columns are 1-based. */
export type Fact =
  | { kind: 'import'; module: string; line: number; column: number }
  | { kind: 'call'; callee: string; args: ArgumentValue[]; line: number; column: number }
  | { kind: 'access'; name: string; line: number; column: number }
  | { kind: 'command'; argv: string[]; line: number; column: number }
  | { kind: 'endless-loop'; line: number; column: number };

/** What a parser knows of an argument: a string literal, a list of them, or a dotted expression like `os.getcwd()`. */
export interface ArgumentValue {
  str?: string;
  strs?: string[];
  expr?: string;
}

export interface SyntaxErrorInfo {
  message: string;
  line: number;
  column: number;
}

/** What one extractor returns for one piece of code. */
export interface Extraction {
  syntaxError?: SyntaxErrorInfo;
  facts: Fact[];
  /** Set when the code could not be analysed (helper crashed, timed out, input too large): nothing is blocked then. */
  unanalysed?: string;
}

/** A finding: rule, severity after policy, position, message for a model and a fix hint. */
export type Finding = AnalysisFinding;

export interface AnalysisResult {
  syntaxError?: SyntaxErrorInfo;
  findings: Finding[];
  /** The analysis could not run (the reason); the code is then neither blocked nor reported clean. */
  unanalysed?: string;
}

/** An upstream Code Mode tool as the generated API names it (`codemode.<server>.<tool>`). */
export interface CodeModeToolMark {
  server: string;
  tool: string;
  needsApproval?: boolean;
  destructive?: boolean;
}

export interface AnalysisRequest {
  language: Language;
  code: string;
  /** Code Mode: the upstream tools, with their marks (needed by the `codemode.*` rules). */
  tools?: readonly CodeModeToolMark[];
}

/** Something static reading cannot know about a cell's names (exec, globals()[...], star imports, mutation). */
export interface UnknownName {
  reason: string;
  line: number;
  /** The name concerned, when there is one (the module of a star import, the object mutated). */
  name?: string;
}

/** The top-level names a cell defines and reads (issue 17: the session as a dataflow graph). */
export interface Dataflow {
  defs: string[];
  uses: string[];
  unknown: UnknownName[];
}
