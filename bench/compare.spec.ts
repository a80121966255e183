import { parseBenchOutput } from './compare';

describe('parseBenchOutput', () => {
  it('reads every figure with a unit, by section and name without the notes that change between runs', () => {
    const output = [
      'machine: 2 × CPU',
      '',
      '### secrets service (load 1.2), load average 1.3',
      '',
      '| figure | measured | baseline | ratio |',
      '|---|---|---|---|',
      '| creates/s over NATS, 32 in flight (p50 32.2 ms; load 0.7) | 1,888 creates/s | 1,000 creates/s (target) | 1.89× |',
      '| creates, 32 in flight: CPU per operation | 923 µs | — | — |',
      '| machine load, 1-minute average, at the start | 0.96 | — | — |',
      '| render p99 | 9.5 ms | 10 ms (target) | 1.05× |',
    ].join('\n');
    expect([...parseBenchOutput(output)]).toEqual([
      ['secrets service / creates/s over NATS, 32 in flight', { value: 1888, unit: 'creates/s' }],
      ['secrets service / creates, 32 in flight: CPU per operation', { value: 923, unit: 'µs' }],
      ['secrets service / render p99', { value: 9.5, unit: 'ms' }],
    ]);
  });
});
