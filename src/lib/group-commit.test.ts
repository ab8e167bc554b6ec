import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { GroupCommit, type GroupCommitOptions } from './group-commit.js';

/** A commit function whose calls are recorded and settled by the test. */
function recorder<T, R = void>() {
  const calls: { items: T[]; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  const commit = (items: T[]) =>
    new Promise<R>((resolve, reject) => {
      calls.push({ items: [...items], resolve, reject });
    });
  return { calls, commit, batches: () => calls.map((c) => c.items) };
}

/** Which of `promises` have settled, and how, after pending microtasks ran. */
async function states(promises: Promise<unknown>[]): Promise<string[]> {
  const out = promises.map(() => 'pending');
  promises.forEach((p, i) =>
    p.then(
      (v) => (out[i] = `resolved:${String(v)}`),
      (e: unknown) => (out[i] = `rejected:${(e as Error).message}`),
    ),
  );
  for (let i = 0; i < 10; i++) await Promise.resolve();
  return out;
}

function batcher<T, R = void>(rec: { commit: (items: T[]) => Promise<R> }, opts: Omit<GroupCommitOptions<T, R>, 'commit'>) {
  return new GroupCommit<T, R>({ ...opts, commit: rec.commit });
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('commits on size', () => {
  it('commits once the batch reaches maxSize, with the items in order, and starts a new batch after', async () => {
    const rec = recorder<string>();
    const gc = batcher(rec, { maxSize: 3, maxDelayMs: 1000 });
    void gc.add('a');
    void gc.add('b');
    expect(rec.calls).toHaveLength(0);
    void gc.add('c');
    expect(rec.batches()).toEqual([['a', 'b', 'c']]); // synchronously, no timer needed
    void gc.add('d');
    expect(rec.batches()).toEqual([['a', 'b', 'c']]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(rec.batches()).toEqual([['a', 'b', 'c'], ['d']]);
  });

  it('measures size with sizeOf', () => {
    const rec = recorder<number[]>();
    const gc = batcher(rec, { maxSize: 10, maxDelayMs: 1000, sizeOf: (events) => events.length });
    void gc.add([1, 2, 3, 4]);
    void gc.add([5, 6, 7, 8, 9]);
    expect(rec.calls).toHaveLength(0); // 9 < 10
    void gc.add([10, 11]);
    expect(rec.batches()).toEqual([[[1, 2, 3, 4], [5, 6, 7, 8, 9], [10, 11]]]); // 11 >= 10
    void gc.add([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(rec.calls).toHaveLength(2); // a single item over maxSize goes at once, alone
    expect(rec.calls[1]!.items).toHaveLength(1);
  });
});

describe('commits on time', () => {
  it('commits maxDelayMs after the first item, however many follow', async () => {
    const rec = recorder<string>();
    const gc = batcher(rec, { maxSize: 100, maxDelayMs: 50 });
    void gc.add('a');
    await vi.advanceTimersByTimeAsync(30);
    void gc.add('b'); // does not push the deadline back
    await vi.advanceTimersByTimeAsync(19);
    expect(rec.calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(rec.batches()).toEqual([['a', 'b']]);
    // The next batch's clock starts at its own first item.
    await vi.advanceTimersByTimeAsync(500);
    void gc.add('c');
    await vi.advanceTimersByTimeAsync(49);
    expect(rec.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(rec.batches()).toEqual([['a', 'b'], ['c']]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('with maxDelayMs 0 commits what arrived in one turn of the event loop together', async () => {
    const rec = recorder<string>();
    const gc = batcher(rec, { maxSize: 100, maxDelayMs: 0 });
    void gc.add('a');
    void gc.add('b');
    await Promise.resolve(); // microtasks are still the same turn
    void gc.add('c');
    expect(rec.calls).toHaveLength(0);
    await vi.advanceTimersToNextTimerAsync(); // the setImmediate
    expect(rec.batches()).toEqual([['a', 'b', 'c']]);
    void gc.add('d');
    await vi.advanceTimersToNextTimerAsync();
    expect(rec.batches()).toEqual([['a', 'b', 'c'], ['d']]);
  });

  it('leaves no timer behind when a batch went early, and never commits an empty batch', async () => {
    const rec = recorder<string>();
    const gc = batcher(rec, { maxSize: 2, maxDelayMs: 50 });
    void gc.add('a');
    void gc.add('b');
    expect(vi.getTimerCount()).toBe(0);
    gc.flush(); // nothing open
    await vi.advanceTimersByTimeAsync(1000);
    expect(rec.batches()).toEqual([['a', 'b']]);
  });
});

describe('commits when everyone waits', () => {
  it('commits at once when maxWaiting callers wait, counting those in commits in flight', async () => {
    const rec = recorder<string>();
    const gc = batcher(rec, { maxSize: 100, maxDelayMs: 60_000, maxWaiting: 3 });
    void gc.add('a');
    void gc.add('b');
    expect(rec.calls).toHaveLength(0);
    expect(gc.waiting).toBe(2);
    void gc.add('c');
    expect(rec.batches()).toEqual([['a', 'b', 'c']]);
    // Three still wait (in flight): each new caller is the last one who could come.
    void gc.add('d');
    expect(rec.batches()).toEqual([['a', 'b', 'c'], ['d']]);
    expect(gc.waiting).toBe(4);
    rec.calls[0]!.resolve();
    rec.calls[1]!.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(gc.waiting).toBe(0);
    // Back to waiting for size or time.
    void gc.add('e');
    void gc.add('f');
    expect(rec.calls).toHaveLength(2);
    void gc.add('g');
    expect(rec.batches()[2]).toEqual(['e', 'f', 'g']);
  });

  it.each(['succeeds', 'fails'])('counts a caller as gone before it hears its commit %s, so adding again right away is not double counted', async (outcome) => {
    const rec = recorder<string>();
    const gc = batcher(rec, { maxSize: 100, maxDelayMs: 60_000, maxWaiting: 2 });
    const waitingSeen: number[] = [];
    const retry = () => {
      waitingSeen.push(gc.waiting);
      return gc.add('a2');
    };
    const a = gc.add('a').then(retry, retry);
    void gc.add('b').catch(() => {}); // two wait: committed
    expect(rec.calls).toHaveLength(1);
    if (outcome === 'succeeds') rec.calls[0]!.resolve();
    else rec.calls[0]!.reject(new Error('down'));
    await vi.advanceTimersByTimeAsync(0);
    expect(waitingSeen).toEqual([0]);
    expect(rec.calls).toHaveLength(1); // 'a2' alone is one of two: it waits for a partner or time
    void gc.add('c');
    expect(rec.batches()).toEqual([['a', 'b'], ['a2', 'c']]);
    rec.calls[1]!.resolve();
    await a;
  });

  it('counts items committed alone as waiting', () => {
    const rec = recorder<string>();
    const gc = batcher(rec, { maxSize: 100, maxDelayMs: 60_000, maxWaiting: 2 });
    void gc.addAlone('retry');
    void gc.add('a');
    expect(rec.batches()).toEqual([['retry'], ['a']]);
  });
});

describe('outcomes', () => {
  it('each caller settles with the outcome of the commit that carried its item, and only once it completed', async () => {
    const rec = recorder<string, string>();
    const gc = batcher(rec, { maxSize: 2, maxDelayMs: 1000 });
    const first = [gc.add('a'), gc.add('b')];
    const second = [gc.add('c'), gc.add('d')];
    expect(await states([...first, ...second])).toEqual(['pending', 'pending', 'pending', 'pending']);
    rec.calls[1]!.resolve('second');
    expect(await states([...first, ...second])).toEqual(['pending', 'pending', 'resolved:second', 'resolved:second']);
    rec.calls[0]!.resolve('first');
    expect(await Promise.all([...first, ...second])).toEqual(['first', 'first', 'second', 'second']);
  });

  it('a failed commit rejects exactly its own callers', async () => {
    const rec = recorder<string, string>();
    const gc = batcher(rec, { maxSize: 2, maxDelayMs: 1000 });
    const first = [gc.add('a'), gc.add('b')];
    const second = [gc.add('c'), gc.add('d')];
    const third = gc.add('e');
    rec.calls[0]!.reject(new Error('insert refused'));
    rec.calls[1]!.resolve('ok');
    expect(await states([...first, ...second, third])).toEqual(['rejected:insert refused', 'rejected:insert refused', 'resolved:ok', 'resolved:ok', 'pending']);
    await vi.advanceTimersByTimeAsync(1000);
    rec.calls[2]!.resolve('later');
    expect(await third).toBe('later');
    expect(gc.waiting).toBe(0);
    expect(gc.committing).toBe(0);
  });

  it('a commit that throws synchronously rejects its callers instead of throwing at the one who added', async () => {
    let call = 0;
    const gc = new GroupCommit<string, number>({
      maxSize: 2,
      maxDelayMs: 1000,
      commit: () => {
        call++;
        if (call === 1) throw new Error('cannot seal');
        return Promise.resolve(call);
      },
    });
    const a = gc.add('a');
    let b: Promise<number> | undefined;
    expect(() => (b = gc.add('b'))).not.toThrow();
    const c = [gc.add('c'), gc.add('d')];
    expect(await states([a, b!, ...c])).toEqual(['rejected:cannot seal', 'rejected:cannot seal', 'resolved:2', 'resolved:2']);
    expect(gc.waiting).toBe(0);
  });

  it('items added alone go in a commit of their own and leave the open batch untouched', async () => {
    const rec = recorder<string, string>();
    const gc = batcher(rec, { maxSize: 100, maxDelayMs: 10 });
    const a = gc.add('a');
    const alone = gc.addAlone('poison?');
    expect(rec.batches()).toEqual([['poison?']]);
    rec.calls[0]!.reject(new Error('poison'));
    expect(await states([alone, a])).toEqual(['rejected:poison', 'pending']);
    await vi.advanceTimersByTimeAsync(10);
    expect(rec.batches()).toEqual([['poison?'], ['a']]);
    rec.calls[1]!.resolve('fine');
    expect(await a).toBe('fine');
  });

  it('does not wait for one commit before starting the next', () => {
    const rec = recorder<string>();
    const gc = batcher(rec, { maxSize: 1, maxDelayMs: 1000 });
    void gc.add('a');
    void gc.add('b');
    void gc.add('c');
    expect(rec.batches()).toEqual([['a'], ['b'], ['c']]);
    expect(gc.committing).toBe(3);
  });
});

describe('flush and drain', () => {
  it('flush commits the open batch now and cancels its timer', async () => {
    const rec = recorder<string>();
    const gc = batcher(rec, { maxSize: 100, maxDelayMs: 50 });
    void gc.add('a');
    gc.flush();
    expect(rec.batches()).toEqual([['a']]);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(100);
    expect(rec.calls).toHaveLength(1);
  });

  it('drain commits what is open, waits for every commit in flight, then commits each add at once', async () => {
    const rec = recorder<string>();
    const gc = batcher(rec, { maxSize: 100, maxDelayMs: 60_000 });
    void gc.add('a');
    void gc.add('b');
    gc.flush();
    void gc.add('c');
    let drained = false;
    const drain = gc.drain().then(() => (drained = true));
    expect(rec.batches()).toEqual([['a', 'b'], ['c']]);
    // Added while draining: committed at once, and drain waits for it too.
    void gc.add('d');
    expect(rec.batches()).toEqual([['a', 'b'], ['c'], ['d']]);
    rec.calls[0]!.resolve();
    rec.calls[1]!.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(drained).toBe(false);
    rec.calls[2]!.resolve();
    await drain;
    expect(drained).toBe(true);
    expect(gc.committing).toBe(0);
  });

  it('drain also waits for what callers add when they hear of their outcome', async () => {
    const rec = recorder<string>();
    const gc = batcher(rec, { maxSize: 100, maxDelayMs: 60_000 });
    const followUp: Promise<void>[] = [];
    void gc.add('a').then(() => {
      followUp.push(gc.add('a-follow-up'));
    });
    let drained = false;
    const drain = gc.drain().then(() => (drained = true));
    rec.calls[0]!.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(rec.batches()).toEqual([['a'], ['a-follow-up']]);
    expect(drained).toBe(false);
    rec.calls[1]!.resolve();
    await drain;
    expect(followUp).toHaveLength(1);
    expect(await states(followUp)).toEqual(['resolved:undefined']);
  });

  it('drain resolves even when commits fail, and when there is nothing to do', async () => {
    const rec = recorder<string>();
    const gc = batcher(rec, { maxSize: 100, maxDelayMs: 60_000 });
    const a = gc.add('a');
    const drain = gc.drain();
    rec.calls[0]!.reject(new Error('down'));
    await expect(a).rejects.toThrow('down');
    await drain;
    await new GroupCommit<string>({ maxSize: 1, maxDelayMs: 1, commit: async () => {} }).drain();
  });
});

describe('nothing accepted is dropped', () => {
  it('every item is committed exactly once, in order, whatever the mix of sizes, delays and flushes', async () => {
    type Step = { kind: 'add'; size: number } | { kind: 'alone' } | { kind: 'wait'; ms: number } | { kind: 'flush' } | { kind: 'settle' };
    const step = fc.oneof(
      { weight: 6, arbitrary: fc.record({ kind: fc.constant('add' as const), size: fc.integer({ min: 1, max: 7 }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('alone' as const) }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 40 }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('flush' as const) }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('settle' as const) }) },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(step, { maxLength: 60 }),
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 0, max: 30 }),
        fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }),
        async (steps: Step[], maxSize, maxDelayMs, maxWaiting) => {
          const calls: { items: { id: number; size: number }[]; resolve: (n: number) => void; reject: (e: unknown) => void }[] = [];
          const gc = new GroupCommit<{ id: number; size: number }, number>({
            maxSize,
            maxDelayMs,
            maxWaiting,
            sizeOf: (i) => i.size,
            commit: (items) => new Promise((resolve, reject) => calls.push({ items: [...items], resolve, reject })),
          });
          const settledWith = new Map<number, string>();
          let nextId = 0;
          let settledCalls = 0;
          const settleNext = () => {
            const c = calls[settledCalls];
            if (!c) return;
            // Odd commits fail, even ones succeed with their own index.
            if (settledCalls % 2) c.reject(new Error(`commit ${settledCalls}`));
            else c.resolve(settledCalls);
            settledCalls++;
          };
          const track = (id: number, p: Promise<number>) =>
            p.then(
              (n) => settledWith.set(id, `ok ${n}`),
              (e: unknown) => settledWith.set(id, (e as Error).message),
            );
          const tracked: Promise<unknown>[] = [];
          for (const s of steps) {
            if (s.kind === 'add') {
              const id = nextId++;
              tracked.push(track(id, gc.add({ id, size: s.size })));
            } else if (s.kind === 'alone') {
              const id = nextId++;
              tracked.push(track(id, gc.addAlone({ id, size: 1 })));
            } else if (s.kind === 'wait') await vi.advanceTimersByTimeAsync(s.ms);
            else if (s.kind === 'flush') gc.flush();
            else settleNext();
          }
          const drained = gc.drain();
          while (settledCalls < calls.length) settleNext();
          await drained;
          await Promise.all(tracked);

          const committed = calls.flatMap((c) => c.items.map((i) => i.id));
          // Exactly once each (alone items may overtake the open batch, so compare as sets, then order per batch).
          expect([...committed].sort((a, b) => a - b)).toEqual(Array.from({ length: nextId }, (_, i) => i));
          for (const c of calls) {
            expect(c.items.length).toBeGreaterThan(0);
            const ids = c.items.map((i) => i.id);
            expect(ids).toEqual([...ids].sort((a, b) => a - b));
          }
          // Each caller heard the outcome of its own commit.
          calls.forEach((c, index) => {
            for (const i of c.items) expect(settledWith.get(i.id)).toBe(index % 2 ? `commit ${index}` : `ok ${index}`);
          });
          expect(gc.waiting).toBe(0);
          expect(gc.committing).toBe(0);
        },
      ),
      { numRuns: 200 },
    );
  });
});
