import { CommitNotifier } from './commit-notifier';

describe('CommitNotifier', () => {
  it('sends one wake-up for commits that arrive while one is in flight, and none is lost', async () => {
    const sends: (() => void)[] = [];
    const notifier = new CommitNotifier(() => new Promise<void>((resolve) => sends.push(resolve)));

    notifier.committed();
    notifier.committed();
    notifier.committed();
    expect(sends).toHaveLength(1);
    sends[0]();
    await new Promise(setImmediate);
    expect(sends).toHaveLength(2);
    sends[1]();
    await notifier.idle();

    expect(sends).toHaveLength(2);
    notifier.committed();
    expect(sends).toHaveLength(3);
    sends[2]();
    await notifier.idle();
  });

  it('survives a failed wake-up', async () => {
    let calls = 0;
    const notifier = new CommitNotifier(async () => {
      calls++;
      throw new Error('database gone');
    });

    notifier.committed();
    await notifier.idle();
    notifier.committed();
    await notifier.idle();

    expect(calls).toBe(2);
  });
});
