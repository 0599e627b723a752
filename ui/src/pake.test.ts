// The browser's SPAKE2 against the server's: the same fixed exchange as the Rust test
// `a_fixed_exchange_gives_the_recorded_bytes` (crates/core/src/model/pake.rs) must give the
// same bytes here, or a phone could never pair.
import { describe, expect, it } from 'vitest';
import { DeviceHalf, fromHex, passwordScalar, scalarBytes, toHex } from './pake';

// [w, pA (x = 7), pB (y = 11), cA, cB] for code "c0ffee" and AAD "04ab", from the Rust test.
const VECTOR = [
  'af13c114b67c35cc3c401682e468e09147737bbabcec192f1470015fd36ff308',
  'ba5c4623c6c1d92a6bb109f9a56cbae94a74b919d6e77d37803b798551e778c4',
  'be3a40894bee2d2228e0cebe9721610e8e5848de8beb1b84fd22dbaec58c63b6',
  '9565bccbb6969d38f77a5b52fa15f5b020d7d4c2ef3d3b9fa37371e3bc80961c',
  'a7f3982ace3bf55b5107f168167c5ea3346a364c1ee4bd128456a68d7d6b5c04'
];

describe('pake', () => {
  it('computes the same exchange as the server', async () => {
    const w = await passwordScalar('c0ffee');
    expect(toHex(scalarBytes(w))).toBe(VECTOR[0]);
    const half = new DeviceHalf(w, 7n);
    expect(toHex(half.message)).toBe(VECTOR[1]);
    const keys = await half.finish(fromHex(VECTOR[2]), new TextEncoder().encode('04ab'));
    expect(toHex(keys.deviceConfirms)).toBe(VECTOR[3]);
    expect(toHex(keys.serverConfirms)).toBe(VECTOR[4]);
  });

  it('refuses a message that is not a point', async () => {
    const half = new DeviceHalf(await passwordScalar('c0ffee'));
    const off = new Uint8Array(32);
    off[0] = 2;
    await expect(half.finish(off, new Uint8Array())).rejects.toThrow('not a point');
    await expect(half.finish(new Uint8Array(32).fill(0).map((_, i) => (i === 0 ? 1 : 0)), new Uint8Array())).rejects.toThrow('small-order');
  });
});
