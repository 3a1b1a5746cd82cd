/**
 * @module cli/token
 * `prescient token new --name N --role R`: a new API token and the PRESCIENT_API_TOKENS entry
 * that configures it (only the hash goes into configuration). `prescient token hash`: the
 * SHA-256 of a token read from stdin, for tokens made elsewhere.
 */
import { parseArgs } from 'node:util';
import { UsageError } from '../errors.js';
import { checkTokenRecord, generateToken, hashToken, ROLES, type Role } from '../control/tokens.js';

const USAGE = `usage: prescient token new --name NAME --role ${ROLES.join('|')}
       prescient token hash < token.txt`;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').trim();
}

export async function token(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'hash') {
    const t = await readStdin();
    if (t.length === 0) throw new UsageError(`no token on stdin\n${USAGE}`);
    process.stdout.write(`${hashToken(t)}\n`);
    return 0;
  }
  if (sub !== 'new') throw new UsageError(USAGE);
  const { values } = parseArgs({
    args: rest,
    options: { name: { type: 'string' }, role: { type: 'string' } },
  });
  const plain = generateToken();
  let rec: { name: string; role: Role; sha256: string };
  try {
    rec = checkTokenRecord(
      { name: values.name, role: values.role, sha256: hashToken(plain) },
      'token',
    );
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${USAGE}`);
  }
  process.stdout.write(
    `token (give it to its user; it is not shown again):\n  ${plain}\n` +
      `PRESCIENT_API_TOKENS entry:\n  ${rec.name}:${rec.role}:${rec.sha256}\n`,
  );
  return 0;
}
