import type { Readable } from 'node:stream';
import { createRepositoryContext, type RepositoryContext } from '../support/repository-context';

async function drain(stream: Readable): Promise<void> {
  for await (const _chunk of stream) {
    // read to the end
  }
}

// With one pooled connection, the export and the next query share it: the export's own timeout
// must not outlive the export.
describe('export statement timeout', () => {
  let ctx: RepositoryContext;

  beforeAll(async () => {
    ctx = await createRepositoryContext({ databasePoolMax: 1, databaseStatementTimeoutMs: 30000, exportStatementTimeoutMs: 600000 });
  });
  afterAll(() => ctx.close());

  it('runs the COPY under EXPORT_STATEMENT_TIMEOUT_MS and hands the connection back with the pool timeout', async () => {
    await expect(ctx.sql('SHOW statement_timeout')).resolves.toEqual([{ statement_timeout: '30s' }]);
    const stream = await ctx.users.exportUsersToCsv();
    await drain(stream);
    await expect(ctx.sql('SHOW statement_timeout')).resolves.toEqual([{ statement_timeout: '30s' }]);
  });
});
