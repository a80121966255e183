// An insider with a service's NATS credentials (or none needed) tries to erase SECRETS_EVENTS history through the
// JetStream API: deleting a message, purging the stream. The stream's own flags refuse it, and so do the shipped
// configuration's user permissions.
import { join } from 'node:path';
import { type NatsConnection, RetentionPolicy, StorageType, connect } from 'nats';
import { ensureStreams, natsCredentials, prefixedStreamName, streamConfig } from '@platform/messaging';
import {
  type ConfiguredNatsServer,
  releaseSubjectPrefix,
  startConfiguredNatsServer,
  testInfrastructure,
  uniqueSubjectPrefix,
  natsServerBinary,
} from '@platform/testing';

const NATS_CONF = join(__dirname, '../../deploy/nats/nats-server.conf');
const encoder = new TextEncoder();

describe('SECRETS_EVENTS stream flags', () => {
  const prefix = uniqueSubjectPrefix();
  const stream = prefixedStreamName(prefix, 'SECRETS_EVENTS');
  let nats: NatsConnection;

  beforeAll(async () => {
    nats = await connect({ servers: testInfrastructure().natsUrl });
  });

  afterAll(async () => {
    await nats.close();
    await releaseSubjectPrefix(prefix);
  });

  it('turns deny_delete and deny_purge on for a stream created by an earlier release, keeping its messages', async () => {
    const manager = await nats.jetstreamManager();
    // The previous release's configuration: no flags.
    await manager.streams.add({
      name: stream,
      subjects: [`${prefix}secrets.events.>`],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
    });
    await nats.jetstream().publish(`${prefix}secrets.events.acme.SecretCreated`, encoder.encode('{}'));

    await ensureStreams(nats, ['SECRETS_EVENTS'], { subjectPrefix: prefix, replicas: 1 });

    const info = await manager.streams.info(stream);
    expect(info.config).toMatchObject({ deny_delete: true, deny_purge: true });
    expect(info.state.messages).toBe(1);
  });

  it('refuses to delete a message or purge the stream, even to a user allowed every JetStream API call', async () => {
    const manager = await nats.jetstreamManager();
    await expect(manager.streams.deleteMessage(stream, 1)).rejects.toThrow(/message delete not permitted/i);
    await expect(manager.streams.deleteMessage(stream, 1, false)).rejects.toThrow(/message delete not permitted/i);
    await expect(manager.streams.purge(stream)).rejects.toThrow(/stream purge not permitted/i);
    expect((await manager.streams.info(stream)).state.messages).toBe(1);
  });

  it('refuses an update that would turn the flags off again', async () => {
    const manager = await nats.jetstreamManager();
    const config = streamConfig('SECRETS_EVENTS', { subjectPrefix: prefix, replicas: 1 });
    await expect(manager.streams.update(stream, { ...config, deny_delete: false })).rejects.toThrow(
      /can not cancel deny message deletes/i,
    );
    await expect(manager.streams.update(stream, { ...config, deny_purge: false })).rejects.toThrow(
      /can not cancel deny purge/i,
    );
  });
});

describe('the shipped NATS permissions', () => {
  type User = 'secrets' | 'render' | 'redaction' | 'audit' | 'ops' | 'client' | 'shipper';
  const USERS: readonly User[] = ['secrets', 'render', 'redaction', 'audit', 'ops', 'client', 'shipper'];
  let server: ConfiguredNatsServer;
  const connections = new Map<User, NatsConnection>();

  beforeAll(async () => {
    server = await startConfiguredNatsServer(NATS_CONF, {
      binary: natsServerBinary(),
      probeUser: 'ops',
      probePassword: 'dev-ops-password',
    });
    for (const user of USERS) {
      connections.set(user, await connect({ servers: server.url, ...natsCredentials(user, `dev-${user}-password`) }));
    }
    // The owner creates the stream as the service does at start, and its outbox publishes one event.
    const secrets = connections.get('secrets')!;
    await ensureStreams(secrets, ['SECRETS_EVENTS'], { subjectPrefix: '', replicas: 1 });
    await secrets.jetstream().publish('secrets.events.acme.SecretCreated', encoder.encode('{}'));
  }, 30_000);

  afterAll(async () => {
    await Promise.all([...connections.values()].map((c) => c.close()));
    await server?.stop();
  });

  /** What the server answers `user` on a JetStream API subject: `refused` for a permissions violation. */
  function call(user: User, subject: string, body: object = {}): Promise<string> {
    return connections
      .get(user)!
      .request(subject, encoder.encode(JSON.stringify(body)), { timeout: 3000 })
      .then(
        () => 'answered',
        (error: Error) => (/permissions violation/i.test(error.message) ? 'refused' : error.message),
      );
  }

  it('refuses every user a message delete, a purge or a stream delete on SECRETS_EVENTS', async () => {
    for (const user of USERS) {
      for (const [subject, body] of [
        ['$JS.API.STREAM.MSG.DELETE.SECRETS_EVENTS', { seq: 1 }],
        ['$JS.API.STREAM.MSG.DELETE.SECRETS_EVENTS', { seq: 1, no_erase: true }],
        ['$JS.API.STREAM.PURGE.SECRETS_EVENTS', {}],
        ['$JS.API.STREAM.DELETE.SECRETS_EVENTS', {}],
      ] as const) {
        expect([user, subject, await call(user, subject, body)]).toEqual([user, subject, 'refused']);
      }
    }
    const ops = await connections.get('ops')!.jetstreamManager();
    expect((await ops.streams.info('SECRETS_EVENTS')).state.messages).toBe(1);
  });

  it('lets no one but secrets create or update SECRETS_EVENTS (an update could shrink its limits)', async () => {
    const config = streamConfig('SECRETS_EVENTS', { subjectPrefix: '', replicas: 1 });
    for (const user of USERS.filter((u) => u !== 'secrets')) {
      expect([user, await call(user, '$JS.API.STREAM.UPDATE.SECRETS_EVENTS', { ...config, max_msgs: 1 })]).toEqual([
        user,
        'refused',
      ]);
      expect([user, await call(user, '$JS.API.STREAM.CREATE.SECRETS_EVENTS', config)]).toEqual([user, 'refused']);
    }
  });

  it('keeps every user to the JetStream calls it makes: no one deletes or purges any stream', async () => {
    await ensureStreams(connections.get('redaction')!, ['LOGS_RAW', 'LOGS'], { subjectPrefix: '', replicas: 1 });
    for (const user of USERS) {
      for (const name of ['LOGS_RAW', 'LOGS']) {
        expect([user, name, await call(user, `$JS.API.STREAM.PURGE.${name}`)]).toEqual([user, name, 'refused']);
        expect([user, name, await call(user, `$JS.API.STREAM.DELETE.${name}`)]).toEqual([user, name, 'refused']);
      }
    }
    // secrets needs no consumer at all; only ops, audit and redaction read SECRETS_EVENTS.
    for (const user of ['secrets', 'render', 'client', 'shipper'] as const) {
      expect([user, await call(user, '$JS.API.CONSUMER.CREATE.SECRETS_EVENTS.mine')]).toEqual([user, 'refused']);
    }
    // No service but audit (and ops's resets) may touch the audit durable.
    for (const user of ['secrets', 'redaction', 'render'] as const) {
      expect([user, await call(user, '$JS.API.CONSUMER.MSG.NEXT.SECRETS_EVENTS.audit', { batch: 1 })]).toEqual([
        user,
        'refused',
      ]);
    }
  });
});
