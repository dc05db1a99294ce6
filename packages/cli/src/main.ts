import { FreeholdError } from '@freehold/core';
import { runCommand, type Command, type Io } from './command.js';
import { accountCommands } from './commands/account.js';
import { recoverCommand } from './commands/recover.js';
import { spaceCommands } from './commands/spaces.js';
import { replicaCommands } from './commands/replica.js';
import { providerCommands } from './commands/provider.js';
import { moveCommand } from './commands/move.js';
import { operatorCommands } from './commands/operator.js';
import { microblogCommands } from './commands/microblog.js';
import { postActionCommands } from './commands/post-actions.js';
import { imageCommands } from './commands/images.js';
import { moderationCommands } from './commands/moderation.js';
import { conversationCommands } from './commands/conversations.js';
import { searchCommand } from './commands/search.js';
import { deleteAccountCommand } from './commands/delete-account.js';

const commands: Command[] = [...accountCommands, recoverCommand, ...spaceCommands, ...replicaCommands, ...providerCommands, moveCommand, ...microblogCommands, ...postActionCommands, ...imageCommands, ...moderationCommands, searchCommand, ...conversationCommands, deleteAccountCommand, ...operatorCommands];

function help(): string {
  const width = Math.max(...commands.map((c) => c.usage.length));
  return [
    'freehold: your identity, spaces and documents, on your devices.',
    '',
    'usage: freehold COMMAND [options]   (profile: --home DIR, else $FREEHOLD_HOME, else ~/.freehold)',
    '',
    ...commands.map((c) => `  ${c.usage.padEnd(width)}  ${c.summary.split('. ')[0]!.replace(/\.$/, '')}`),
    '',
    'Run `freehold COMMAND --help` for details.',
  ].join('\n');
}

function readStdin(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('Type or paste the recovery phrase, then press Ctrl-D:\n');
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    process.stdin.on('data', (c: Buffer) => chunks.push(c));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
}

const processIo: Io = {
  out: (s) => process.stdout.write(`${s}\n`),
  err: (s) => process.stderr.write(`${s}\n`),
  stdin: readStdin,
};

/** Runs one CLI invocation; returns the exit code. Errors become one line on stderr. */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    io.out(help());
    return 0;
  }
  const cmd = commands.find((c) => argv.slice(0, c.name.split(' ').length).join(' ') === c.name);
  if (!cmd) {
    // A group's name (`space`) with an unknown subcommand is named with it; anything else alone.
    const group = commands.some((c) => c.name.startsWith(`${argv[0]} `));
    io.err(`freehold: unknown command "${argv.slice(0, group ? 2 : 1).join(' ')}" (run \`freehold --help\` for the list)`);
    return 2;
  }
  try {
    await runCommand(cmd, argv.slice(cmd.name.split(' ').length), io);
    return 0;
  } catch (e) {
    if (e instanceof FreeholdError) {
      io.err(`freehold: ${e.message} [${e.reason}]`);
      return e.reason === 'invalid-argument' ? 2 : 1;
    }
    io.err(`freehold: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    return 70;
  }
}
