/**
 * How far a secret file (tokens, NATS credentials) is exposed, for the warning
 * a reader gives. Group access is named apart from world access: a Kubernetes
 * Secret mounted 0440 with an fsGroup is group-readable on purpose.
 */
import { statSync } from 'node:fs';

export function secretFileWarning(file: string, what: string): string | undefined {
  const mode = statSync(file).mode;
  if ((mode & 0o007) !== 0) return `the ${what} ${file} is readable by other users; chmod 600 it`;
  if ((mode & 0o070) !== 0)
    return `the ${what} ${file} is readable by its group (${(mode & 0o777).toString(8)}); chmod 600 it unless that group is meant to read it (a Kubernetes Secret with fsGroup)`;
  return undefined;
}
