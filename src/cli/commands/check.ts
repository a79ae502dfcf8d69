/**
 * `codemode check FILE [--lang L] [--json]`: static analysis without running.
 * Exit 0: nothing at `block` (warnings may print); 1: a finding at `block` or a
 * syntax error; 2: usage.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Analyzer } from '../../analysis/analyzer.js';
import type { AnalysisResult } from '../../analysis/types.js';
import { AppError } from '../../errors.js';
import { LANGUAGES, type Language } from '../../sandbox/executor.js';
import { parse } from '../args.js';
import { languageOfFile } from '../file-language.js';
import type { CliIO } from '../io.js';

const HELP = `usage: codemode check FILE [--lang python|javascript|typescript|bash] [--json]

Analyse code without running it: syntax errors and policy findings.
Exit codes: 0 nothing blocks, 1 a finding at "block" or a syntax error, 2 usage.
`;

export interface CheckReport extends AnalysisResult {
  file: string;
  language: Language;
  blocked: boolean;
}

/** Analyses one file; returns the report (the command prints it). */
export async function checkFile(file: string, language: Language | undefined, cwd: string): Promise<CheckReport> {
  const full = path.resolve(cwd, file);
  const lang = language ?? languageOfFile(full, true);
  if (!lang) throw new AppError('INVALID_ARGUMENT', `cannot tell the language of ${file}: pass --lang`);
  let code: string;
  try {
    code = await readFile(full, 'utf8');
  } catch (e) {
    throw new AppError('NOT_FOUND', `cannot read ${file}: ${(e as Error).message}`);
  }
  const analyzer = new Analyzer();
  try {
    const result = await analyzer.analyze({ language: lang, code });
    const blocked = !!result.syntaxError || result.findings.some((f) => f.severity === 'block');
    return { file, language: lang, blocked, ...result };
  } finally {
    analyzer.close();
  }
}

export function formatReport(r: CheckReport): string {
  const lines: string[] = [];
  if (r.syntaxError)
    lines.push(`${r.file}:${r.syntaxError.line}:${r.syntaxError.column}: syntax error: ${r.syntaxError.message}`);
  for (const f of r.findings)
    lines.push(`${r.file}:${f.line}:${f.column}: ${f.severity} ${f.rule}: ${f.message}\n  hint: ${f.hint}`);
  if (r.unanalysed) lines.push(`${r.file}: not analysed: ${r.unanalysed}`);
  if (lines.length === 0) lines.push(`${r.file}: no findings (${r.language})`);
  return lines.join('\n') + '\n';
}

export async function checkCommand(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(argv, {
    lang: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  if (positionals.length !== 1) {
    io.stderr.write(HELP);
    return 2;
  }
  if (values.lang !== undefined && !(LANGUAGES as readonly string[]).includes(values.lang))
    throw new AppError('INVALID_ARGUMENT', `--lang must be one of ${LANGUAGES.join(', ')}, got "${values.lang}"`);
  const report = await checkFile(positionals[0]!, values.lang as Language | undefined, io.cwd);
  io.stdout.write(values.json ? JSON.stringify(report, null, 2) + '\n' : formatReport(report));
  return report.blocked ? 1 : 0;
}
