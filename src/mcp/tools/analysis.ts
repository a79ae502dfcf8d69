/**
 * `check_code`: static analysis without running anything (src/analysis): a
 * syntax error with its line and column, and the findings the policy keeps,
 * each with a message and a hint written for a model.
 */
import { z } from 'zod';
import { sharedAnalyzer } from '../../analysis/index.js';
import { defineTool } from './define-tool.js';
import { text, type ToolEnv } from './env.js';
import { finding, language } from './schemas.js';

export const checkCode = defineTool({
  name: 'check_code',
  title: 'Check code before running it',
  description:
    'Analyse code without running it: syntax errors with line and column, and what it will try that the sandbox ' +
    'cannot do or the policy forbids (network, package installs, shells, reading the environment, wiping the ' +
    'workspace, loops with no exit). "block" findings would stop a run; "warn" findings only inform.',
  input: z.object({
    language,
    code: z
      .string()
      .max(1024 * 1024)
      .describe('The code to analyse.'),
  }),
  output: z.object({
    syntax_error: z.object({ message: z.string(), line: z.number(), column: z.number() }).optional(),
    findings: z.array(finding),
    unanalysed: z.string().optional(),
    note: z.string().optional(),
  }),
  annotations: { readOnlyHint: true, openWorldHint: false },
  async handler(args, _call, env: ToolEnv) {
    // The operator's policy, so a finding's severity here is what a run would meet.
    const off = env.analysisPolicy === null;
    const r = await sharedAnalyzer().analyze(
      { language: args.language, code: args.code },
      env.analysisPolicy ?? undefined,
    );
    const note = off
      ? 'analysis is off on this server (settings analysis.enabled: false): runs are not checked, so nothing here blocks them; the findings use the default policy'
      : undefined;
    const lines = r.findings.map((f) => `${f.severity} ${f.rule} at ${f.line}:${f.column}: ${f.message} (${f.hint})`);
    if (r.syntaxError)
      lines.unshift(`syntax error at ${r.syntaxError.line}:${r.syntaxError.column}: ${r.syntaxError.message}`);
    if (r.unanalysed) lines.push(`not analysed: ${r.unanalysed}`);
    return {
      content: text([...(lines.length ? lines : ['no findings']), ...(note ? [`note: ${note}`] : [])].join('\n')),
      structuredContent: {
        ...(r.syntaxError
          ? { syntax_error: { message: r.syntaxError.message, line: r.syntaxError.line, column: r.syntaxError.column } }
          : {}),
        findings: r.findings,
        ...(r.unanalysed ? { unanalysed: r.unanalysed } : {}),
        ...(note ? { note } : {}),
      },
    };
  },
});
