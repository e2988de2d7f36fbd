// Generates xsalsa20poly1305.wat (and xsalsa20poly1305.simd.wat): XSalsa20 keystream XOR and Poly1305 for
// NaCl crypto_secretbox, as WebAssembly text. The rounds are unrolled here so that the .wat stays
// readable as a recipe rather than hand-written. Run through build.mjs, which compiles both variants
// with wabt and writes ../xsalsa20poly1305_wasm.ts.
//
// Memory map (one module instance, 2 pages, never grown):
//   0    key (32)            32  nonce (24)
//   64   Salsa20 input state j0..j15 (64): j8/j9 are the block counter
//   128  Poly1305 r0..r4 (5 x i32), 148 pad (16), 164 h0..h4 (5 x i32), 184 r^2, r^3, r^4 (5 x i32 each)
//   256  one keystream block (64) for partial blocks and the Poly1305 key
//   320  the padded last Poly1305 block (16)   336 the tag (written by the JS side)
//   352  SIMD variant: 1 = run Salsa20 four blocks at a time (set by the JS side; JavaScriptCore runs the
//        4-way code slower than the scalar one, so Bun leaves it 0 and keeps only the SIMD Poly1305)
//   1024 DATA: 64 KiB of message, the JS side copies chunks in and out
//
// Exports:
//   setup()                       HSalsa20(key, nonce[0..16)) -> Salsa20 state with nonce[16..24), counter 0
//   xor(off, len)                 XOR the keystream into mem[off..off+len) from the current counter (block
//                                 aligned: every call but the last must pass a multiple of 64, 256 with SIMD)
//   polykey()                     Poly1305 key = keystream block 0 (counter untouched); resets h
//   polyinit(off)                 Poly1305 key = mem[off..off+32); resets h
//   poly(off, len)                absorb len/16 full blocks
//   polyfinish(off, rem, out)     absorb the rem (< 16) trailing bytes, write the 16-byte tag at out
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const STATE = 64;
const R = 128;
const PAD = 148;
const H = 164;
const POW = 184; // r^2 at 184, r^3 at 204, r^4 at 224
const TMP = 256;
const LAST = 320;
const SIMD_SALSA = 352;
const SIGMA = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574];

// Salsa20 quarter rounds (a, b, c, d): b ^= (a+d)<<<7; c ^= (b+a)<<<9; d ^= (c+b)<<<13; a ^= (d+c)<<<18
const COLUMNS = [[0, 4, 8, 12], [5, 9, 13, 1], [10, 14, 2, 6], [15, 3, 7, 11]];
const ROWS = [[0, 1, 2, 3], [5, 6, 7, 4], [10, 11, 8, 9], [15, 12, 13, 14]];

function scalarRounds(x) {
  const out = [];
  const step = (t, u, v, k) => out.push(`(local.set ${x(t)} (i32.xor (local.get ${x(t)}) (i32.rotl (i32.add (local.get ${x(u)}) (local.get ${x(v)})) (i32.const ${k}))))`);
  for (let r = 0; r < 20; r++) {
    for (const [a, b, c, d] of r % 2 === 0 ? COLUMNS : ROWS) {
      step(b, a, d, 7);
      step(c, b, a, 9);
      step(d, c, b, 13);
      step(a, d, c, 18);
    }
  }
  return out.join('\n    ');
}

function simdRounds(x) {
  const out = [];
  const step = (t, u, v, k) =>
    out.push(
      `(local.set ${x(t)} (v128.xor (local.get ${x(t)}) (v128.or (i32x4.shl (local.tee $vt (i32x4.add (local.get ${x(u)}) (local.get ${x(v)}))) (i32.const ${k})) (i32x4.shr_u (local.get $vt) (i32.const ${32 - k})))))`,
    );
  for (let r = 0; r < 20; r++) {
    for (const [a, b, c, d] of r % 2 === 0 ? COLUMNS : ROWS) {
      step(b, a, d, 7);
      step(c, b, a, 9);
      step(d, c, b, 13);
      step(a, d, c, 18);
    }
  }
  return out.join('\n      ');
}

const range = (n) => [...Array(n).keys()];
const locals = (prefix, n, type) => range(n).map((i) => `(local $${prefix}${i} ${type})`).join(' ');
const jx = (i) => `$x${i}`;

/** x_i = j_i (from locals $j) */
const copyJ = () => range(16).map((i) => `(local.set $x${i} (local.get $j${i}))`).join(' ');
const loadJ = () => range(16).map((i) => `(local.set $j${i} (i32.load offset=${STATE + 4 * i} (i32.const 0)))`).join('\n    ');

function setupFn() {
  const init = [
    `(local.set $x0 (i32.const ${SIGMA[0] | 0}))`,
    ...range(4).map((i) => `(local.set $x${1 + i} (i32.load offset=${4 * i} (i32.const 0)))`),
    `(local.set $x5 (i32.const ${SIGMA[1] | 0}))`,
    ...range(4).map((i) => `(local.set $x${6 + i} (i32.load offset=${32 + 4 * i} (i32.const 0)))`),
    `(local.set $x10 (i32.const ${SIGMA[2] | 0}))`,
    ...range(4).map((i) => `(local.set $x${11 + i} (i32.load offset=${16 + 4 * i} (i32.const 0)))`),
    `(local.set $x15 (i32.const ${SIGMA[3] | 0}))`,
  ];
  const st = (i, expr) => `(i32.store offset=${STATE + 4 * i} (i32.const 0) ${expr})`;
  const sub = [0, 5, 10, 15, 6, 7, 8, 9];
  const store = [
    st(0, `(i32.const ${SIGMA[0] | 0})`),
    ...range(4).map((i) => st(1 + i, `(local.get $x${sub[i]})`)),
    st(5, `(i32.const ${SIGMA[1] | 0})`),
    st(6, '(i32.load offset=48 (i32.const 0))'),
    st(7, '(i32.load offset=52 (i32.const 0))'),
    st(8, '(i32.const 0)'),
    st(9, '(i32.const 0)'),
    st(10, `(i32.const ${SIGMA[2] | 0})`),
    ...range(4).map((i) => st(11 + i, `(local.get $x${sub[4 + i]})`)),
    st(15, `(i32.const ${SIGMA[3] | 0})`),
  ];
  return `
  (func $setup (export "setup") ${locals('x', 16, 'i32')}
    ${init.join('\n    ')}
    ${scalarRounds(jx)}
    ${store.join('\n    ')}
  )`;
}

/** One block from $j into $x (with the feed-forward), then `body`. */
function blockInto(body) {
  return `${copyJ()}
      ${scalarRounds(jx)}
      ${body}`;
}

/** One keystream block for counter (lo, hi) at TMP. */
function tmpblockFn() {
  const tmpWords = range(16)
    .map((i) => `(i32.store offset=${TMP + 4 * i} (i32.const 0) (i32.add (local.get $x${i}) (local.get $j${i})))`)
    .join('\n      ');
  return `
  (func $tmpblock (param $lo i32) (param $hi i32) ${locals('j', 16, 'i32')} ${locals('x', 16, 'i32')}
    ${loadJ()}
    (local.set $j8 (local.get $lo)) (local.set $j9 (local.get $hi))
    ${blockInto(tmpWords)}
  )`;
}

function xorFn(simd) {
  const xorWords = range(16)
    .map((i) => `(i32.store offset=${4 * i} (local.get $off) (i32.xor (i32.load offset=${4 * i} (local.get $off)) (i32.add (local.get $x${i}) (local.get $j${i}))))`)
    .join('\n      ');
  const bump = `(local.set $j8 (i32.add (local.get $j8) (i32.const 1)))
      (if (i32.eqz (local.get $j8)) (then (local.set $j9 (i32.add (local.get $j9) (i32.const 1)))))`;
  const simdPart = simd
    ? `(local.set $n (i32.shr_u (local.get $len) (i32.const 8)))
    (if (i32.and (i32.ne (local.get $n) (i32.const 0)) (i32.ne (i32.load8_u offset=${SIMD_SALSA} (i32.const 0)) (i32.const 0))) (then
      (call $xor4 (local.get $off) (local.get $n))
      (local.set $off (i32.add (local.get $off) (i32.shl (local.get $n) (i32.const 8))))
      (local.set $len (i32.and (local.get $len) (i32.const 255)))))`
    : '';
  return `
  (func $xor (export "xor") (param $off i32) (param $len i32) ${locals('j', 16, 'i32')} ${locals('x', 16, 'i32')} (local $i i32) (local $n i32)
    ${simdPart}
    ${loadJ()}
    (block $done (loop $blocks
      (br_if $done (i32.lt_u (local.get $len) (i32.const 64)))
      ${blockInto(xorWords)}
      ${bump}
      (local.set $off (i32.add (local.get $off) (i32.const 64)))
      (local.set $len (i32.sub (local.get $len) (i32.const 64)))
      (br $blocks)))
    (if (local.get $len) (then
      (call $tmpblock (local.get $j8) (local.get $j9))
      ${bump}
      (local.set $i (i32.const 0))
      (loop $bytes
        (i32.store8 (i32.add (local.get $off) (local.get $i))
          (i32.xor (i32.load8_u (i32.add (local.get $off) (local.get $i))) (i32.load8_u offset=${TMP} (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $bytes (i32.lt_u (local.get $i) (local.get $len))))))
    (i32.store offset=${STATE + 32} (i32.const 0) (local.get $j8))
    (i32.store offset=${STATE + 36} (i32.const 0) (local.get $j9))
  )`;
}

/** Four blocks at once: lane L of vector x_i is word i of block L. */
function xor4Fn() {
  const vx = (i) => `$v${i}`;
  const lane32 = (a, b, c, d) => [a, b, c, d].flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]).join(' ');
  const init = range(16)
    .map((i) => {
      if (i === 8) return `(local.set $v8 (local.get $lo))`;
      if (i === 9) return `(local.set $v9 (local.get $hi))`;
      return `(local.set $v${i} (i32x4.splat (local.get $j${i})))`;
    })
    .join(' ');
  const ff = range(16)
    .map((i) => {
      const j = i === 8 ? '(local.get $lo)' : i === 9 ? '(local.get $hi)' : `(i32x4.splat (local.get $j${i}))`;
      return `(local.set $v${i} (i32x4.add (local.get $v${i}) ${j}))`;
    })
    .join('\n      ');
  const out = [];
  for (let g = 0; g < 4; g++) {
    const [a, b, c, d] = [4 * g, 4 * g + 1, 4 * g + 2, 4 * g + 3].map((i) => `(local.get $v${i})`);
    out.push(`(local.set $t0 (i8x16.shuffle ${lane32(0, 4, 1, 5)} ${a} ${b}))`);
    out.push(`(local.set $t1 (i8x16.shuffle ${lane32(2, 6, 3, 7)} ${a} ${b}))`);
    out.push(`(local.set $t2 (i8x16.shuffle ${lane32(0, 4, 1, 5)} ${c} ${d}))`);
    out.push(`(local.set $t3 (i8x16.shuffle ${lane32(2, 6, 3, 7)} ${c} ${d}))`);
    const outs = [
      ['$t0', '$t2', lane32(0, 1, 4, 5)],
      ['$t0', '$t2', lane32(2, 3, 6, 7)],
      ['$t1', '$t3', lane32(0, 1, 4, 5)],
      ['$t1', '$t3', lane32(2, 3, 6, 7)],
    ];
    outs.forEach(([p, q, sh], L) => {
      const o = 64 * L + 16 * g;
      out.push(`(v128.store offset=${o} (local.get $off) (v128.xor (v128.load offset=${o} (local.get $off)) (i8x16.shuffle ${sh} (local.get ${p}) (local.get ${q}))))`);
    });
  }
  return `
  (func $xor4 (param $off i32) (param $n i32) ${locals('j', 16, 'i32')} ${locals('v', 16, 'v128')}
      (local $vt v128) (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128) (local $lo v128) (local $hi v128) (local $c i64)
    ${loadJ()}
    (local.set $c (i64.load offset=${STATE + 32} (i32.const 0)))
    (loop $groups
      (local.set $lo (i32x4.replace_lane 3 (i32x4.replace_lane 2 (i32x4.replace_lane 1 (i32x4.splat (i32.wrap_i64 (local.get $c)))
        (i32.wrap_i64 (i64.add (local.get $c) (i64.const 1)))) (i32.wrap_i64 (i64.add (local.get $c) (i64.const 2)))) (i32.wrap_i64 (i64.add (local.get $c) (i64.const 3)))))
      (local.set $hi (i32x4.replace_lane 3 (i32x4.replace_lane 2 (i32x4.replace_lane 1 (i32x4.splat (i32.wrap_i64 (i64.shr_u (local.get $c) (i64.const 32))))
        (i32.wrap_i64 (i64.shr_u (i64.add (local.get $c) (i64.const 1)) (i64.const 32)))) (i32.wrap_i64 (i64.shr_u (i64.add (local.get $c) (i64.const 2)) (i64.const 32))))
        (i32.wrap_i64 (i64.shr_u (i64.add (local.get $c) (i64.const 3)) (i64.const 32)))))
      ${init}
      ${simdRounds(vx)}
      ${ff}
      ${out.join('\n      ')}
      (local.set $c (i64.add (local.get $c) (i64.const 4)))
      (local.set $off (i32.add (local.get $off) (i32.const 256)))
      (br_if $groups (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (i64.store offset=${STATE + 32} (i32.const 0) (local.get $c))
  )`;
}

/**
 * SIMD Poly1305 over pairs of blocks: lane 0 takes the even blocks, lane 1 the odd ones, each
 * multiplied by r^2 per pair; the last pair multiplies lane 0 by r^2 and lane 1 by r, so that the
 * sum of the lanes is the sequential result. Limbs of h + m sit in the two low i32 lanes (below
 * 2^27), r^2 and 5 r^2 below 2^29: i64x2.extmul_low_i32x4_u forms two products at a time, and five
 * of them stay below 2^58. Full blocks only (the 2^128 bit set).
 */
function pairsFn() {
  const M = '(v128.const i64x2 0x3ffffff 0x3ffffff)';
  const lo32 = '0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11';
  const loads = [];
  for (let i = 0; i < 5; i++) {
    loads.push(`(local.set $a${i} (i64.load32_u offset=${R + 4 * i} (i32.const 0)))`);
    loads.push(`(local.set $b${i} (i64.load32_u offset=${POW + 4 * i} (i32.const 0)))`);
    loads.push(`(local.set $R2_${i} (i32x4.splat (i32.wrap_i64 (local.get $b${i}))))`);
    loads.push(`(local.set $S2_${i} (i32x4.mul (local.get $R2_${i}) (i32x4.splat (i32.const 5))))`);
    loads.push(`(local.set $RL_${i} (i32x4.replace_lane 1 (local.get $R2_${i}) (i32.wrap_i64 (local.get $a${i}))))`);
    loads.push(`(local.set $SL_${i} (i32x4.mul (local.get $RL_${i}) (i32x4.splat (i32.const 5))))`);
    loads.push(`(local.set $H${i} (i64x2.replace_lane 0 (v128.const i64x2 0 0) (i64.load32_u offset=${H + 4 * i} (i32.const 0))))`);
  }
  const step = (r, sv) => {
    const out = [
      `(local.set $lo (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (v128.load (local.get $p)) (v128.load offset=16 (local.get $p))))`,
      `(local.set $hi (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (v128.load (local.get $p)) (v128.load offset=16 (local.get $p))))`,
      `(local.set $X0 (v128.and (local.get $lo) ${M}))`,
      `(local.set $X1 (v128.and (i64x2.shr_u (local.get $lo) (i32.const 26)) ${M}))`,
      `(local.set $X2 (v128.and (v128.or (i64x2.shr_u (local.get $lo) (i32.const 52)) (i64x2.shl (local.get $hi) (i32.const 12))) ${M}))`,
      `(local.set $X3 (v128.and (i64x2.shr_u (local.get $hi) (i32.const 14)) ${M}))`,
      `(local.set $X4 (v128.or (i64x2.shr_u (local.get $hi) (i32.const 40)) (v128.const i64x2 0x1000000 0x1000000)))`,
      ...range(5).map((i) => `(local.set $X${i} (i8x16.shuffle ${lo32} (local.tee $X${i} (i64x2.add (local.get $X${i}) (local.get $H${i}))) (local.get $X${i})))`),
    ];
    for (let k = 0; k < 5; k++) {
      const terms = range(5).map((i) => {
        const j = k - i;
        const y = j >= 0 ? `$${r}${j}` : `$${sv}${j + 5}`;
        return `(i64x2.extmul_low_i32x4_u (local.get $X${i}) (local.get ${y}))`;
      });
      out.push(`(local.set $D${k} ${terms.reduce((acc, t) => `(i64x2.add ${acc} ${t})`)})`);
    }
    out.push(
      `(local.set $H0 (v128.and (local.get $D0) ${M}))`,
      `(local.set $D1 (i64x2.add (local.get $D1) (i64x2.shr_u (local.get $D0) (i32.const 26))))`,
      `(local.set $H1 (v128.and (local.get $D1) ${M}))`,
      `(local.set $D2 (i64x2.add (local.get $D2) (i64x2.shr_u (local.get $D1) (i32.const 26))))`,
      `(local.set $H2 (v128.and (local.get $D2) ${M}))`,
      `(local.set $D3 (i64x2.add (local.get $D3) (i64x2.shr_u (local.get $D2) (i32.const 26))))`,
      `(local.set $H3 (v128.and (local.get $D3) ${M}))`,
      `(local.set $D4 (i64x2.add (local.get $D4) (i64x2.shr_u (local.get $D3) (i32.const 26))))`,
      `(local.set $H4 (v128.and (local.get $D4) ${M}))`,
      `(local.set $c (i64x2.shr_u (local.get $D4) (i32.const 26)))`,
      `(local.set $H0 (i64x2.add (local.get $H0) (i64x2.add (local.get $c) (i64x2.shl (local.get $c) (i32.const 2)))))`,
      `(local.set $H1 (i64x2.add (local.get $H1) (i64x2.shr_u (local.get $H0) (i32.const 26))))`,
      `(local.set $H0 (v128.and (local.get $H0) ${M}))`,
      `(local.set $p (i32.add (local.get $p) (i32.const 32)))`,
    );
    return out.join('\n      ');
  };
  const v = (names) => names.map((n) => `(local $${n} v128)`).join(' ');
  const vecs = range(5).flatMap((i) => [`R2_${i}`, `S2_${i}`, `RL_${i}`, `SL_${i}`, `H${i}`, `X${i}`, `D${i}`]);
  const store = range(5).map((i) => `(local.set $h${i} (i64.add (i64x2.extract_lane 0 (local.get $H${i})) (i64x2.extract_lane 1 (local.get $H${i}))))`);
  const carry = [];
  for (let k = 0; k < 4; k++) {
    carry.push(`(local.set $h${k + 1} (i64.add (local.get $h${k + 1}) (i64.shr_u (local.get $h${k}) (i64.const 26))))`);
    carry.push(`(local.set $h${k} (i64.and (local.get $h${k}) (i64.const 0x3ffffff)))`);
  }
  carry.push(`(local.set $h0 (i64.add (local.get $h0) (i64.mul (i64.shr_u (local.get $h4) (i64.const 26)) (i64.const 5))))`);
  carry.push(`(local.set $h4 (i64.and (local.get $h4) (i64.const 0x3ffffff)))`);
  carry.push(`(local.set $h1 (i64.add (local.get $h1) (i64.shr_u (local.get $h0) (i64.const 26))))`);
  carry.push(`(local.set $h0 (i64.and (local.get $h0) (i64.const 0x3ffffff)))`);
  return `
  ;; $n >= 2 pairs of full blocks at $p
  (func $pairs (param $p i32) (param $n i32) ${v(vecs)} ${v(['lo', 'hi', 'c'])} ${locals('a', 5, 'i64')} ${locals('b', 5, 'i64')} ${locals('h', 5, 'i64')}
    ${loads.join('\n    ')}
    (local.set $n (i32.sub (local.get $n) (i32.const 1)))
    (loop $each
      ${step('R2_', 'S2_')}
      (br_if $each (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    ${step('RL_', 'SL_')}
    ${store.join('\n    ')}
    ${carry.join('\n    ')}
    ${range(5).map((i) => `(i32.store offset=${H + 4 * i} (i32.const 0) (i32.wrap_i64 (local.get $h${i})))`).join('\n    ')}
  )`;
}

function polyFns(simd) {
  const M = '(i64.const 0x3ffffff)';
  const g = (n) => `(local.get $${n})`;
  const mul = (a, b) => `(i64.mul ${g(a)} ${g(b)})`;
  const sum = (...terms) => terms.reduce((acc, t) => `(i64.add ${acc} ${t})`);
  const loadR = [
    ...range(5).map((i) => `(local.set $r${i} (i64.load32_u offset=${R + 4 * i} (i32.const 0)))`),
    ...range(4).map((i) => `(local.set $s${i + 1} (i64.mul (local.get $r${i + 1}) (i64.const 5)))`),
    ...range(5).map((i) => `(local.set $h${i} (i64.load32_u offset=${H + 4 * i} (i32.const 0)))`),
  ].join('\n    ');
  const storeH = range(5).map((i) => `(i32.store offset=${H + 4 * i} (i32.const 0) (i32.wrap_i64 (local.get $h${i})))`).join('\n    ');
  // one block at $p: absorb (with the 2^128 bit when $hib), multiply by r, partially reduce
  const block = `(local.set $m0 (i64.load (local.get $p)))
      (local.set $m1 (i64.load offset=8 (local.get $p)))
      (local.set $h0 (i64.add (local.get $h0) (i64.and (local.get $m0) ${M})))
      (local.set $h1 (i64.add (local.get $h1) (i64.and (i64.shr_u (local.get $m0) (i64.const 26)) ${M})))
      (local.set $h2 (i64.add (local.get $h2) (i64.and (i64.or (i64.shr_u (local.get $m0) (i64.const 52)) (i64.shl (local.get $m1) (i64.const 12))) ${M})))
      (local.set $h3 (i64.add (local.get $h3) (i64.and (i64.shr_u (local.get $m1) (i64.const 14)) ${M})))
      (local.set $h4 (i64.add (local.get $h4) (i64.or (i64.shr_u (local.get $m1) (i64.const 40)) (local.get $hib))))
      (local.set $d0 ${sum(mul('h0', 'r0'), mul('h1', 's4'), mul('h2', 's3'), mul('h3', 's2'), mul('h4', 's1'))})
      (local.set $d1 ${sum(mul('h0', 'r1'), mul('h1', 'r0'), mul('h2', 's4'), mul('h3', 's3'), mul('h4', 's2'))})
      (local.set $d2 ${sum(mul('h0', 'r2'), mul('h1', 'r1'), mul('h2', 'r0'), mul('h3', 's4'), mul('h4', 's3'))})
      (local.set $d3 ${sum(mul('h0', 'r3'), mul('h1', 'r2'), mul('h2', 'r1'), mul('h3', 'r0'), mul('h4', 's4'))})
      (local.set $d4 ${sum(mul('h0', 'r4'), mul('h1', 'r3'), mul('h2', 'r2'), mul('h3', 'r1'), mul('h4', 'r0'))})
      (local.set $h0 (i64.and (local.get $d0) ${M}))
      (local.set $d1 (i64.add (local.get $d1) (i64.shr_u (local.get $d0) (i64.const 26))))
      (local.set $h1 (i64.and (local.get $d1) ${M}))
      (local.set $d2 (i64.add (local.get $d2) (i64.shr_u (local.get $d1) (i64.const 26))))
      (local.set $h2 (i64.and (local.get $d2) ${M}))
      (local.set $d3 (i64.add (local.get $d3) (i64.shr_u (local.get $d2) (i64.const 26))))
      (local.set $h3 (i64.and (local.get $d3) ${M}))
      (local.set $d4 (i64.add (local.get $d4) (i64.shr_u (local.get $d3) (i64.const 26))))
      (local.set $h4 (i64.and (local.get $d4) ${M}))
      (local.set $h0 (i64.add (local.get $h0) (i64.mul (i64.shr_u (local.get $d4) (i64.const 26)) (i64.const 5))))
      (local.set $h1 (i64.add (local.get $h1) (i64.shr_u (local.get $h0) (i64.const 26))))
      (local.set $h0 (i64.and (local.get $h0) ${M}))`;
  // four blocks at once: h = (h + m1) r^4 + m2 r^3 + m3 r^2 + m4 r, one carry pass (the products are
  // independent, so the chain from one h to the next is a quarter as long). Every limb of h + m is
  // below 2^27, of r^k below 2^26 + 2^9, of 5 r^k below 2^28.4: twenty products stay below 2^60.
  const pw = (k, i) => `$q${k}_${i}`; // limb i of r^k
  const ps = (k, i) => `$t${k}_${i}`; // 5 * limb i of r^k
  const loadPow = [];
  for (let k = 1; k <= 4; k++) {
    for (let i = 0; i < 5; i++) {
      const src = k === 1 ? R + 4 * i : POW + 20 * (k - 2) + 4 * i;
      loadPow.push(`(local.set ${pw(k, i)} (i64.load32_u offset=${src} (i32.const 0)))`);
      if (i > 0) loadPow.push(`(local.set ${ps(k, i)} (i64.mul (local.get ${pw(k, i)}) (i64.const 5)))`);
    }
  }
  const limbsOf = (b) => {
    const o = 16 * b;
    return `(local.set $m0 (i64.load offset=${o} (local.get $p)))
        (local.set $m1 (i64.load offset=${o + 8} (local.get $p)))
        (local.set $x${b}_0 (i64.and (local.get $m0) ${M}))
        (local.set $x${b}_1 (i64.and (i64.shr_u (local.get $m0) (i64.const 26)) ${M}))
        (local.set $x${b}_2 (i64.and (i64.or (i64.shr_u (local.get $m0) (i64.const 52)) (i64.shl (local.get $m1) (i64.const 12))) ${M}))
        (local.set $x${b}_3 (i64.and (i64.shr_u (local.get $m1) (i64.const 14)) ${M}))
        (local.set $x${b}_4 (i64.or (i64.shr_u (local.get $m1) (i64.const 40)) (local.get $hib)))`;
  };
  const four = [
    ...range(4).map(limbsOf),
    ...range(5).map((i) => `(local.set $x0_${i} (i64.add (local.get $x0_${i}) (local.get $h${i})))`),
    ...range(5).map((k) => {
      const terms = [];
      for (let b = 0; b < 4; b++) {
        const power = 4 - b;
        for (let i = 0; i < 5; i++) {
          const j = k - i;
          const y = j >= 0 ? pw(power, j) : ps(power, j + 5);
          terms.push(`(i64.mul (local.get $x${b}_${i}) (local.get ${y}))`);
        }
      }
      return `(local.set $d${k} ${sum(...terms)})`;
    }),
  ].join('\n        ');
  const carryD = `(local.set $h0 (i64.and (local.get $d0) ${M}))
      (local.set $d1 (i64.add (local.get $d1) (i64.shr_u (local.get $d0) (i64.const 26))))
      (local.set $h1 (i64.and (local.get $d1) ${M}))
      (local.set $d2 (i64.add (local.get $d2) (i64.shr_u (local.get $d1) (i64.const 26))))
      (local.set $h2 (i64.and (local.get $d2) ${M}))
      (local.set $d3 (i64.add (local.get $d3) (i64.shr_u (local.get $d2) (i64.const 26))))
      (local.set $h3 (i64.and (local.get $d3) ${M}))
      (local.set $d4 (i64.add (local.get $d4) (i64.shr_u (local.get $d3) (i64.const 26))))
      (local.set $h4 (i64.and (local.get $d4) ${M}))
      (local.set $h0 (i64.add (local.get $h0) (i64.mul (i64.shr_u (local.get $d4) (i64.const 26)) (i64.const 5))))
      (local.set $h1 (i64.add (local.get $h1) (i64.shr_u (local.get $h0) (i64.const 26))))
      (local.set $h0 (i64.and (local.get $h0) ${M}))`;
  const fourLocals = [
    ...range(4).flatMap((k) => range(5).map((i) => `(local ${pw(k + 1, i)} i64)`)),
    ...range(4).flatMap((k) => range(4).map((i) => `(local ${ps(k + 1, i + 1)} i64)`)),
    ...range(4).flatMap((b) => range(5).map((i) => `(local $x${b}_${i} i64)`)),
  ].join(' ');
  // a * b mod 2^130 - 5 on limbs in memory (for the powers of r)
  const rmulLoad = range(5)
    .map((i) => `(local.set $a${i} (i64.load32_u offset=${4 * i} (local.get $pa))) (local.set $r${i} (i64.load32_u offset=${4 * i} (local.get $pb)))`)
    .join('\n    ');
  const polyLocals = `${locals('r', 5, 'i64')} ${range(4).map((i) => `(local $s${i + 1} i64)`).join(' ')} ${locals('h', 5, 'i64')} ${locals('d', 5, 'i64')} (local $m0 i64) (local $m1 i64)`;
  const le = (o) => `(i32.load offset=${o} (local.get $k))`;
  return `
  (func $polyinit (export "polyinit") (param $k i32)
    (i32.store offset=${R} (i32.const 0) (i32.and ${le(0)} (i32.const 0x3ffffff)))
    (i32.store offset=${R + 4} (i32.const 0) (i32.and (i32.shr_u ${le(3)} (i32.const 2)) (i32.const 0x3ffff03)))
    (i32.store offset=${R + 8} (i32.const 0) (i32.and (i32.shr_u ${le(6)} (i32.const 4)) (i32.const 0x3ffc0ff)))
    (i32.store offset=${R + 12} (i32.const 0) (i32.and (i32.shr_u ${le(9)} (i32.const 6)) (i32.const 0x3f03fff)))
    (i32.store offset=${R + 16} (i32.const 0) (i32.and (i32.shr_u ${le(12)} (i32.const 8)) (i32.const 0x00fffff)))
    (i64.store offset=${PAD} (i32.const 0) (i64.load offset=16 (local.get $k)))
    (i64.store offset=${PAD + 8} (i32.const 0) (i64.load offset=24 (local.get $k)))
    (i64.store offset=${H} (i32.const 0) (i64.const 0))
    (i64.store offset=${H + 8} (i32.const 0) (i64.const 0))
    (i32.store offset=${H + 16} (i32.const 0) (i32.const 0))
    (call $rmul (i32.const ${POW}) (i32.const ${R}) (i32.const ${R}))
    (call $rmul (i32.const ${POW + 20}) (i32.const ${POW}) (i32.const ${R}))
    (call $rmul (i32.const ${POW + 40}) (i32.const ${POW + 20}) (i32.const ${R}))
  )

  (func $rmul (param $dst i32) (param $pa i32) (param $pb i32) ${locals('a', 5, 'i64')} ${locals('r', 5, 'i64')} ${range(4).map((i) => `(local $s${i + 1} i64)`).join(' ')} ${locals('h', 5, 'i64')} ${locals('d', 5, 'i64')}
    ${rmulLoad}
    ${range(4).map((i) => `(local.set $s${i + 1} (i64.mul (local.get $r${i + 1}) (i64.const 5)))`).join(' ')}
    (local.set $d0 ${sum(mul('a0', 'r0'), mul('a1', 's4'), mul('a2', 's3'), mul('a3', 's2'), mul('a4', 's1'))})
    (local.set $d1 ${sum(mul('a0', 'r1'), mul('a1', 'r0'), mul('a2', 's4'), mul('a3', 's3'), mul('a4', 's2'))})
    (local.set $d2 ${sum(mul('a0', 'r2'), mul('a1', 'r1'), mul('a2', 'r0'), mul('a3', 's4'), mul('a4', 's3'))})
    (local.set $d3 ${sum(mul('a0', 'r3'), mul('a1', 'r2'), mul('a2', 'r1'), mul('a3', 'r0'), mul('a4', 's4'))})
    (local.set $d4 ${sum(mul('a0', 'r4'), mul('a1', 'r3'), mul('a2', 'r2'), mul('a3', 'r1'), mul('a4', 'r0'))})
    ${carryD}
    ${range(5).map((i) => `(i32.store offset=${4 * i} (local.get $dst) (i32.wrap_i64 (local.get $h${i})))`).join(' ')}
  )

  (func $polykey (export "polykey")
    (call $tmpblock (i32.const 0) (i32.const 0))
    (call $polyinit (i32.const ${TMP}))
  )

  (func $blocks (param $p i32) (param $n i32) (param $hib i64) ${polyLocals} ${fourLocals}
    ${loadR}
    (if (i32.ge_u (local.get $n) (i32.const 4)) (then
      ${loadPow.join('\n      ')}
      (loop $fours
        ${four}
        ${carryD}
        (local.set $p (i32.add (local.get $p) (i32.const 64)))
        (br_if $fours (i32.ge_u (local.tee $n (i32.sub (local.get $n) (i32.const 4))) (i32.const 4))))))
    (block $done (loop $each
      (br_if $done (i32.eqz (local.get $n)))
      ${block}
      (local.set $p (i32.add (local.get $p) (i32.const 16)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $each)))
    ${storeH}
  )

  (func $poly (export "poly") (param $off i32) (param $len i32)${simd ? ` (local $pairs i32)
    (local.set $pairs (i32.shr_u (local.get $len) (i32.const 5)))
    (if (i32.ge_u (local.get $pairs) (i32.const 4)) (then
      (call $pairs (local.get $off) (local.get $pairs))
      (local.set $off (i32.add (local.get $off) (i32.shl (local.get $pairs) (i32.const 5))))
      (local.set $len (i32.and (local.get $len) (i32.const 31)))))` : ''}
    (call $blocks (local.get $off) (i32.shr_u (local.get $len) (i32.const 4)) (i64.const 0x1000000))
  )
${simd ? pairsFn() : ''}

  (func $polyfinish (export "polyfinish") (param $off i32) (param $rem i32) (param $out i32) ${locals('h', 5, 'i64')} ${locals('g', 5, 'i64')} (local $c i64) (local $mask i64) (local $i i32) (local $f i64)
    (if (local.get $rem) (then
      (i64.store offset=${LAST} (i32.const 0) (i64.const 0))
      (i64.store offset=${LAST + 8} (i32.const 0) (i64.const 0))
      (loop $copy
        (i32.store8 offset=${LAST} (local.get $i) (i32.load8_u (i32.add (local.get $off) (local.get $i))))
        (br_if $copy (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $rem))))
      (i32.store8 offset=${LAST} (local.get $rem) (i32.const 1))
      (call $blocks (i32.const ${LAST}) (i32.const 1) (i64.const 0))))
    ${range(5).map((i) => `(local.set $h${i} (i64.load32_u offset=${H + 4 * i} (i32.const 0)))`).join('\n    ')}
    ;; full carry
    (local.set $h2 (i64.add (local.get $h2) (i64.shr_u (local.get $h1) (i64.const 26)))) (local.set $h1 (i64.and (local.get $h1) ${M}))
    (local.set $h3 (i64.add (local.get $h3) (i64.shr_u (local.get $h2) (i64.const 26)))) (local.set $h2 (i64.and (local.get $h2) ${M}))
    (local.set $h4 (i64.add (local.get $h4) (i64.shr_u (local.get $h3) (i64.const 26)))) (local.set $h3 (i64.and (local.get $h3) ${M}))
    (local.set $h0 (i64.add (local.get $h0) (i64.mul (i64.shr_u (local.get $h4) (i64.const 26)) (i64.const 5)))) (local.set $h4 (i64.and (local.get $h4) ${M}))
    (local.set $h1 (i64.add (local.get $h1) (i64.shr_u (local.get $h0) (i64.const 26)))) (local.set $h0 (i64.and (local.get $h0) ${M}))
    ;; g = h + 5 - 2^130; keep g when it did not borrow
    (local.set $g0 (i64.add (local.get $h0) (i64.const 5)))
    (local.set $g1 (i64.add (local.get $h1) (i64.shr_u (local.get $g0) (i64.const 26)))) (local.set $g0 (i64.and (local.get $g0) ${M}))
    (local.set $g2 (i64.add (local.get $h2) (i64.shr_u (local.get $g1) (i64.const 26)))) (local.set $g1 (i64.and (local.get $g1) ${M}))
    (local.set $g3 (i64.add (local.get $h3) (i64.shr_u (local.get $g2) (i64.const 26)))) (local.set $g2 (i64.and (local.get $g2) ${M}))
    (local.set $g4 (i64.sub (i64.add (local.get $h4) (i64.shr_u (local.get $g3) (i64.const 26))) (i64.const 0x4000000))) (local.set $g3 (i64.and (local.get $g3) ${M}))
    ;; mask = all ones when g4 >= 0 (no borrow)
    (local.set $mask (i64.sub (i64.shr_u (local.get $g4) (i64.const 63)) (i64.const 1)))
    ${range(5)
      .map(
        (i) =>
          `(local.set $h${i} (i64.or (i64.and (local.get $h${i}) (i64.xor (local.get $mask) (i64.const -1))) (i64.and (local.get $g${i}) (local.get $mask))))`,
      )
      .join('\n    ')}
    (local.set $h4 (i64.and (local.get $h4) ${M}))
    ;; h as four 32-bit words, + pad mod 2^128
    (local.set $g0 (i64.and (i64.or (local.get $h0) (i64.shl (local.get $h1) (i64.const 26))) (i64.const 0xffffffff)))
    (local.set $g1 (i64.and (i64.or (i64.shr_u (local.get $h1) (i64.const 6)) (i64.shl (local.get $h2) (i64.const 20))) (i64.const 0xffffffff)))
    (local.set $g2 (i64.and (i64.or (i64.shr_u (local.get $h2) (i64.const 12)) (i64.shl (local.get $h3) (i64.const 14))) (i64.const 0xffffffff)))
    (local.set $g3 (i64.and (i64.or (i64.shr_u (local.get $h3) (i64.const 18)) (i64.shl (local.get $h4) (i64.const 8))) (i64.const 0xffffffff)))
    (local.set $f (i64.add (local.get $g0) (i64.load32_u offset=${PAD} (i32.const 0))))
    (i32.store offset=0 (local.get $out) (i32.wrap_i64 (local.get $f)))
    (local.set $f (i64.add (i64.add (local.get $g1) (i64.load32_u offset=${PAD + 4} (i32.const 0))) (i64.shr_u (local.get $f) (i64.const 32))))
    (i32.store offset=4 (local.get $out) (i32.wrap_i64 (local.get $f)))
    (local.set $f (i64.add (i64.add (local.get $g2) (i64.load32_u offset=${PAD + 8} (i32.const 0))) (i64.shr_u (local.get $f) (i64.const 32))))
    (i32.store offset=8 (local.get $out) (i32.wrap_i64 (local.get $f)))
    (local.set $f (i64.add (i64.add (local.get $g3) (i64.load32_u offset=${PAD + 12} (i32.const 0))) (i64.shr_u (local.get $f) (i64.const 32))))
    (i32.store offset=12 (local.get $out) (i32.wrap_i64 (local.get $f)))
  )`;
}

export function generate(simd) {
  return `;; GENERATED by gen-xsalsa20poly1305.mjs (${simd ? 'SIMD' : 'scalar'} variant): do not edit, regenerate.
;; XSalsa20 + Poly1305 for NaCl crypto_secretbox; memory map and exports are described in the generator.
(module
  (memory (export "memory") 2 2)
${setupFn()}
${tmpblockFn()}
${xorFn(simd)}
${simd ? xor4Fn() : ''}
${polyFns(simd)}
)
`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const simd of [false, true]) {
    const file = path.join(HERE, simd ? 'xsalsa20poly1305.simd.wat' : 'xsalsa20poly1305.wat');
    writeFileSync(file, generate(simd));
    process.stdout.write(`wrote ${path.relative(process.cwd(), file)}\n`);
  }
}
