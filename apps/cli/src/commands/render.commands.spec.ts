import { spawnSync } from 'node:child_process';
import { CREDENTIAL_VARIABLES, pinsOf, runEnvironment } from './render.commands';

/** Every Object.prototype property name, `__proto__` included: each is a plain name here. */
const PROTOTYPE_NAMES = Object.getOwnPropertyNames(Object.prototype);
const KEY_PATTERN = /^[A-Za-z][A-Za-z0-9_]{0,255}$/;
/** The names that are also valid secret keys. */
const KEYS = PROTOTYPE_NAMES.filter((name) => KEY_PATTERN.test(name));

describe('runEnvironment', () => {
  const rendered = JSON.stringify(Object.fromEntries(PROTOTYPE_NAMES.map((name) => [name, `value of ${name}`])));

  it('sets a variable per rendered secret whatever its name, over the parent environment', () => {
    const env = runEnvironment({ PATH: '/bin', valueOf: 'parent' }, rendered);
    expect(Object.getPrototypeOf(env)).toBeNull();
    expect(Object.keys(env).sort()).toEqual(['PATH', ...PROTOTYPE_NAMES].sort());
    for (const name of PROTOTYPE_NAMES)
      expect(Object.getOwnPropertyDescriptor(env, name)?.value).toBe(`value of ${name}`);
    expect(env.PATH).toBe('/bin');
  });

  /** The environment the command sees when started with `env`. */
  function childSees(env: NodeJS.ProcessEnv): Record<string, string> {
    const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(JSON.stringify(process.env))'], { env });
    return JSON.parse(child.stdout.toString('utf8')) as Record<string, string>;
  }

  it('hands those variables to the command it runs', () => {
    const seen = childSees(runEnvironment({ PATH: process.env.PATH }, rendered));
    for (const name of PROTOTYPE_NAMES) {
      expect(Object.getOwnPropertyDescriptor(seen, name)?.value).toBe(`value of ${name}`);
    }
  });

  it('passes nothing inherited: spawn copies enumerable properties of the prototype too', () => {
    const env = runEnvironment({ PATH: process.env.PATH }, rendered);
    Object.defineProperty(Object.prototype, 'INHERITED_VARIABLE', { value: 'x', enumerable: true, configurable: true });
    try {
      expect(Object.keys(childSees(env))).not.toContain('INHERITED_VARIABLE');
    } finally {
      delete (Object.prototype as Record<string, unknown>).INHERITED_VARIABLE;
    }
  });

  it("withholds the CLI's token and NATS credentials unless passToken", () => {
    const parent = Object.fromEntries(CREDENTIAL_VARIABLES.map((name) => [name, `parent ${name}`]));
    const withheld = childSees(runEnvironment({ ...parent, PATH: process.env.PATH, KEEP: 'kept' }, '{}'));
    expect(withheld.KEEP).toBe('kept');
    for (const name of ['SECRETS_TOKEN', 'NATS_USER', 'NATS_PASSWORD', 'NATS_CREDS_FILE', 'NATS_NKEY_SEED_FILE']) {
      expect(withheld).not.toHaveProperty(name);
    }
    const passed = childSees(runEnvironment({ ...parent, PATH: process.env.PATH }, '{}', { passToken: true }));
    for (const name of CREDENTIAL_VARIABLES) expect(passed[name]).toBe(`parent ${name}`);
  });

  it('refuses output that is not an object of text values, without quoting it', () => {
    const message = 'render did not return the secrets as a JSON object of text values';
    for (const output of ['not json sk-secret', '["sk-secret"]', 'null', '{"toString":{"value":"sk-secret"}}']) {
      expect(() => runEnvironment({}, output)).toThrow(message);
    }
  });
});

describe('pinsOf', () => {
  it('reads KEY=VERSION for keys named like prototype properties', () => {
    const pins = pinsOf(KEYS.map((key, index) => `${key}=${index + 1}`));
    expect(Object.getPrototypeOf(pins)).toBeNull();
    expect(Object.entries(pins)).toEqual(KEYS.map((key, index) => [key, index + 1]));
    expect(JSON.parse(JSON.stringify(pins))).toEqual(Object.fromEntries(KEYS.map((key, index) => [key, index + 1])));
  });

  it('refuses a pin whose key cannot be a secret key', () => {
    for (const pin of ['__proto__=1', 'constructor', 'toString=x']) {
      expect(() => pinsOf([pin])).toThrow(`--pin takes KEY=VERSION (got "${pin}")`);
    }
  });
});
