import t from 'tap';
import fc from 'fast-check';
import { MAX_RFC3339_MS, formatRfc3339 } from '../../../src/normalize/time.js';

/** The definition formatRfc3339 must keep while it formats each day only once. */
const byDefinition = (ms: number): string => {
  const iso = new Date(ms).toISOString();
  return iso.endsWith('.000Z') ? iso.slice(0, -5) + 'Z' : iso;
};

t.test('formatRfc3339 equals toISOString (without ".000") for any instant, in any order of calls', async (t) => {
  let checked = 0;
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: MAX_RFC3339_MS }), { minLength: 1, maxLength: 50 }), fc.integer({ min: 0, max: 999 }), (instants, spread) => {
      // Neighbours in one second and one day too: the cached day must not leak into the next one.
      for (const ms of instants.flatMap((x) => [x, Math.min(MAX_RFC3339_MS, x + spread), Math.max(0, x - spread), x - (x % 86_400_000), Math.max(0, x - (x % 86_400_000) - 1 - spread)])) {
        if (formatRfc3339(ms) !== byDefinition(ms)) throw new Error(`ms=${ms}: ${formatRfc3339(ms)} ≠ ${byDefinition(ms)}`);
        checked++;
      }
    }),
  );
  t.ok(checked > 100, `${checked} instants checked`);
});

t.test('formatRfc3339 keeps the edge cases: epoch, whole seconds, 1 and 10 ms, the last instant, fractions', async (t) => {
  for (const ms of [0, 1, 10, 99, 100, 999, 1000, 1001, 59_999, 3_599_999, 86_399_999, 86_400_000, 86_400_001, 1767225600000, 1767311999999, 1767225600007, 1767225600070, MAX_RFC3339_MS, 1767225600000.5, 1767225600999.9]) {
    t.equal(formatRfc3339(ms), byDefinition(ms), `ms=${ms}`);
  }
});
