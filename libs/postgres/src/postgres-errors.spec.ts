import { constraintOf, isSilentConnection, isUnavailable, sqlState } from './postgres-errors';

const pgError = (code: string, message = 'failed'): Error => Object.assign(new Error(message), { code });

describe('Postgres errors: is the database unavailable?', () => {
  it.each([
    ['08006', 'connection failure'],
    ['08001', 'cannot establish a connection'],
    ['53300', 'too many connections'],
    ['53100', 'disk full'],
    ['57P01', 'admin shutdown'],
    ['57P02', 'crash shutdown'],
    ['57P03', 'cannot connect now'],
  ])('counts SQLSTATE %s (%s) as unavailable', (code) => {
    expect(isUnavailable(pgError(code))).toBe(true);
  });

  it.each(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE'])(
    'counts the socket error %s as unavailable',
    (code) => {
      expect(isUnavailable(pgError(code, `connect ${code} 127.0.0.1:5432`))).toBe(true);
    },
  );

  it.each([
    'Connection terminated unexpectedly',
    'Connection terminated due to connection timeout',
    'Client has encountered a connection error and is not queryable',
    'timeout expired',
    'timeout exceeded when trying to connect',
    'Query read timeout',
  ])("counts the driver's %j as unavailable", (message) => {
    expect(isUnavailable(new Error(message))).toBe(true);
  });

  it("counts knex's pool timeout (the migration run's) as unavailable", () => {
    expect(
      isUnavailable(Object.assign(new Error('Knex: Timeout acquiring a connection'), { name: 'KnexTimeoutError' })),
    ).toBe(true);
  });

  it.each([
    ['42601', 'syntax error at or near "selec"'],
    ['23505', 'duplicate key value violates unique constraint'],
    ['57014', 'canceling statement due to statement timeout'],
    ['40001', 'could not serialize access'],
  ])('leaves statement errors alone: SQLSTATE %s', (code, message) => {
    expect(isUnavailable(pgError(code, message))).toBe(false);
  });

  it('leaves other errors alone, however their message reads', () => {
    expect(isUnavailable(new Error('a timeout expired somewhere in a message'))).toBe(false);
    expect(isUnavailable(new Error('boom'))).toBe(false);
    expect(isUnavailable(undefined)).toBe(false);
    expect(isUnavailable('Connection terminated')).toBe(false);
  });
});

describe('Postgres errors: a silent connection', () => {
  it('tells a connection that stopped answering (never to be reused) from other failures', () => {
    expect(isSilentConnection(new Error('Query read timeout'))).toBe(true);
    expect(isSilentConnection(new Error('timeout expired'))).toBe(false);
    expect(isSilentConnection(pgError('57014', 'canceling statement'))).toBe(false);
  });
});

describe('Postgres errors: fields', () => {
  it('reads the SQLSTATE and the constraint, when there are', () => {
    const unique = Object.assign(pgError('23505'), { constraint: 'events_event_id_unique' });
    expect(sqlState(unique)).toBe('23505');
    expect(constraintOf(unique)).toBe('events_event_id_unique');
    expect(sqlState(new Error('x'))).toBeUndefined();
    expect(constraintOf(null)).toBeUndefined();
  });
});
