import { CodedError } from '@platform/contracts';
import { INTERNAL_ERROR, codedErrorMapper } from './errors';

enum ShelfErrorCode {
  MISSING = 'MISSING',
  DOWN = 'DOWN',
  BROKEN = 'BROKEN',
}
class ShelfError extends CodedError<ShelfErrorCode> {}

const shelfErrorMapper = codedErrorMapper(ShelfError, {
  [ShelfErrorCode.MISSING]: 'NOT_FOUND',
  [ShelfErrorCode.DOWN]: { code: 'UNAVAILABLE', message: 'the shelf is unavailable; retry later' },
  [ShelfErrorCode.BROKEN]: INTERNAL_ERROR,
});

describe('codedErrorMapper', () => {
  it('sends a code mapped to a wire code with its message, and details only when it has some', () => {
    expect(shelfErrorMapper(new ShelfError(ShelfErrorCode.MISSING, 'no book "x"', { key: 'x' }))).toEqual({
      code: 'NOT_FOUND',
      message: 'no book "x"',
      details: { key: 'x' },
    });
    expect(shelfErrorMapper(new ShelfError(ShelfErrorCode.MISSING, 'no book'))).toStrictEqual({
      code: 'NOT_FOUND',
      message: 'no book',
    });
  });

  it('replaces message and details where the mapping is a whole wire error', () => {
    const down = new ShelfError(ShelfErrorCode.DOWN, 'connect ECONNREFUSED 10.0.0.7:5432', { host: '10.0.0.7' });
    expect(shelfErrorMapper(down)).toEqual({ code: 'UNAVAILABLE', message: 'the shelf is unavailable; retry later' });
    expect(shelfErrorMapper(new ShelfError(ShelfErrorCode.BROKEN, 'row 7 is torn'))).toBe(INTERNAL_ERROR);
  });

  it('leaves every other error to the next mapper', () => {
    expect(shelfErrorMapper(new Error('no book'))).toBeUndefined();
    expect(shelfErrorMapper('MISSING')).toBeUndefined();
  });
});
