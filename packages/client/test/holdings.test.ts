import { describe, expect, it } from 'vitest';
import { compareHoldings } from '../src/holdings.js';

const f = (space: string, entries: number, fingerprint = `fp-${space}-${entries}`) => ({ space, entries, fingerprint });

describe('what a move checks before it drops FROM', () => {
  it('TO is complete where it holds what this device holds, or for a space this device lacks, what FROM holds', () => {
    const rows = compareHoldings([f('a', 3), f('b', 5), f('c', 2)], [f('a', 3), f('b', 4), f('d', 7)], [f('a', 3), f('b', 5), f('d', 7), f('e', 1)]);
    expect(rows.map((r) => [r.space, r.complete])).toEqual([
      ['a', true],
      // TO lacks an entry of b; c is not at TO at all.
      ['b', false],
      ['c', false],
      // A space only the providers hold: TO must hold what FROM does.
      ['d', true],
      ['e', false],
    ]);
  });

  it('the same counts with other entries are not the same holdings; FROM unasked leaves TO judged by this device alone', () => {
    expect(compareHoldings([f('a', 3, 'x')], [f('a', 3, 'y')])[0]!.complete).toBe(false);
    expect(compareHoldings([f('a', 3)], [f('a', 3)])).toEqual([{ space: 'a', local: { entries: 3, fingerprint: 'fp-a-3' }, to: { entries: 3, fingerprint: 'fp-a-3' }, complete: true }]);
    // FROM lacking entries (it dropped them) does not hold the move back once TO holds this device's.
    expect(compareHoldings([f('a', 3)], [f('a', 3)], [f('a', 1)])[0]!.complete).toBe(true);
  });
});
