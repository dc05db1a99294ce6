import { parseArgs, type ParseArgsConfig } from 'node:util';
import { reject } from '@freehold/core';
import { Profile, resolveHome } from './profile.js';

type Options = NonNullable<ParseArgsConfig['options']>;

export interface Context {
  home: string;
  values: Record<string, string | string[] | boolean | undefined>;
  /** The options as given, in order: for options that belong to the one before them (`--image F --alt T`). */
  options: { name: string; value?: string }[];
  args: string[];
  /** Opens this profile; closed by the runner after the command. */
  profile(): Promise<Profile>;
  out(line: string): void;
  json(value: unknown): void;
  err(line: string): void;
  stdin(): Promise<string>;
}

/** The profile, refusing commands that need a device while a recovery is unfinished. */
export async function ready(ctx: Context): Promise<Profile> {
  const p = await ctx.profile();
  p.requireDevice();
  return p;
}

export interface Command {
  /** e.g. "space add" */
  name: string;
  usage: string;
  summary: string;
  options?: Options;
  args: [min: number, max: number];
  run(ctx: Context): Promise<void>;
}

export interface Io {
  out(s: string): void;
  err(s: string): void;
  stdin(): Promise<string>;
}

const GLOBAL: Options = { home: { type: 'string' }, help: { type: 'boolean', short: 'h' } };

export async function runCommand(cmd: Command, argv: string[], io: Io): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { ...GLOBAL, ...cmd.options }, allowPositionals: true, strict: true, tokens: true });
  } catch (e) {
    return reject('invalid-argument', `${(e as Error).message.replace(/\. To specify.*$/s, '')} (usage: freehold ${cmd.usage})`);
  }
  const { values, positionals, tokens } = parsed;
  if (values.help) {
    io.out(`usage: freehold ${cmd.usage}\n\n${cmd.summary}`);
    return;
  }
  const [min, max] = cmd.args;
  if (positionals.length < min || positionals.length > max) {
    reject('invalid-argument', `expected ${min === max ? min : `${min} to ${max}`} argument${max === 1 ? '' : 's'} (usage: freehold ${cmd.usage})`);
  }
  let opened: Profile | undefined;
  const home = resolveHome(values.home as string | undefined);
  const ctx: Context = {
    home,
    values: values as Context['values'],
    options: tokens.flatMap((t) => (t.kind === 'option' ? [{ name: t.name, value: t.value }] : [])),
    args: positionals,
    profile: async () => (opened ??= await Profile.open(home)),
    out: io.out,
    err: io.err,
    json: (v) => io.out(JSON.stringify(v, null, 2)),
    stdin: io.stdin,
  };
  try {
    await cmd.run(ctx);
  } finally {
    await opened?.close();
  }
}
