/**
 * Workspace paths as callers give them: relative, normalized, and refused
 * when they could land outside the workspace. Pure: symlinks are the business
 * of whoever opens the path (the workspace agent, inside the sandbox).
 */
import path from 'node:path';
import { AppError } from '../../errors.js';

/**
 * Resolve `rel` inside `root`, refusing anything that could land outside it:
 * absolute paths, `..` segments, NUL bytes, empty names. Symlinks are checked
 * by the callers that open files (lstat), since this function is pure.
 */
export function safeRelativePath(rel: string, argument = 'path'): string {
  if (typeof rel !== 'string' || rel.length === 0) {
    throw new AppError('INVALID_ARGUMENT', `${argument} must be a non-empty relative path`, { argument });
  }
  if (rel.includes('\0')) throw new AppError('PATH_ESCAPE', `${argument} contains a NUL byte`, { argument });
  if (path.isAbsolute(rel) || rel.startsWith('~')) {
    throw new AppError('PATH_ESCAPE', `${argument} "${rel}" is absolute; use a path relative to the workspace`, {
      argument,
    });
  }
  const normalized = path.posix.normalize(rel.replace(/\\/g, '/'));
  if (normalized === '..' || normalized.startsWith('../') || normalized.split('/').includes('..')) {
    throw new AppError('PATH_ESCAPE', `${argument} "${rel}" leaves the workspace`, { argument });
  }
  if (normalized === '.' || normalized === '') {
    throw new AppError('INVALID_ARGUMENT', `${argument} "${rel}" names the workspace itself, not a file`, { argument });
  }
  return normalized;
}
