/** `RELIABILITY_FULL=1` (`npm run test:reliability`) runs the full sizes; `npm test` runs the reduced ones. */
export const FULL_SIZE = process.env.RELIABILITY_FULL === '1';

/** The reduced figure under `npm test`, the figure under `npm run test:reliability`. */
export function sized<T>(reduced: T, full: T): T {
  return FULL_SIZE ? full : reduced;
}
