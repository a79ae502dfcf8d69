/**
 * A run's record as Markdown for people: the task, each step (the model's text,
 * its code fenced with the language, the output, the result) and a summary.
 * Pure. Fences are made longer than any backtick run inside, so recorded text
 * cannot close them early.
 */
import type { AgentRunRecord, TranscriptAction } from './transcript.js';

export function transcriptMarkdown(r: AgentRunRecord): string {
  const out: string[] = [`# Agent run ${r.id}`, '', '## Task', '', r.task.trim(), ''];
  out.push(
    `- model: \`${r.model}\``,
    `- language: ${r.language} · mode: ${r.mode}${r.verify ? ' · verify' : ''}`,
    `- session: \`${r.sessionId}\``,
    `- started: ${r.createdAt}`,
    '',
  );
  if (r.files.length) out.push(`Files given: ${r.files.map((f) => `\`${f.path}\``).join(', ')}`, '');
  for (const s of r.transcript) {
    out.push(`## Step ${s.step}`, '');
    if (s.retries) out.push(`_(the model request was retried ${s.retries} time${s.retries > 1 ? 's' : ''})_`, '');
    if (s.text.trim()) out.push(s.text.trim(), '');
    for (const a of s.actions) out.push(...action(a, r.language));
    for (const n of s.notices) out.push(`> ${n}`, '');
    if (s.completed)
      out.push(`_${s.inputTokens} tokens in / ${s.outputTokens} out · ${(s.durationMs / 1000).toFixed(1)} s_`, '');
  }
  out.push('## Result', '');
  if (r.answer !== undefined) out.push(r.answer.trim(), '');
  const cost = r.usage.costUsd === undefined ? 'cost unknown' : `$${r.usage.costUsd.toFixed(4)}`;
  out.push(
    `- outcome: ${r.ok ? 'done' : 'stopped'} (${r.stopReason}): ${r.message}`,
    `- steps: ${r.steps}`,
    `- tokens: ${r.usage.inputTokens} in / ${r.usage.outputTokens} out`,
    `- cost: ${cost}`,
    `- time: ${(r.durationMs / 1000).toFixed(1)} s`,
  );
  if (r.verification)
    out.push(
      `- verification: ${r.verification.ok ? 'passed' : 'failed'} (${r.verification.tests.map((t) => t.path).join(', ') || 'no tests'})`,
    );
  return out.join('\n') + '\n';
}

function action(a: TranscriptAction, language: string): string[] {
  const out: string[] = [];
  const title = a.tool === 'code' ? 'Code' : `\`${a.tool}\``;
  out.push(`### ${title}${a.status ? ` → ${a.status}` : ''}${a.approved === false ? ' (not approved)' : ''}`, '');
  if (a.code !== undefined) out.push(...fenced(a.code, a.language ?? language));
  else if (a.tool === 'write_file' && isRecord(a.input) && typeof a.input.content === 'string')
    out.push(`\`${String(a.input.path)}\`:`, '', ...fenced(a.input.content, ''));
  else if (a.input !== undefined && a.tool !== 'final_answer') out.push(...fenced(JSON.stringify(a.input), 'json'));
  if (a.output) out.push('Output:', '', ...fenced(a.output, 'text'));
  if (a.observation !== undefined && a.tool !== 'final_answer')
    out.push('Result:', '', ...fenced(a.observation, 'text'));
  return out;
}

function fenced(body: string, lang: string): string[] {
  const longest = Math.max(2, ...[...body.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  return [`${fence}${lang}`, body.replace(/\n$/, ''), fence, ''];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}
