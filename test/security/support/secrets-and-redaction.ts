import {
  type TestDatabase,
  TestNatsClient,
  type TestService,
  TestTokens,
  createTestDatabase,
  releaseSubjectPrefix,
  startTestService,
  uniqueSubjectPrefix,
} from '@platform/testing';
import { redactionService } from '../../../services/redaction/src/redaction.definition';
import { secretsService } from '../../../services/secrets/src/secrets.definition';

/** The secrets and redaction services in-process on a database and subject prefix of their own, with a client. */
export interface SecretsAndRedaction {
  readonly prefix: string;
  readonly client: TestNatsClient;
  readonly tokens: TestTokens;
  readonly redaction: TestService;
  /** Stops both services and the client, drops the database and deletes the prefix's streams. */
  close(): Promise<void>;
}

/** Starts both services; `redactionEnv` adds to redaction's settings (REDACTION_SETTLE_MS is 0 unless given). */
export async function startSecretsAndRedaction(
  redactionEnv: Record<string, string> = {},
): Promise<SecretsAndRedaction> {
  const prefix = uniqueSubjectPrefix();
  const database: TestDatabase = await createTestDatabase();
  const env = { NATS_SUBJECT_PREFIX: prefix, DATABASE_URL: database.url };
  const secrets = await startTestService(secretsService, env);
  const redaction = await startTestService(redactionService, { ...env, REDACTION_SETTLE_MS: '0', ...redactionEnv });
  const client = await TestNatsClient.connect(prefix);
  const tokens = await TestTokens.create();
  return {
    prefix,
    client,
    tokens,
    redaction,
    async close() {
      await client.close();
      await redaction.close();
      await secrets.close();
      await database.drop();
      await releaseSubjectPrefix(prefix);
    },
  };
}
