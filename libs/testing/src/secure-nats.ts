// A nats-server that takes TLS only and known users only, with the certificates, nkeys and JWTs made in the test.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as connectTcp } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ConnectionOptions, connect, nkeys as untypedNkeys } from 'nats';
import { freePort } from './configured-nats-server';
import { natsServerBinary } from './nats-server-binary';
import { eventually } from './eventually';

/** Files of a throw-away PKI: a CA, a server certificate for 127.0.0.1/localhost/nats, and client certificates. */
export interface TestPki {
  readonly dir: string;
  readonly caFile: string;
  readonly serverCertFile: string;
  readonly serverKeyFile: string;
  /** A client certificate the CA signed. */
  readonly clientCertFile: string;
  readonly clientKeyFile: string;
  /** A CA the server does not trust, and a client certificate it signed. */
  readonly otherCaFile: string;
  readonly otherClientCertFile: string;
  readonly otherClientKeyFile: string;
  /** Deletes every file. */
  remove(): void;
}

function openssl(dir: string, args: readonly string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

function makeCa(dir: string, name: string): void {
  openssl(dir, [
    ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'],
    ...['-keyout', `${name}-key.pem`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${name} (test only)`],
    ...['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
  ]);
}

function issue(dir: string, ca: string, name: string, extensions: string): void {
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(dir, [
    ...['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'],
    ...['-keyout', `${name}-key.pem`, '-out', `${name}.csr`, '-subj', `/CN=${name}`],
  ]);
  openssl(dir, [
    ...['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}-key.pem`, '-CAcreateserial'],
    ...['-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`],
  ]);
}

/** Makes a CA, a server certificate and client certificates with the openssl CLI into a temporary directory. */
export function createTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'nats-pki-'));
  makeCa(dir, 'ca');
  makeCa(dir, 'other-ca');
  issue(
    dir,
    'ca',
    'server',
    'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,DNS:nats,IP:127.0.0.1\n',
  );
  issue(dir, 'ca', 'client', 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n');
  issue(dir, 'other-ca', 'other-client', 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n');
  const file = (name: string) => join(dir, name);
  return {
    dir,
    caFile: file('ca.pem'),
    serverCertFile: file('server.pem'),
    serverKeyFile: file('server-key.pem'),
    clientCertFile: file('client.pem'),
    clientKeyFile: file('client-key.pem'),
    otherCaFile: file('other-ca.pem'),
    otherClientCertFile: file('other-client.pem'),
    otherClientKeyFile: file('other-client-key.pem'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The part of nkeys.js (which nats re-exports untyped) these tests use. */
interface KeyPair {
  getPublicKey(): string;
  getSeed(): Uint8Array;
  sign(data: Uint8Array): Uint8Array;
}
const nkeys = untypedNkeys as { createOperator(): KeyPair; createAccount(): KeyPair; createUser(): KeyPair };

const base64url = (data: string | Uint8Array) => Buffer.from(data).toString('base64url');

/** A NATS JWT (v2, `ed25519-nkey`) with `claims.nats` of `type`, issued by `issuer` for `subject`. */
function natsJwt(issuer: KeyPair, subject: string, name: string, nats: Record<string, unknown>): string {
  const claims = { iat: Math.floor(Date.now() / 1000), iss: issuer.getPublicKey(), name, sub: subject, nats };
  const jti = createHash('sha256').update(JSON.stringify(claims)).digest('base64url');
  const body = `${base64url(JSON.stringify({ typ: 'JWT', alg: 'ed25519-nkey' }))}.${base64url(JSON.stringify({ jti, ...claims }))}`;
  return `${body}.${base64url(issuer.sign(new TextEncoder().encode(body)))}`;
}

/** Unlimited, as `nsc add account` with JetStream enabled. */
const UNLIMITED = { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 };
const JETSTREAM = { mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 };

/** A decentralized-auth trust chain made offline with nkeys: operator → account → users with `.creds` files. */
export class TestOperator {
  private readonly operator = nkeys.createOperator();
  private readonly account = nkeys.createAccount();
  readonly operatorJwt: string;
  readonly accountJwt: string;

  constructor() {
    this.operatorJwt = natsJwt(this.operator, this.operator.getPublicKey(), 'test-operator', {
      type: 'operator',
      version: 2,
    });
    this.accountJwt = natsJwt(this.operator, this.account.getPublicKey(), 'platform', {
      limits: { ...UNLIMITED, ...JETSTREAM },
      default_permissions: { pub: {}, sub: {} },
      type: 'account',
      version: 2,
    });
  }

  /** The operator block of a server configuration: trust this operator, and know its one account. */
  serverConfig(operatorJwtFile: string): string {
    return [
      `operator: ${JSON.stringify(operatorJwtFile)}`,
      'resolver: MEMORY',
      `resolver_preload: { ${this.account.getPublicKey()}: ${JSON.stringify(this.accountJwt)} }`,
    ].join('\n');
  }

  /**
   * The text of a `.creds` file for a new user `name` of the account, issued by the account key. `permissions` are
   * the JWT's user claims (`pub`, `sub`, `resp`); none means everything is allowed.
   */
  userCreds(name: string, permissions: Record<string, unknown> = {}): string {
    const user = nkeys.createUser();
    const jwt = natsJwt(this.account, user.getPublicKey(), name, {
      pub: {},
      sub: {},
      ...permissions,
      subs: -1,
      data: -1,
      payload: -1,
      type: 'user',
      version: 2,
    });
    const seed = new TextDecoder().decode(user.getSeed());
    return (
      `-----BEGIN NATS USER JWT-----\n${jwt}\n------END NATS USER JWT------\n\n` +
      `-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n`
    );
  }
}

export interface SecureNatsServerOptions {
  readonly pki: TestPki;
  /** Require a client certificate signed by the CA (`tls { verify: true }`). */
  readonly verify: boolean;
  /** The server's authentication block(s): `authorization { … }`, or a TestOperator's serverConfig. */
  readonly auth: string;
  /** Connection options of a client the server accepts, to tell that it is up. */
  readonly probe: ConnectionOptions;
  readonly jetStream?: boolean;
  readonly binary?: string;
}

export interface SecureNatsServer {
  readonly url: string;
  readonly port: number;
  /** The HTTP monitoring port (`/connz?auth=true` shows each connection's user and TLS version). */
  readonly monitorPort: number;
  /** Everything the server logged. */
  readonly output: string[];
  stop(): Promise<void>;
}

/** Starts nats-server on free loopback ports with TLS required for every client and only the given users. */
export async function startSecureNatsServer(options: SecureNatsServerOptions): Promise<SecureNatsServer> {
  const [port, monitorPort] = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'secure-nats-'));
  const { pki } = options;
  const conf = [
    `port: ${port}`,
    `http_port: ${monitorPort}`,
    'tls {',
    `  cert_file: ${JSON.stringify(pki.serverCertFile)}`,
    `  key_file: ${JSON.stringify(pki.serverKeyFile)}`,
    `  ca_file: ${JSON.stringify(pki.caFile)}`,
    `  verify: ${options.verify}`,
    '  timeout: 2',
    '}',
    options.jetStream ? `jetstream { store_dir: ${JSON.stringify(join(dir, 'js'))} }` : '',
    options.auth,
  ].join('\n');
  writeFileSync(join(dir, 'nats-server.conf'), conf);
  const child: ChildProcess = spawn(
    options.binary ?? natsServerBinary(),
    ['-c', join(dir, 'nats-server.conf'), '-a', '127.0.0.1'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const output: string[] = [];
  for (const stream of [child.stdout!, child.stderr!]) {
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => output.push(...chunk.split('\n').filter(Boolean)));
  }
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', (error) => {
      output.push(`spawn failed: ${error.message}`);
      resolve();
    });
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode === null) child.kill();
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  const url = `tls://127.0.0.1:${port}`;
  try {
    await eventually(
      'the secure nats-server to accept its probe client',
      async () => {
        if (child.exitCode !== null) throw new Error(`nats-server exited:\n${output.slice(-20).join('\n')}`);
        return connect({ ...options.probe, servers: url, maxReconnectAttempts: 0 }).then(
          (connection) => connection.close().then(() => true),
          () => false,
        );
      },
      { timeoutMs: 15_000, intervalMs: 100 },
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, port, monitorPort, output, stop };
}

/**
 * What a server answers a plain-text client that skips TLS and sends CONNECT and PING at once: `PONG` would mean it
 * let the client in; a TLS-only server sends an error or closes the connection instead.
 */
export function plainTextExchange(port: number, connect: object = {}): Promise<string> {
  return new Promise((resolve) => {
    const socket = connectTcp(port, '127.0.0.1');
    let received = '';
    let sent = false;
    const finish = () => {
      socket.destroy();
      resolve(received);
    };
    const timer = setTimeout(finish, 5_000);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      received += chunk;
      if (!sent && received.includes('\r\n')) {
        sent = true;
        socket.write(`CONNECT ${JSON.stringify({ verbose: false, pedantic: false, ...connect })}\r\nPING\r\n`);
      }
      if (/PONG|-ERR/.test(received.slice(received.indexOf('\r\n')))) {
        clearTimeout(timer);
        finish();
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(received);
    });
  });
}
