/**
 * `list_kits`: the kits a session may ask for (create_session kits) with what
 * each provides and whether this host has it installed, plus the network
 * policies create_session's network option may name. Kits are installed by the
 * operator (`codemode kits install NAME`), never from a session.
 */
import { z } from 'zod';
import { defineTool } from './define-tool.js';
import { text, type ToolEnv } from './env.js';

const LIST_KITS_OUTPUT = z.object({
  kits: z.array(
    z.object({
      name: z.string(),
      version: z.string(),
      description: z.string(),
      languages: z.array(z.string()),
      installed: z.boolean(),
      missing: z.array(z.string()),
      install: z.string().describe('What the operator runs to install it.'),
      packages: z.array(z.object({ manager: z.string(), name: z.string(), version: z.string().nullable() })),
      workers: z
        .array(z.string())
        .optional()
        .describe('On a cluster gateway: the workers that have it installed (sessions needing it are placed there).'),
    }),
  ),
  networks: z.array(z.string()).describe('Network policy names for create_session network.'),
});

export const listKitsTool = defineTool({
  name: 'list_kits',
  title: 'List kits',
  description:
    'List the kits (bundles of packages such as numpy/pandas or npm libraries) a session can use: pass their names ' +
    'as create_session kits. Shows whether each is installed on this host (only the operator installs kits), and the ' +
    'network policies create_session network may name.',
  input: z.object({}),
  output: LIST_KITS_OUTPUT,
  annotations: { readOnlyHint: true, openWorldHint: false },
  async handler(_args, _call, env: ToolEnv) {
    const { kits, networks } = env.sessions.kits?.() ?? { kits: [], networks: [] };
    const lines = kits.map(
      (k) =>
        `${k.name}@${k.version} [${k.languages.join(', ')}] ${k.installed ? 'installed' : `NOT INSTALLED (operator: ${k.install})`}` +
        `${k.workers === undefined ? '' : ` on workers: ${k.workers.join(', ') || 'none'}`}: ${k.description}`,
    );
    if (kits.length === 0) lines.push('this server offers no kits');
    lines.push(
      networks.length
        ? `network policies: ${networks.join(', ')}`
        : 'network policies: none (sessions have no network)',
    );
    return { content: text(lines.join('\n')), structuredContent: { kits, networks } };
  },
});
