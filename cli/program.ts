/**
 * What `lafs` and `lafs-verify` share as programs: commander set up so usage errors exit 2 with
 * one line (commander reports them with exit code 1; help and version stay 0), and one place
 * that turns a thrown error into a message and an exit code (cli/errors.ts).
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { describeError, exitCodeFor, ExitCode } from './errors.js';

/** A commander program with our error handling; subcommands made with `.command()` inherit it. */
export function makeProgram(name: string, description: string, version: string): Command {
  return new Command(name)
    .description(description)
    .version(version, '-V, --version')
    .exitOverride()
    .showSuggestionAfterError(true)
    // Commander puts a suggestion on a second line ("\n(Did you mean --threshold?)"): the reason stays one line.
    .configureOutput({ outputError: (message, write) => write(`${name}: ${oneLine(message)}\n`) });
}

/** Commander's message as one line: inner line breaks (and the whitespace around them) become one space. */
export function oneLine(message: string): string {
  return message.trim().replace(/\s*\n\s*/g, ' ');
}

/** Parses argv, runs the action, exits with the action's process.exitCode, a usage code, or the error's code. */
export async function runProgram(program: Command, argv: readonly string[] = process.argv): Promise<never> {
  let code: number;
  try {
    await program.parseAsync([...argv]);
    code = typeof process.exitCode === 'number' ? process.exitCode : ExitCode.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander already printed the reason (or the help/version text).
      code = error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    } else {
      process.stderr.write(`${program.name()}: error: ${describeError(error).split('\n')[0]}\n`);
      code = exitCodeFor(error);
      if (code === ExitCode.internal && process.env.LAFS_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
    }
  }
  // Pending writes to pipes finish before exit; open keep-alive sockets must not hold the process.
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  process.exit(code);
}

/** commander argument parser: a non-negative integer. */
export function integerArg(min: number): (value: string) => number {
  return (value: string) => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`must be an integer >= ${min}.`);
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`must be an integer >= ${min}.`);
    return n;
  };
}

/** commander argument parser: an http(s) URL of a log. */
export function urlArg(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError('must be a URL such as http://127.0.0.1:8080.');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidArgumentError('must be an http:// or https:// URL.');
  return value.replace(/\/+$/, '');
}

/**
 * The environment variables that stand in for `--log` and `--vkey` when they are not given: a
 * builder's shell or a CI job sets them once. An option on the command line wins.
 */
export const LOG_ENV = 'LAFS_LOG';
export const VKEY_ENV = 'LAFS_VKEY';

/** `--log <url>`, from $LAFS_LOG when not given. */
export function logOption(description: string): Option {
  return new Option('--log <url>', description).env(LOG_ENV).argParser(urlArg);
}

/** `--vkey <key>`, from $LAFS_VKEY when not given. */
export function vkeyOption(description: string): Option {
  return new Option('--vkey <key>', description).env(VKEY_ENV);
}

/** Indented "Examples:" block for addHelpText('after', ...). */
export function examples(lines: readonly string[]): string {
  return `\nExamples:\n${lines.map((l) => `  ${l}`).join('\n')}\n`;
}
