// Generates x25519.wat: X25519 (RFC 7748 scalar multiplication, the Montgomery ladder exactly as
// tweetnacl's crypto_scalarmult runs it) as WebAssembly text. build.mjs compiles it with wabt into
// ../x25519_wasm.ts.
//
// Field elements mod p = 2^255 - 19 are 10 unsigned limbs of 26 and 25 bits alternately (radix
// 2^25.5, as in ref10), one i64 each in memory. Every operation ends with a carry pass, so every
// limb it leaves is below 2^26 + 2^18; a product term is then below 2^26.1 * 2^26.1 * 38 < 2^57.5
// and a sum of ten below 2^61: no u64 overflow anywhere.
//
// Memory map (1 page): 0 scalar n (32), 32 point u (32), 64 result (32), 96 clamped scalar (32),
// field elements from 256, 80 bytes each.
// Export: scalarmult()  result = X25519(n, u)
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const range = (n) => [...Array(n).keys()];
const W = range(10).map((k) => (k % 2 === 0 ? 26 : 25));
const POS = range(10).map((k) => Math.ceil(k * 25.5));
const MASK = (w) => `(i64.const ${2 ** w - 1})`;
const FE = 256;
const SLOTS = ['X1', 'A', 'B', 'C', 'D', 'E', 'F', 'T0', 'T1', 'T2', 'T3', 'G', 'H'];
const slot = (name) => FE + 80 * SLOTS.indexOf(name);
const locals = (prefix, n) => range(n).map((i) => `(local $${prefix}${i} i64)`).join(' ');
const loadFe = (prefix, addr) => range(10).map((k) => `(local.set $${prefix}${k} (i64.load offset=${8 * k} (local.get ${addr})))`).join(' ');
const storeFe = (addr) => range(10).map((k) => `(i64.store offset=${8 * k} (local.get ${addr}) (local.get $h${k}))`).join(' ');

/** The carry pass on $h0..$h9 (unsigned): every limb back to its width, the top carry times 19 into h0. */
function carry() {
  const out = [];
  for (let k = 0; k < 9; k++) {
    out.push(`(local.set $h${k + 1} (i64.add (local.get $h${k + 1}) (i64.shr_u (local.get $h${k}) (i64.const ${W[k]}))))`);
    out.push(`(local.set $h${k} (i64.and (local.get $h${k}) ${MASK(W[k])}))`);
  }
  out.push(`(local.set $h0 (i64.add (local.get $h0) (i64.mul (i64.shr_u (local.get $h9) (i64.const 25)) (i64.const 19))))`);
  out.push(`(local.set $h9 (i64.and (local.get $h9) ${MASK(25)}))`);
  out.push(`(local.set $h1 (i64.add (local.get $h1) (i64.shr_u (local.get $h0) (i64.const 26))))`);
  out.push(`(local.set $h0 (i64.and (local.get $h0) ${MASK(26)}))`);
  return out.join('\n    ');
}

const sum = (terms) => terms.reduce((acc, t) => `(i64.add ${acc} ${t})`);

function mulFn() {
  // h_k = sum over i + j = k (mod 10) of f_i g_j, times 2 when i and j are both odd, times 19 when i + j >= 10
  const pre = [];
  for (let j = 1; j < 10; j++) pre.push(`(local.set $g19_${j} (i64.mul (local.get $g${j}) (i64.const 19)))`);
  for (let i = 1; i < 10; i += 2) pre.push(`(local.set $f2_${i} (i64.shl (local.get $f${i}) (i64.const 1)))`);
  const h = range(10).map((k) => {
    const terms = range(10).map((i) => {
      const j = (k - i + 10) % 10;
      const f = i % 2 === 1 && j % 2 === 1 ? `$f2_${i}` : `$f${i}`;
      const g = i + j >= 10 ? `$g19_${j}` : `$g${j}`;
      return `(i64.mul (local.get ${f}) (local.get ${g}))`;
    });
    return `(local.set $h${k} ${sum(terms)})`;
  });
  return `
  (func $mul (param $ho i32) (param $fa i32) (param $ga i32) ${locals('f', 10)} ${locals('g', 10)} ${locals('h', 10)}
      ${range(9).map((j) => `(local $g19_${j + 1} i64)`).join(' ')} ${[1, 3, 5, 7, 9].map((i) => `(local $f2_${i} i64)`).join(' ')}
    ${loadFe('f', '$fa')}
    ${loadFe('g', '$ga')}
    ${pre.join('\n    ')}
    ${h.join('\n    ')}
    ${carry()}
    ${storeFe('$ho')}
  )`;
}

function sqFn() {
  // h_k = sum over unordered pairs {i, j}, i + j = k (mod 10): coefficient (i != j ? 2 : 1) * (both odd ? 2 : 1) * (i + j >= 10 ? 19 : 1)
  const pre = [];
  for (let i = 0; i < 10; i++) {
    pre.push(`(local.set $d${i} (i64.shl (local.get $f${i}) (i64.const 1)))`);
    pre.push(`(local.set $n${i} (i64.mul (local.get $f${i}) (i64.const 19)))`);
    pre.push(`(local.set $m${i} (i64.mul (local.get $f${i}) (i64.const 38)))`);
  }
  // factor c = left(i) * right(j) with left in {f, 2f} and right in {f, 19f, 38f}
  const factor = (i, j, c) => {
    const options = [
      [1, `$f${i}`, 1, `$f${j}`],
      [2, `$d${i}`, 1, `$f${j}`],
      [2, `$d${i}`, 2, `$d${j}`],
      [1, `$f${i}`, 19, `$n${j}`],
      [1, `$f${i}`, 38, `$m${j}`],
      [2, `$d${i}`, 38, `$m${j}`],
    ];
    const hit = options.find(([a, , b]) => a * b === c);
    if (!hit) throw new Error(`no factoring for ${c}`);
    return `(i64.mul (local.get ${hit[1]}) (local.get ${hit[3]}))`;
  };
  const h = range(10).map((k) => {
    const terms = [];
    for (let i = 0; i < 10; i++) {
      for (let j = i; j < 10; j++) {
        if ((i + j) % 10 !== k) continue;
        const c = (i !== j ? 2 : 1) * (i % 2 === 1 && j % 2 === 1 ? 2 : 1) * (i + j >= 10 ? 19 : 1);
        terms.push(factor(i, j, c));
      }
    }
    return `(local.set $h${k} ${sum(terms)})`;
  });
  return `
  (func $sq (param $ho i32) (param $fa i32) ${locals('f', 10)} ${locals('h', 10)} ${locals('d', 10)} ${locals('n', 10)} ${locals('m', 10)}
    ${loadFe('f', '$fa')}
    ${pre.join('\n    ')}
    ${h.join('\n    ')}
    ${carry()}
    ${storeFe('$ho')}
  )`;
}

function addSubFns() {
  // 2p in limbs: 2(2^26 - 19), then 2(2^25 - 1) and 2(2^26 - 1) alternately; every carried g is below it
  const twoP = range(10).map((k) => (k === 0 ? 2 * (2 ** 26 - 19) : 2 * (2 ** W[k] - 1)));
  const add = range(10).map((k) => `(local.set $h${k} (i64.add (local.get $f${k}) (local.get $g${k})))`).join(' ');
  const sub = range(10)
    .map((k) => `(local.set $h${k} (i64.sub (i64.add (local.get $f${k}) (i64.const ${twoP[k]})) (local.get $g${k})))`)
    .join(' ');
  const small = range(10).map((k) => `(local.set $h${k} (i64.mul (local.get $f${k}) (i64.const 121665)))`).join(' ');
  return `
  (func $add (param $ho i32) (param $fa i32) (param $ga i32) ${locals('f', 10)} ${locals('g', 10)} ${locals('h', 10)}
    ${loadFe('f', '$fa')} ${loadFe('g', '$ga')}
    ${add}
    ${carry()}
    ${storeFe('$ho')}
  )

  (func $sub (param $ho i32) (param $fa i32) (param $ga i32) ${locals('f', 10)} ${locals('g', 10)} ${locals('h', 10)}
    ${loadFe('f', '$fa')} ${loadFe('g', '$ga')}
    ${sub}
    ${carry()}
    ${storeFe('$ho')}
  )

  (func $mul121665 (param $ho i32) (param $fa i32) ${locals('f', 10)} ${locals('h', 10)}
    ${loadFe('f', '$fa')}
    ${small}
    ${carry()}
    ${storeFe('$ho')}
  )

  ;; swap f and g when $bit is 1, without a branch
  (func $cswap (param $fa i32) (param $ga i32) (param $bit i64) (local $mask i64) (local $t i64)
    (local.set $mask (i64.sub (i64.const 0) (local.get $bit)))
    ${range(10)
      .map(
        (k) => `(local.set $t (i64.and (local.get $mask) (i64.xor (i64.load offset=${8 * k} (local.get $fa)) (i64.load offset=${8 * k} (local.get $ga)))))
    (i64.store offset=${8 * k} (local.get $fa) (i64.xor (i64.load offset=${8 * k} (local.get $fa)) (local.get $t)))
    (i64.store offset=${8 * k} (local.get $ga) (i64.xor (i64.load offset=${8 * k} (local.get $ga)) (local.get $t)))`,
      )
      .join('\n    ')}
  )

  (func $copy (param $ho i32) (param $fa i32)
    ${range(10).map((k) => `(i64.store offset=${8 * k} (local.get $ho) (i64.load offset=${8 * k} (local.get $fa)))`).join(' ')}
  )

  (func $set (param $ho i32) (param $v i64)
    (i64.store (local.get $ho) (local.get $v))
    ${range(9).map((k) => `(i64.store offset=${8 * (k + 1)} (local.get $ho) (i64.const 0))`).join(' ')}
  )

  ;; h = f^(2^n), n >= 1
  (func $sqn (param $ho i32) (param $fa i32) (param $n i32)
    (call $sq (local.get $ho) (local.get $fa))
    (block $done (loop $more
      (br_if $done (i32.le_u (local.tee $n (i32.sub (local.get $n) (i32.const 1))) (i32.const 0)))
      (call $sq (local.get $ho) (local.get $ho))
      (br $more)))
  )`;
}

function ioFns() {
  const unpack = range(10)
    .map((k) => `(i64.store offset=${8 * k} (local.get $ho) (i64.and (i64.shr_u (i64.load offset=${POS[k] >> 3} (local.get $src)) (i64.const ${POS[k] & 7})) ${MASK(W[k])}))`)
    .join('\n    ');
  // canonical: q = floor((h + 19) / 2^255) is 0 or 1 (h < 2p); h + 19q, dropping bit 255, is h mod p
  const q = [`(local.set $q (i64.shr_u (i64.add (local.get $h0) (i64.const 19)) (i64.const 26)))`];
  for (let k = 1; k < 10; k++) q.push(`(local.set $q (i64.shr_u (i64.add (local.get $h${k}) (local.get $q)) (i64.const ${W[k]})))`);
  const reduce = [`(local.set $h0 (i64.add (local.get $h0) (i64.mul (local.get $q) (i64.const 19))))`];
  for (let k = 0; k < 9; k++) {
    reduce.push(`(local.set $h${k + 1} (i64.add (local.get $h${k + 1}) (i64.shr_u (local.get $h${k}) (i64.const ${W[k]}))))`);
    reduce.push(`(local.set $h${k} (i64.and (local.get $h${k}) ${MASK(W[k])}))`);
  }
  reduce.push(`(local.set $h9 (i64.and (local.get $h9) ${MASK(25)}))`);
  const bytes = [];
  let nb = 0;
  let written = 0;
  bytes.push('(local.set $acc (i64.const 0))');
  for (let k = 0; k < 10; k++) {
    bytes.push(`(local.set $acc (i64.or (local.get $acc) (i64.shl (local.get $h${k}) (i64.const ${nb}))))`);
    nb += W[k];
    while (nb >= 32 || (k === 9 && nb > 0)) {
      bytes.push(`(i32.store offset=${written} (local.get $dst) (i32.wrap_i64 (local.get $acc)))`);
      bytes.push(`(local.set $acc (i64.shr_u (local.get $acc) (i64.const 32)))`);
      written += 4;
      nb -= 32;
    }
  }
  if (written !== 32) throw new Error(`packed ${written} bytes`);
  return `
  ;; 32 little-endian bytes at $src (bit 255 ignored) -> limbs
  (func $unpack (param $ho i32) (param $src i32)
    ${unpack}
  )

  ;; limbs -> 32 canonical little-endian bytes at $dst
  (func $pack (param $dst i32) (param $fa i32) ${locals('h', 10)} (local $q i64) (local $acc i64)
    ${range(10).map((k) => `(local.set $h${k} (i64.load offset=${8 * k} (local.get $fa)))`).join(' ')}
    ${carry()}
    ${q.join('\n    ')}
    ${reduce.join('\n    ')}
    ${bytes.join('\n    ')}
  )`;
}

function invertFn() {
  const s = (n) => `(i32.const ${slot(n)})`;
  return `
  ;; out = z^(p - 2) (ref10's addition chain: 254 squarings, 11 multiplications)
  (func $invert (param $out i32) (param $z i32)
    (call $sq ${s('T0')} (local.get $z))
    (call $sqn ${s('T1')} ${s('T0')} (i32.const 2))
    (call $mul ${s('T1')} (local.get $z) ${s('T1')})
    (call $mul ${s('T0')} ${s('T0')} ${s('T1')})
    (call $sq ${s('T2')} ${s('T0')})
    (call $mul ${s('T1')} ${s('T1')} ${s('T2')})
    (call $sqn ${s('T2')} ${s('T1')} (i32.const 5))
    (call $mul ${s('T1')} ${s('T2')} ${s('T1')})
    (call $sqn ${s('T2')} ${s('T1')} (i32.const 10))
    (call $mul ${s('T2')} ${s('T2')} ${s('T1')})
    (call $sqn ${s('T3')} ${s('T2')} (i32.const 20))
    (call $mul ${s('T2')} ${s('T3')} ${s('T2')})
    (call $sqn ${s('T2')} ${s('T2')} (i32.const 10))
    (call $mul ${s('T1')} ${s('T2')} ${s('T1')})
    (call $sqn ${s('T2')} ${s('T1')} (i32.const 50))
    (call $mul ${s('T2')} ${s('T2')} ${s('T1')})
    (call $sqn ${s('T3')} ${s('T2')} (i32.const 100))
    (call $mul ${s('T2')} ${s('T3')} ${s('T2')})
    (call $sqn ${s('T2')} ${s('T2')} (i32.const 50))
    (call $mul ${s('T1')} ${s('T2')} ${s('T1')})
    (call $sqn ${s('T1')} ${s('T1')} (i32.const 5))
    (call $mul (local.get $out) ${s('T1')} ${s('T0')})
  )`;
}

// ---- SIMD variant: two independent multiplications (or squarings) at once ------------------------------
// Limb k of the two operands sits in i32 lanes 0 and 1 (loaded straight from the i64 limbs, whose high
// halves are zero); i64x2.extmul_low_i32x4_u forms both products in one instruction. The bounds are the
// scalar ones: every input limb below 2^26.1, 19 g below 2^30.4, 38 f below 2^31.4, all within u32.
const vget = (n) => `(local.get $${n})`;
function vcarry() {
  const out = [];
  const M = (w) => `(v128.const i64x2 ${2 ** w - 1} ${2 ** w - 1})`;
  for (let k = 0; k < 9; k++) {
    out.push(`(local.set $h${k + 1} (i64x2.add (local.get $h${k + 1}) (i64x2.shr_u (local.get $h${k}) (i32.const ${W[k]}))))`);
    out.push(`(local.set $h${k} (v128.and (local.get $h${k}) ${M(W[k])}))`);
  }
  // 19 c = 16 c + 2 c + c (i64x2.mul is slow where it exists at all)
  out.push(`(local.set $c (i64x2.shr_u (local.get $h9) (i32.const 25)))`);
  out.push(`(local.set $h0 (i64x2.add (local.get $h0) (i64x2.add (i64x2.add (i64x2.shl (local.get $c) (i32.const 4)) (i64x2.shl (local.get $c) (i32.const 1))) (local.get $c))))`);
  out.push(`(local.set $h9 (v128.and (local.get $h9) ${M(25)}))`);
  out.push(`(local.set $h1 (i64x2.add (local.get $h1) (i64x2.shr_u (local.get $h0) (i32.const 26))))`);
  out.push(`(local.set $h0 (v128.and (local.get $h0) ${M(26)}))`);
  return out.join('\n    ');
}
const vlocals = (prefix, n) => range(n).map((i) => `(local $${prefix}${i} v128)`).join(' ');
/** limb k of the field elements at $pa and $pb into lanes 0 and 1 of $<prefix>k */
const vload = (prefix, pa, pb) =>
  range(10).map((k) => `(local.set $${prefix}${k} (v128.load32_lane offset=${8 * k} 1 (local.get ${pb}) (v128.load32_zero offset=${8 * k} (local.get ${pa}))))`).join('\n    ');
const vstore = (ha, hb) =>
  range(10).map((k) => `(v128.store64_lane offset=${8 * k} 0 (local.get ${ha}) (local.get $h${k})) (v128.store64_lane offset=${8 * k} 1 (local.get ${hb}) (local.get $h${k}))`).join('\n    ');
const xmul = (a, b) => `(i64x2.extmul_low_i32x4_u ${vget(a)} ${vget(b)})`;
const vsum = (terms) => terms.reduce((acc, t) => `(i64x2.add ${acc} ${t})`);

function mul2Fn() {
  const pre = [];
  for (let j = 1; j < 10; j++) pre.push(`(local.set $g19_${j} (i32x4.mul (local.get $g${j}) (v128.const i32x4 19 19 19 19)))`);
  for (let i = 1; i < 10; i += 2) pre.push(`(local.set $f2_${i} (i32x4.shl (local.get $f${i}) (i32.const 1)))`);
  const h = range(10).map((k) => {
    const terms = range(10).map((i) => {
      const j = (k - i + 10) % 10;
      return xmul(i % 2 === 1 && j % 2 === 1 ? `f2_${i}` : `f${i}`, i + j >= 10 ? `g19_${j}` : `g${j}`);
    });
    return `(local.set $h${k} ${vsum(terms)})`;
  });
  return `
  ;; h1 = f1 g1 and h2 = f2 g2 (outputs may alias inputs)
  (func $mul2 (param $ha i32) (param $fa i32) (param $ga i32) (param $hb i32) (param $fb i32) (param $gb i32)
      ${vlocals('f', 10)} ${vlocals('g', 10)} ${vlocals('h', 10)} (local $c v128)
      ${range(9).map((j) => `(local $g19_${j + 1} v128)`).join(' ')} ${[1, 3, 5, 7, 9].map((i) => `(local $f2_${i} v128)`).join(' ')}
    ${vload('f', '$fa', '$fb')}
    ${vload('g', '$ga', '$gb')}
    ${pre.join('\n    ')}
    ${h.join('\n    ')}
    ${vcarry()}
    ${vstore('$ha', '$hb')}
  )`;
}

function sq2Fn() {
  const pre = [];
  for (let i = 0; i < 10; i++) {
    pre.push(`(local.set $d${i} (i32x4.shl (local.get $f${i}) (i32.const 1)))`);
    pre.push(`(local.set $n${i} (i32x4.mul (local.get $f${i}) (v128.const i32x4 19 19 19 19)))`);
    pre.push(`(local.set $m${i} (i32x4.shl (local.get $n${i}) (i32.const 1)))`);
  }
  const factor = (i, j, c) => {
    const options = [
      [1, `f${i}`, 1, `f${j}`],
      [2, `d${i}`, 1, `f${j}`],
      [2, `d${i}`, 2, `d${j}`],
      [1, `f${i}`, 19, `n${j}`],
      [1, `f${i}`, 38, `m${j}`],
      [2, `d${i}`, 38, `m${j}`],
    ];
    const hit = options.find(([a, , b]) => a * b === c);
    if (!hit) throw new Error(`no factoring for ${c}`);
    return xmul(hit[1], hit[3]);
  };
  const h = range(10).map((k) => {
    const terms = [];
    for (let i = 0; i < 10; i++) {
      for (let j = i; j < 10; j++) {
        if ((i + j) % 10 !== k) continue;
        terms.push(factor(i, j, (i !== j ? 2 : 1) * (i % 2 === 1 && j % 2 === 1 ? 2 : 1) * (i + j >= 10 ? 19 : 1)));
      }
    }
    return `(local.set $h${k} ${vsum(terms)})`;
  });
  return `
  ;; h1 = f1^2 and h2 = f2^2 (outputs may alias inputs)
  (func $sq2 (param $ha i32) (param $fa i32) (param $hb i32) (param $fb i32)
      ${vlocals('f', 10)} ${vlocals('h', 10)} ${vlocals('d', 10)} ${vlocals('n', 10)} ${vlocals('m', 10)} (local $c v128)
    ${vload('f', '$fa', '$fb')}
    ${pre.join('\n    ')}
    ${h.join('\n    ')}
    ${vcarry()}
    ${vstore('$ha', '$hb')}
  )`;
}

function scalarmultFn(simd) {
  const s = (n) => `(i32.const ${slot(n)})`;
  const op = (f, ...args) => `(call $${f} ${args.map((a) => (SLOTS.includes(a) ? s(a) : a)).join(' ')})`;
  // SIMD: the same dataflow with the independent products paired (G = a^2 for d = G x, H = e^2 for the next b)
  const body2 = [
    op('add', 'E', 'A', 'C'),
    op('sub', 'A', 'A', 'C'),
    op('add', 'C', 'B', 'D'),
    op('sub', 'B', 'B', 'D'),
    op('sq2', 'D', 'E', 'F', 'A'),
    op('mul2', 'A', 'C', 'A', 'C', 'B', 'E'),
    op('add', 'E', 'A', 'C'),
    op('sub', 'A', 'A', 'C'),
    op('sq2', 'G', 'A', 'H', 'E'),
    op('sub', 'C', 'D', 'F'),
    op('mul121665', 'A', 'C'),
    op('add', 'A', 'A', 'D'),
    op('mul2', 'C', 'C', 'A', 'A', 'D', 'F'),
    op('mul', 'D', 'G', 'X1'),
    op('copy', 'B', 'H'),
  ];
  const body = [
    op('add', 'E', 'A', 'C'),
    op('sub', 'A', 'A', 'C'),
    op('add', 'C', 'B', 'D'),
    op('sub', 'B', 'B', 'D'),
    op('sq', 'D', 'E'),
    op('sq', 'F', 'A'),
    op('mul', 'A', 'C', 'A'),
    op('mul', 'C', 'B', 'E'),
    op('add', 'E', 'A', 'C'),
    op('sub', 'A', 'A', 'C'),
    op('sq', 'B', 'A'),
    op('sub', 'C', 'D', 'F'),
    op('mul121665', 'A', 'C'),
    op('add', 'A', 'A', 'D'),
    op('mul', 'C', 'C', 'A'),
    op('mul', 'A', 'D', 'F'),
    op('mul', 'D', 'B', 'X1'),
    op('sq', 'B', 'E'),
  ];
  const swap = `${op('cswap', 'A', 'B', '(local.get $r)')} ${op('cswap', 'C', 'D', '(local.get $r)')}`;
  return `
  (func $scalarmult (export "scalarmult") (local $i i32) (local $r i64)
    ;; clamp a copy of the scalar
    (i64.store offset=96 (i32.const 0) (i64.load offset=0 (i32.const 0)))
    (i64.store offset=104 (i32.const 0) (i64.load offset=8 (i32.const 0)))
    (i64.store offset=112 (i32.const 0) (i64.load offset=16 (i32.const 0)))
    (i64.store offset=120 (i32.const 0) (i64.load offset=24 (i32.const 0)))
    (i32.store8 offset=96 (i32.const 0) (i32.and (i32.load8_u offset=96 (i32.const 0)) (i32.const 248)))
    (i32.store8 offset=127 (i32.const 0) (i32.or (i32.and (i32.load8_u offset=127 (i32.const 0)) (i32.const 127)) (i32.const 64)))
    (call $unpack ${s('X1')} (i32.const 32))
    (call $set ${s('A')} (i64.const 1))
    (call $unpack ${s('B')} (i32.const 32))
    (call $set ${s('C')} (i64.const 0))
    (call $set ${s('D')} (i64.const 1))
    (local.set $i (i32.const 254))
    (loop $ladder
      (local.set $r (i64.extend_i32_u (i32.and (i32.shr_u (i32.load8_u offset=96 (i32.shr_u (local.get $i) (i32.const 3))) (i32.and (local.get $i) (i32.const 7))) (i32.const 1))))
      ${swap}
      ${(simd ? body2 : body).join('\n      ')}
      ${swap}
      (br_if $ladder (i32.ge_s (local.tee $i (i32.sub (local.get $i) (i32.const 1))) (i32.const 0))))
    (call $invert ${s('E')} ${s('C')})
    (call $mul ${s('A')} ${s('A')} ${s('E')})
    (call $pack (i32.const 64) ${s('A')})
  )`;
}

export function generate(simd = false) {
  return `;; GENERATED by gen-x25519.mjs: do not edit, regenerate.
;; X25519 (Montgomery ladder as in tweetnacl's crypto_scalarmult); memory map in the generator.
(module
  (memory (export "memory") 1 1)
${mulFn()}
${sqFn()}
${addSubFns()}
${ioFns()}
${invertFn()}
${simd ? mul2Fn() + sq2Fn() : ''}
${scalarmultFn(simd)}
)
`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const simd of [false, true]) {
    const file = path.join(HERE, simd ? 'x25519.simd.wat' : 'x25519.wat');
    writeFileSync(file, generate(simd));
    process.stdout.write(`wrote ${path.relative(process.cwd(), file)}\n`);
  }
}
