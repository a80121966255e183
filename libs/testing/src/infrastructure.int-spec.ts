import { Client } from 'pg';
import { createTestDatabase, uniqueSubjectPrefix } from './infrastructure';

describe('test infrastructure', () => {
  it('gives each caller its own database and drops it afterwards', async () => {
    const [a, b] = await Promise.all([createTestDatabase(), createTestDatabase()]);
    expect(a.name).not.toEqual(b.name);
    const client = new Client({ connectionString: a.url });
    await client.connect();
    const { rows } = await client.query<{ db: string }>('select current_database() as db');
    await client.end();
    expect(rows[0].db).toEqual(a.name);
    await Promise.all([a.drop(), b.drop()]);
    const again = new Client({ connectionString: a.url });
    await expect(again.connect()).rejects.toThrow(/does not exist/);
  });

  it('gives each caller its own subject prefix', () => {
    const prefixes = new Set(Array.from({ length: 100 }, () => uniqueSubjectPrefix()));
    expect(prefixes.size).toBe(100);
    for (const prefix of prefixes) expect(prefix).toMatch(/^t[a-z0-9]+\.$/);
  });
});
