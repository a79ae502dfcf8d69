/**
 * The policy: which level (`off | warn | block`) each rule runs at. Pure.
 * Keys name a rule (`workspace.wipe`) or a family (`network`); a rule's own key
 * wins over its family's. The operator sets levels and, per rule, the lowest
 * level a session may choose (`sessionMinimum`, default: the operator's level),
 * so a session can always tighten and can loosen only as far as allowed.
 */
import { AppError } from '../errors.js';
import { RULES } from './rules.js';
import { RULE_FAMILIES, RULE_LEVELS, type Rule, type RuleLevel } from './types.js';

export type LevelMap = Readonly<Record<string, RuleLevel>>;

export interface OperatorPolicy {
  /** Levels by rule id or family; unset rules keep their default severity. */
  rules?: LevelMap;
  /** The lowest level a session may set, by rule id or family. Default: the operator's level (sessions only tighten). */
  sessionMinimum?: LevelMap;
}

/** The resolved level of every rule. */
export type Policy = ReadonlyMap<string, RuleLevel>;

const RANK: Record<RuleLevel, number> = { off: 0, warn: 1, block: 2 };

function lookup(map: LevelMap | undefined, rule: Rule): RuleLevel | undefined {
  return map?.[rule.id] ?? map?.[rule.family];
}

/** Throws INVALID_CONFIG naming the bad key: unknown rule/family or level. */
export function validateLevels(map: LevelMap | undefined, where: string, rules: readonly Rule[] = RULES): void {
  for (const [key, level] of Object.entries(map ?? {})) {
    const known = rules.some((r) => r.id === key) || (RULE_FAMILIES as readonly string[]).includes(key);
    if (!known)
      throw new AppError('INVALID_CONFIG', `${where}.${key}: no rule or family of that name`, {
        key: `${where}.${key}`,
        known: [...RULE_FAMILIES, ...rules.map((r) => r.id)],
      });
    if (!RULE_LEVELS.includes(level))
      throw new AppError('INVALID_CONFIG', `${where}.${key}: "${String(level)}" is not one of off, warn, block`, {
        key: `${where}.${key}`,
      });
  }
}

/** The operator's policy (settings file), defaults for what it does not name. */
export function operatorPolicy(operator: OperatorPolicy = {}, rules: readonly Rule[] = RULES): Policy {
  validateLevels(operator.rules, 'analysis.rules', rules);
  validateLevels(operator.sessionMinimum, 'analysis.sessionMinimum', rules);
  return new Map(rules.map((r) => [r.id, lookup(operator.rules, r) ?? r.severity]));
}

export interface SessionPolicyResult {
  policy: Policy;
  /** Overrides that asked for less than the operator allows, and the level applied instead. */
  clamped: { key: string; asked: RuleLevel; applied: RuleLevel }[];
}

/** A session's overrides, each held within the operator's minimum for that rule. */
export function sessionPolicy(
  operator: OperatorPolicy = {},
  overrides: LevelMap = {},
  rules: readonly Rule[] = RULES,
): SessionPolicyResult {
  validateLevels(overrides, 'analysis', rules);
  const base = operatorPolicy(operator, rules);
  const policy = new Map(base);
  const clamped: SessionPolicyResult['clamped'] = [];
  for (const r of rules) {
    const asked = lookup(overrides, r);
    if (asked === undefined) continue;
    const minimum = lookup(operator.sessionMinimum, r) ?? base.get(r.id)!;
    const applied = RANK[asked] < RANK[minimum] ? minimum : asked;
    if (applied !== asked) clamped.push({ key: r.id, asked, applied });
    policy.set(r.id, applied);
  }
  return { policy, clamped };
}

/** The default policy: every rule at its default severity. */
export const DEFAULT_POLICY: Policy = operatorPolicy();
