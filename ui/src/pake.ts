// SPAKE2 (RFC 9382) over edwards25519, the device's side (A): the same steps as the server's
// `crates/core/src/model/pake.rs`, which documents the protocol. The pairing code never leaves
// this device; what is sent proves it holds the code, to the server that made it and nobody else.

import { ed25519 } from '@noble/curves/ed25519.js';

const Point = ed25519.Point;
type Pt = InstanceType<typeof Point>;

/** RFC 9382, section 6: M and N for edwards25519. */
const M = Point.fromHex('d048032c6ea0b6d697ddc2e86bda85a33adac920f1bf18e1b0c6d166a5cecdaf');
const N = Point.fromHex('d3bfb518f44f3430f29d0c92af503865a1ed3281dc69b35dd868ba85f886c4ab');
const ORDER = Point.Fn.ORDER;
const ID_DEVICE = new TextEncoder().encode('flightdeck device');
const ID_SERVER = new TextEncoder().encode('flightdeck server');

export function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

export function fromHex(h: string): Uint8Array {
  if (!/^([0-9a-f]{2})*$/i.test(h)) throw new Error('not hex');
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Little-endian bytes as a number, reduced mod the group order. */
function scalarOf(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]);
  return n % ORDER;
}

function scalarBytes(n: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}

async function digest(alg: 'SHA-256' | 'SHA-512', data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest(alg, data as BufferSource));
}

export { scalarBytes };

/** The scalar `w` both sides derive from the pairing code's secret. */
export async function passwordScalar(code: string): Promise<bigint> {
  return scalarOf(await digest('SHA-512', new TextEncoder().encode('flightdeck-pair/1' + code)));
}

function randomScalar(): bigint {
  for (;;) {
    const b = new Uint8Array(64);
    crypto.getRandomValues(b);
    const s = scalarOf(b);
    if (s !== 0n) return s;
  }
}

export type Keys = { deviceConfirms: Uint8Array; serverConfirms: Uint8Array };

/** The device's half of one exchange. */
export class DeviceHalf {
  readonly message: Uint8Array;

  /** `x` is for tests only (a fixed exchange to compare with the server's code). */
  constructor(
    private readonly w: bigint,
    private readonly x: bigint = randomScalar(),
  ) {
    this.message = Point.BASE.multiply(this.x).add(M.multiply(w)).toBytes();
  }

  /** Takes the server's message; `aad` binds what is paired (this device's public key). */
  async finish(theirs: Uint8Array, aad: Uint8Array): Promise<Keys> {
    let pb: Pt;
    try {
      pb = Point.fromBytes(theirs);
    } catch {
      throw new Error('the server sent a pairing message that is not a point on the curve');
    }
    if (pb.isSmallOrder()) throw new Error('the server sent a small-order point');
    const k = pb.subtract(N.multiply(this.w)).multiply(this.x).clearCofactor();
    if (k.is0()) throw new Error('the pairing exchange came out degenerate');
    const parts = [ID_DEVICE, ID_SERVER, this.message, theirs, k.toBytes(), scalarBytes(this.w)];
    const tt = new Uint8Array(parts.reduce((n, p) => n + 8 + p.length, 0));
    let at = 0;
    for (const p of parts) {
      new DataView(tt.buffer).setBigUint64(at, BigInt(p.length), true);
      tt.set(p, at + 8);
      at += 8 + p.length;
    }
    const hash = await digest('SHA-256', tt);
    const ka = hash.slice(16, 32);
    const info = new Uint8Array([...new TextEncoder().encode('ConfirmationKeys'), ...aad]);
    const hkdf = await crypto.subtle.importKey('raw', ka as BufferSource, 'HKDF', false, ['deriveBits']);
    const kc = new Uint8Array(
      await crypto.subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info }, hkdf, 256),
    );
    const mac = async (key: Uint8Array) => {
      const k = await crypto.subtle.importKey('raw', key as BufferSource, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
      return new Uint8Array(await crypto.subtle.sign('HMAC', k, tt as BufferSource));
    };
    return { deviceConfirms: await mac(kc.slice(0, 16)), serverConfirms: await mac(kc.slice(16, 32)) };
  }
}
