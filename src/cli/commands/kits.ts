/**
 * `codemode kits list|install NAME|remove NAME`: the operator's side of kits.
 * Debian kits install with apt-get only when run as root (otherwise the exact
 * command is printed and the exit code is 3); npm kits install into
 * <state>/kits/NAME with scripts off. Sessions only ever read kits.
 *
 * Exit codes: 0, 2 usage, 3 not installed (the command to run is printed).
 */
import { AppError } from '../../errors.js';
import { KitHost, type KitStatus } from '../../projects/kits-host.js';
import { parse } from '../args.js';
import type { Command } from '../io.js';

const HELP = `usage: codemode kits <subcommand> [--json]

  list            every kit: version, languages, installed or what is missing, description
  install NAME    install a kit (Debian packages with apt-get as root, else print the command; npm into the kit folder)
  remove NAME     remove an npm kit's folder (Debian packages are shared: the apt-get command is printed)

  --json          print data instead of text
`;

export const kitsCommand: Command = async (argv, io) => {
  const { values, positionals } = parse(argv, {
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  const [sub, name, ...extra] = positionals;
  if (values.help || sub === undefined || sub === 'help') {
    io.stdout.write(HELP);
    return sub === undefined && !values.help ? 2 : 0;
  }
  if (extra.length > 0) throw new AppError('INVALID_ARGUMENT', `unexpected argument "${extra[0]}"`);
  if (!['list', 'install', 'remove'].includes(sub))
    throw new AppError('INVALID_ARGUMENT', `unknown subcommand "${sub}"\n\n${HELP}`);
  if (sub !== 'list' && name === undefined) throw new AppError('INVALID_ARGUMENT', `kits ${sub} needs a kit NAME`);
  if (sub === 'list' && name !== undefined) throw new AppError('INVALID_ARGUMENT', `unexpected argument "${name}"`);
  const { loadSettings } = await import('../../config/load-settings.js');
  const { settings, stateDir } = loadSettings({ env: io.env, cwd: io.cwd });
  const host = new KitHost({ stateDir, kits: settings.kits });
  const print = (data: unknown, textOut: string) =>
    void io.stdout.write(values.json ? `${JSON.stringify(data, null, 2)}\n` : textOut);

  if (sub === 'list') {
    const kits = host.status();
    print({ kits }, kits.map(statusLine).join('\n') + '\n');
    return 0;
  }
  if (sub === 'install') {
    const r = host.install(name!, (line) => io.stderr.write(`${line}\n`));
    if (!r.ran) {
      print(
        { installed: false, command: r.command, status: r.status },
        `kit ${name} needs Debian packages, and only root installs them. Run:\n  ${r.command}\n` +
          (r.status.installed ? '' : `then run \`codemode kits install ${name}\` again if it also has npm packages\n`),
      );
      return 3;
    }
    print({ installed: r.status.installed, status: r.status }, `${statusLine(r.status)}\n`);
    return r.status.installed ? 0 : 3;
  }
  const r = host.remove(name!);
  print(
    r,
    (r.removed ? `removed kit ${name}'s folder\n` : `kit ${name} has no folder to remove\n`) +
      (r.command ? `its Debian packages are shared with the system; to remove them: ${r.command}\n` : ''),
  );
  return 0;
};

function statusLine(k: KitStatus): string {
  const state = k.installed
    ? `installed (${k.packages.map((p) => `${p.name} ${p.version}`).join(', ')})`
    : `missing ${k.missing.join(', ')}; install: ${k.install}`;
  return `${k.name}@${k.version} [${k.languages.join(', ')}] ${state}\n    ${k.description}`;
}
