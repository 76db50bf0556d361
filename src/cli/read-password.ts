import { createInterface } from 'node:readline';
import type { ReadStream } from 'node:tty';

const CTRL_C = '\u0003';
const CTRL_D = '\u0004';
const BACKSPACES = new Set(['\u007f', '\b']);

// A password that is not on the command line (shell history, process list): asked twice without
// echo on a terminal, or else the first line of standard input (a pipe or a secret file).
export async function readPassword(input: NodeJS.ReadableStream & Partial<Pick<ReadStream, 'isTTY' | 'setRawMode'>>, output: NodeJS.WritableStream): Promise<string> {
  if (!input.isTTY) {
    const password = await firstLine(input);
    if (!password) throw new Error('no password: --password, ADMIN_PASSWORD, or its first line on standard input');
    return password;
  }
  const password = await promptHidden(input as ReadStream, output, 'Password: ');
  if (!password) throw new Error('the password is empty');
  if ((await promptHidden(input as ReadStream, output, 'Repeat it: ')) !== password) throw new Error('the passwords do not match');
  return password;
}

async function firstLine(input: NodeJS.ReadableStream): Promise<string> {
  const lines = createInterface({ input, crlfDelay: Infinity });
  for await (const line of lines) return line;
  return '';
}

// Raw mode: the terminal echoes nothing, and each key arrives as typed. It is set before the
// question shows, or an answer typed at once could still be echoed.
function promptHidden(input: ReadStream, output: NodeJS.WritableStream, question: string): Promise<string> {
  input.setRawMode(true);
  output.write(question);
  input.setEncoding('utf8');
  return new Promise((resolve, reject) => {
    let typed: string[] = [];
    const finish = (settle: () => void) => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      output.write('\n');
      settle();
    };
    const onData = (chunk: string) => {
      for (const key of chunk) {
        if (key === '\r' || key === '\n') return finish(() => resolve(typed.join('')));
        if (key === CTRL_C || key === CTRL_D) return finish(() => reject(new Error('cancelled')));
        if (BACKSPACES.has(key)) typed = typed.slice(0, -1);
        else typed.push(key);
      }
    };
    input.on('data', onData);
    input.resume();
  });
}
