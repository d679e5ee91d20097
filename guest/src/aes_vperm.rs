//! AES-256 for wasm `simd128` by vector permutes, with no memory access that
//! depends on the key or the data: encryption here, decryption (the same
//! field arithmetic with other tables, several blocks side by side) in
//! `decrypt`.
//!
//! The `aes` crate's portable backend is constant-time but bitsliced for
//! several blocks at once; CBC encryption has one block in flight, so much of
//! that work is wasted (34 to 58 MiB/s inside wasm, depending on the load
//! of the machine, a quarter to a third of this module's speed; see the
//! README's Speed section). A byte-wise S-box table would be fast but leaks
//! through the cache. What wasm offers instead is
//! `i8x16.swizzle`: a lookup in a 16-byte table held in a register, for all
//! sixteen lanes at once (`pshufb` on x86, `tbl` on arm64). So the S-box is
//! computed from nibbles, the vector-permute technique of Hamburg (CHES 2009),
//! with a tower field and tables derived here from first principles:
//!
//! - GF(2^8) is taken as GF(2^4)[t] / (t^2 + t + λ): an element is
//!   `α + β·t` with nibbles α, β. Its inverse is `(α + β + β·t) / N` with the
//!   norm `N = α^2 + αβ + λβ^2`, which looks like it needs products of two
//!   secret nibbles, and one-input tables cannot multiply. Writing the byte
//!   as `i = λβ`, `k = α`, `j = i + k` and `a = 1/λ`, the quantities
//!
//!       io = j + 1 / (1/i + a/k)  =  N / (k + a·i)
//!       jo = i + 1 / (1/j + a/k)  =  N / (k + a·j)
//!
//!   take only one-input lookups (`1/x`, `a/x`) and additions, and the
//!   inverse's nibbles are `α' = 1/io` and `β' = (1+λ)/io + λ/jo`. A final
//!   pair of lookups, `P[io] ^ Q[jo]`, yields the inverse and in the same
//!   step any GF(2)-linear map of it: AES's affine map, times 2 or 3 for
//!   MixColumns, in the encoding the next round expects.
//! - A zero nibble's inverse is the table entry 0x80, "infinity": any lookup
//!   indexed by it (or by it XOR a nibble) gives 0 because swizzle zeroes
//!   lanes whose index is 128 or more, which is just what `1/∞ = 0` needs.
//! - Between rounds the state stays in that encoding (`i` in the high
//!   nibble, `k` in the low), so each round is: split nibbles, five
//!   inversion lookups, six output lookups (the S-box times 1, 2 and 3),
//!   MixColumns as three byte permutations and XORs, the round key. AES's
//!   constant 0x63 is folded into the round keys (MixColumns maps a constant
//!   state to itself), so every table maps 0 to 0.
//! - ShiftRows is a byte permutation, so it commutes with the byte-wise
//!   S-box and is carried instead of done: after round r the state is kept
//!   as ShiftRows^-r of the real one, MixColumns of that round rotates
//!   columns as seen through ShiftRows^r, the round key is permuted alike,
//!   and one permutation at the end (ShiftRows^14 = ShiftRows^2, as
//!   ShiftRows^4 is the identity) puts the bytes in place.
//!
//! CBC encryption has one block in flight, so the speed is set by the chain
//! of dependent instructions, and on the x86_64 machine of bench/RESULTS.md
//! every vector instruction on it costs 2 cycles (while two shuffles and
//! four XORs can issue per cycle). So the round is built for a short chain:
//! - MixColumns takes `a`, `2a` and `3a` from three pairs of output tables
//!   and sums four permuted terms as a tree, instead of chaining.
//! - The lookups use relaxed SIMD's swizzle (see `lanes::swizzle`): Cranelift
//!   puts an index fix-up (`vpaddusb`) before the `pshufb` of every plain
//!   `i8x16.swizzle`, one more step on the chain at each of the three levels
//!   of lookups.
//! - The permutations are swizzles by index vectors held in the key
//!   schedule, not `i8x16.shuffle` with constant lanes: Cranelift compiles a
//!   constant shuffle to `vpermi2b` (3 cycles) on x86 CPUs with AVX-512 VBMI.
//!
//! - Between blocks, the last round hands the next block its state already
//!   encoded, so the chain from block to block is one XOR (`encrypt_cbc`).
//!
//! A round is then 12 steps deep. Measured in the guest: the first version
//! ran at 96 MiB/s, carrying ShiftRows and swizzled permutations made it
//! 115, the tree-shaped MixColumns 118, relaxed swizzles 147 to 152 and the
//! encoded chain between blocks 153 to 160 (the stage bench, interleaved
//! with the `aes` crate). What did not pay: keeping the state as two nibble
//! vectors (10 steps deep on paper, but twice the lookups, 27 shuffles a
//! round on two shuffle ports, and LLVM's reassociation turns its XOR trees
//! into chains: 124 to 136); carrying `j = i ^ k` from tables of its own
//! (11 steps on paper; LLVM turned one of its XOR trees into a chain, which
//! made it 12, and with the tree held in shape by a second use, 11 steps
//! but 142 to 145 against this version's 145 to 147 in the same run: 23
//! shuffles and 21 spill moves a round instead of 14 and 3, so a shorter
//! chain no longer sets the pace).
//!
//! Every table is computed by `const fn` from the field definitions; the
//! tests check the S-box this way against the one computed the textbook way
//! for all 256 bytes, the cipher against FIPS-197, SP 800-38A and the `aes`
//! crate. The algorithm is written once against a tiny vector API (`lanes`)
//! with two backends: wasm `simd128`, which the guest uses, and plain arrays
//! for native unit tests (not constant-time; never used outside tests).

/// Multiplication in GF(2^8) modulo AES's x^8 + x^4 + x^3 + x + 1, with no
/// branch on either operand: the decryption key schedule multiplies key
/// bytes (`decrypt::inv_mix_columns`).
const fn gf256_mul(mut a: u8, mut b: u8) -> u8 {
    let mut product = 0;
    let mut bit = 0;
    while bit < 8 {
        product ^= a & 0u8.wrapping_sub(b & 1);
        a = a << 1 ^ 0x1b & 0u8.wrapping_sub(a >> 7);
        b >>= 1;
        bit += 1;
    }
    product
}

/// Multiplication in GF(2^4) modulo z^4 + z + 1.
const fn gf16_mul(mut a: u8, mut b: u8) -> u8 {
    let mut product = 0;
    while b != 0 {
        if b & 1 != 0 {
            product ^= a;
        }
        a <<= 1;
        if a & 0x10 != 0 {
            a ^= 0x13;
        }
        b >>= 1;
    }
    product
}

/// `a^14`, the inverse in GF(2^4) (and 0 for 0).
const fn gf16_inv(a: u8) -> u8 {
    let mut inverse = 1;
    let mut i = 0;
    while i < 14 {
        inverse = gf16_mul(inverse, a);
        i += 1;
    }
    inverse
}

/// The smallest λ for which t^2 + t + λ has no root in GF(2^4), so that
/// GF(2^4)[t] / (t^2 + t + λ) is a field of 256 elements.
const LAMBDA: u8 = {
    let mut lambda = 1;
    loop {
        let mut has_root = false;
        let mut t = 0;
        while t < 16 {
            has_root |= gf16_mul(t, t) ^ t ^ lambda == 0;
            t += 1;
        }
        if !has_root {
            break lambda;
        }
        lambda += 1;
    }
};

/// `a = 1/λ` of the module doc.
const A: u8 = gf16_inv(LAMBDA);

/// Multiplication in the tower field; an element `α + β·t` is the byte
/// `β << 4 | α`.
const fn tower_mul(x: u8, y: u8) -> u8 {
    let (x0, x1, y0, y1) = (x & 15, x >> 4, y & 15, y >> 4);
    let high_product = gf16_mul(x1, y1);
    // t^2 = t + λ
    let low = gf16_mul(x0, y0) ^ gf16_mul(LAMBDA, high_product);
    let high = gf16_mul(x0, y1) ^ gf16_mul(x1, y0) ^ high_product;
    high << 4 | low
}

/// θ^0..θ^7 for the smallest root θ of AES's polynomial in the tower field:
/// AES's x maps to θ, so a byte's bits weigh these powers (the field
/// isomorphism, a GF(2)-linear map).
const THETA_POWERS: [u8; 8] = {
    let mut theta = 2;
    loop {
        let mut powers = [1u8; 9];
        let mut m = 1;
        while m < 9 {
            powers[m] = tower_mul(powers[m - 1], theta);
            m += 1;
        }
        if powers[8] ^ powers[4] ^ powers[3] ^ powers[1] ^ powers[0] == 0 {
            let mut out = [0; 8];
            let mut m = 0;
            while m < 8 {
                out[m] = powers[m];
                m += 1;
            }
            break out;
        }
        theta += 1;
    }
};

/// AES's field to the tower field.
const fn to_tower(x: u8) -> u8 {
    let mut out = 0;
    let mut m = 0;
    while m < 8 {
        if x >> m & 1 != 0 {
            out ^= THETA_POWERS[m];
        }
        m += 1;
    }
    out
}

/// The tower field back to AES's: linear, so the images of the eight basis
/// bytes are found by search and combined.
const fn from_tower(y: u8) -> u8 {
    let mut out = 0;
    let mut bit = 0;
    while bit < 8 {
        if y >> bit & 1 != 0 {
            let mut x = 0u8;
            while to_tower(x) != 1 << bit {
                x += 1;
            }
            out ^= x;
        }
        bit += 1;
    }
    out
}

/// A standard byte in the encoding the rounds work in: `i = λβ` in the high
/// nibble, `k = α` in the low.
const fn encode(x: u8) -> u8 {
    let y = to_tower(x);
    gf16_mul(LAMBDA, y >> 4) << 4 | (y & 15)
}

/// The linear part of AES's affine map (the constant 0x63 is added through
/// the round keys).
const fn affine_linear(b: u8) -> u8 {
    b ^ b.rotate_left(1) ^ b.rotate_left(2) ^ b.rotate_left(3) ^ b.rotate_left(4)
}

/// The inverse of `affine_linear`: InvSubBytes is `(L⁻¹(y ^ 0x63))⁻¹`.
const fn inverse_affine_linear(b: u8) -> u8 {
    b.rotate_left(1) ^ b.rotate_left(3) ^ b.rotate_left(6)
}

/// A standard byte in the encoding the decryption rounds work in: the
/// encoding of the field element InvSubBytes inverts, up to the constant
/// (`L⁻¹(y ^ 0x63)` is `L⁻¹(y) ^ L⁻¹(0x63)`, and the 0x63 is folded into the
/// round keys, as for encryption). Linear, like `encode`.
const fn encode_for_decryption(y: u8) -> u8 {
    encode(inverse_affine_linear(y))
}

/// What a pair of output tables produces from the inverse `x⁻¹`.
#[derive(Clone, Copy)]
enum Output {
    /// `L(x⁻¹)`, in the standard basis: the last round and the key schedule.
    Plain,
    /// `c·L(x⁻¹)`, encoded: the S-box of a middle round times a MixColumns
    /// coefficient `c`.
    Encoded(u8),
    /// `x⁻¹` in the standard basis: InvSubBytes of the last decryption round.
    Inverse,
    /// `c·x⁻¹` in the decryption encoding: InvSubBytes of a middle round
    /// times an InvMixColumns coefficient `c`.
    InverseEncoded(u8),
}

/// `P[io] ^ Q[jo]` is the output for the inverse with nibbles
/// `α' = 1/io`, `β' = (1+λ)/io + λ/jo`; each table takes its share.
const fn output_tables(output: Output) -> [[u8; 16]; 2] {
    const fn map(output: Output, inverse: u8) -> u8 {
        let inverse = from_tower(inverse);
        match output {
            Output::Plain => affine_linear(inverse),
            Output::Encoded(coefficient) => encode(gf256_mul(coefficient, affine_linear(inverse))),
            Output::Inverse => inverse,
            Output::InverseEncoded(coefficient) => {
                encode_for_decryption(gf256_mul(coefficient, inverse))
            }
        }
    }
    let mut tables = [[0; 16]; 2];
    let mut n = 0;
    while n < 16 {
        let inverse = gf16_inv(n as u8);
        tables[0][n] = map(output, gf16_mul(1 ^ LAMBDA, inverse) << 4 | inverse);
        tables[1][n] = map(output, gf16_mul(LAMBDA, inverse) << 4);
        n += 1;
    }
    tables
}

/// `1/x` and `a/x` on nibbles, with 0x80 ("infinity") for 0.
const fn inverse_table(numerator: u8) -> [u8; 16] {
    let mut table = [0x80; 16];
    let mut n = 1;
    while n < 16 {
        table[n] = gf16_mul(numerator, gf16_inv(n as u8));
        n += 1;
    }
    table
}

const INV: [u8; 16] = inverse_table(1);
const INV_A: [u8; 16] = inverse_table(A);
const SUB_PLAIN: [[u8; 16]; 2] = output_tables(Output::Plain);
/// The S-box of a middle round times 1, 2 and 3, MixColumns' coefficients.
const SUB_TIMES: [[[u8; 16]; 2]; 3] = [
    output_tables(Output::Encoded(1)),
    output_tables(Output::Encoded(2)),
    output_tables(Output::Encoded(3)),
];
/// The rounds' encodings of a standard byte: `encode` for encryption,
/// `encode_for_decryption` for decryption.
#[derive(Clone, Copy)]
enum Encoding {
    Encryption,
    Decryption,
}

impl Encoding {
    const fn of(self, x: u8) -> u8 {
        match self {
            Encoding::Encryption => encode(x),
            Encoding::Decryption => encode_for_decryption(x),
        }
    }

    /// Both encodings are linear, so a byte is encoded by one lookup per
    /// nibble (low, high), XORed.
    const fn nibble_tables(self) -> [[u8; 16]; 2] {
        let mut tables = [[0; 16]; 2];
        let mut n = 0;
        while n < 16 {
            tables[0][n] = self.of(n as u8);
            tables[1][n] = self.of((n as u8) << 4);
            n += 1;
        }
        tables
    }
}

const ENCODE: [[u8; 16]; 2] = Encoding::Encryption.nibble_tables();
const AFFINE_CONSTANT: u8 = 0x63;

const ROUNDS: usize = 14;
/// Byte orders: a vector `v` reordered by `order` is `v[order[n]]` at `n`.
type Order = [u8; 16];
/// ShiftRows in AES's column-major byte order: byte (row r, column c) takes
/// the byte at (r, c + r). Its fourth power is the identity.
const SHIFT_ROWS: Order = [0, 5, 10, 15, 4, 9, 14, 3, 8, 13, 2, 7, 12, 1, 6, 11];
/// Each column rotated up by one row.
const ROTATE_COLUMNS: Order = [1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12];

/// The order that applies `steps` one after the other.
fn compose<'a>(steps: impl IntoIterator<Item = &'a Order>) -> Order {
    let identity = std::array::from_fn(|n| n as u8);
    steps
        .into_iter()
        .fold(identity, |order, step| step.map(|i| order[usize::from(i)]))
}

/// ShiftRows^power; negative powers count back from ShiftRows^4 = 1.
fn shift_rows(power: isize) -> impl Iterator<Item = &'static Order> {
    std::iter::repeat_n(&SHIFT_ROWS, power.rem_euclid(4) as usize)
}

/// Column rotation by `rows` as seen by a state kept ShiftRows^-power away
/// from the real one: ShiftRows^power, the rotation, ShiftRows^-power.
fn rotation_seen_through(power: isize, rows: usize) -> Order {
    let rotation = std::iter::repeat_n(&ROTATE_COLUMNS, rows);
    compose(shift_rows(power).chain(rotation).chain(shift_rows(-power)))
}

#[cfg(target_arch = "wasm32")]
mod lanes {
    use core::arch::wasm32::*;

    pub type V = v128;

    pub fn load(bytes: &[u8; 16]) -> V {
        // SAFETY: 16 readable bytes; v128_load has no alignment requirement.
        unsafe { v128_load(bytes.as_ptr().cast()) }
    }

    pub fn store(v: V) -> [u8; 16] {
        let mut bytes = [0u8; 16];
        // SAFETY: 16 writable bytes; v128_store has no alignment requirement.
        unsafe { v128_store(bytes.as_mut_ptr().cast(), v) };
        bytes
    }

    pub fn splat(byte: u8) -> V {
        u8x16_splat(byte)
    }

    pub fn xor(a: V, b: V) -> V {
        v128_xor(a, b)
    }

    pub fn and(a: V, b: V) -> V {
        v128_and(a, b)
    }

    pub fn high_nibbles(a: V) -> V {
        u8x16_shr(a, 4)
    }

    /// `table[index]` per lane, 0 where the index is 128 or more; every
    /// index is below 16 or at least 128 (see `swizzle`).
    pub fn lookup(table: &[u8; 16], index: V) -> V {
        swizzle(load(table), index)
    }

    /// `a` reordered by `order` (all indices below 16).
    pub fn permute(a: V, order: V) -> V {
        swizzle(a, order)
    }

    /// Relaxed SIMD's swizzle leaves only indices 16 to 127 to the host (0 or
    /// the lane modulo 16); below 16 and from 128 up its result is fixed, and
    /// the cipher's indices are always there (a nibble, or 0x80 "infinity"
    /// XOR a nibble), so every host computes the same bytes. It compiles to a
    /// bare `pshufb` on x86, where `i8x16.swizzle` needs an index fix-up first
    /// (see the module doc). The guest is built with `+relaxed-simd`
    /// (.cargo/config.toml).
    fn swizzle(a: V, index: V) -> V {
        i8x16_relaxed_swizzle(a, index)
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod lanes {
    pub type V = [u8; 16];

    pub fn load(bytes: &[u8; 16]) -> V {
        *bytes
    }

    pub fn store(v: V) -> [u8; 16] {
        v
    }

    pub fn splat(byte: u8) -> V {
        [byte; 16]
    }

    pub fn xor(a: V, b: V) -> V {
        std::array::from_fn(|i| a[i] ^ b[i])
    }

    pub fn and(a: V, b: V) -> V {
        std::array::from_fn(|i| a[i] & b[i])
    }

    pub fn high_nibbles(a: V) -> V {
        a.map(|x| x >> 4)
    }

    /// Also checks, for the unit tests, that every index is one whose
    /// relaxed swizzle result the spec fixes (see the wasm backend): below 16
    /// or from 128 up. An index in between would make x86 and arm64 differ.
    pub fn lookup(table: &[u8; 16], index: V) -> V {
        index.map(|i| {
            assert!(
                !(16..128).contains(&i),
                "lookup index {i:#04x} left to the host"
            );
            table.get(usize::from(i)).copied().unwrap_or(0)
        })
    }

    pub fn permute(a: V, order: V) -> V {
        order.map(|i| a[usize::from(i)])
    }
}

mod decrypt;
pub use decrypt::Aes256Decryptor;

use lanes::V;
use zeroize::Zeroizing;

/// The high and the low nibble of every byte, each as a lookup index.
#[inline(always)]
fn nibbles(state: V) -> (V, V) {
    (
        lanes::high_nibbles(state),
        lanes::and(state, lanes::splat(0x0f)),
    )
}

/// A standard state in the rounds' encoding (`ENCODE`, or the decryption
/// rounds' tables).
#[inline(always)]
fn encode_state(tables: &[[u8; 16]; 2], state: V) -> V {
    let (high, low) = nibbles(state);
    lanes::xor(
        lanes::lookup(&tables[0], low),
        lanes::lookup(&tables[1], high),
    )
}

/// `(io, jo)` of the module doc for every byte of an encoded state.
#[inline(always)]
fn invert(state: V) -> (V, V) {
    let (i, k) = nibbles(state);
    let j = lanes::xor(i, k);
    let a_over_k = lanes::lookup(&INV_A, k);
    let iak = lanes::xor(lanes::lookup(&INV, i), a_over_k);
    let jak = lanes::xor(lanes::lookup(&INV, j), a_over_k);
    let io = lanes::xor(lanes::lookup(&INV, iak), j);
    let jo = lanes::xor(lanes::lookup(&INV, jak), i);
    (io, jo)
}

#[inline(always)]
fn output(tables: &[[u8; 16]; 2], (io, jo): (V, V)) -> V {
    lanes::xor(lanes::lookup(&tables[0], io), lanes::lookup(&tables[1], jo))
}

/// MixColumns from the substituted state `a` times 1, 2 and 3 (all three
/// from tables), plus the round key: `2·a0 + 3·a1 + a2 + a3`, each term one
/// permute away, summed as a tree two XORs deep.
#[inline(always)]
fn mix_columns([single, double, triple]: [V; 3], [by_1, by_2, by_3]: &[V; 3], round_key: V) -> V {
    let near = lanes::xor(lanes::xor(double, round_key), lanes::permute(triple, *by_1));
    let far = lanes::xor(lanes::permute(single, *by_2), lanes::permute(single, *by_3));
    lanes::xor(near, far)
}

/// The S-box on a standard state, for the key schedule.
fn sub_bytes(state: V) -> V {
    let linear = output(&SUB_PLAIN, invert(encode_state(&ENCODE, state)));
    lanes::xor(linear, lanes::splat(AFFINE_CONSTANT))
}

/// What the rounds of one direction of the cipher hold: the round keys in
/// the order the rounds meet them, and the byte orders that carry ShiftRows
/// (see the module doc).
struct Schedule {
    /// The first and the last standard; the middle ones in the rounds'
    /// encoding and permuted like the state they meet.
    round_keys: [V; ROUNDS + 1],
    /// Column rotations by 1, 2 and 3 rows as seen through the carried
    /// ShiftRows^(step·r), for the round numbers r modulo 4.
    rotations: [[V; 3]; 4],
    /// ShiftRows^(step·ROUNDS), which puts the bytes in place after the last
    /// round.
    unshift: V,
}

impl Schedule {
    /// `step` is the power of ShiftRows a round applies: 1 when encrypting,
    /// -1 (InvShiftRows) when decrypting. The middle round keys are given in
    /// the rounds' encoding, in place; this permutes them.
    fn new(step: isize, mut round_keys: [V; ROUNDS + 1]) -> Self {
        // Held as data, not constants the compiler can see: see the module
        // doc (a constant order would become `vpermi2b`).
        let order = |order: Order| lanes::load(&std::hint::black_box(order));
        for (round, round_key) in (1..ROUNDS).zip(&mut round_keys[1..ROUNDS]) {
            let carried = compose(shift_rows(-step * round as isize));
            *round_key = lanes::permute(*round_key, order(carried));
        }
        Self {
            round_keys,
            rotations: std::array::from_fn(|power| {
                [1, 2, 3].map(|rows| order(rotation_seen_through(step * power as isize, rows)))
            }),
            unshift: order(compose(shift_rows(step * ROUNDS as isize))),
        }
    }
}

impl Drop for Schedule {
    /// Wipes the round keys; volatile so the stores are not optimized away.
    fn drop(&mut self) {
        for key in &mut self.round_keys {
            // SAFETY: a valid, aligned, exclusive reference.
            unsafe { std::ptr::write_volatile(key, lanes::splat(0)) };
        }
    }
}

/// An expanded AES-256 key, ready to encrypt.
pub struct Aes256 {
    /// Round 0 standard (it is added before encoding); rounds 1 to 13
    /// encoded, with 0x63 added; round 14 standard, with 0x63.
    schedule: Schedule,
}

impl Aes256 {
    pub fn new(key: &[u8; 32]) -> Self {
        let constant = lanes::splat(AFFINE_CONSTANT);
        let mut round_keys = expand(key);
        for round_key in &mut round_keys[1..ROUNDS] {
            *round_key = encode_state(&ENCODE, lanes::xor(*round_key, constant));
        }
        round_keys[ROUNDS] = lanes::xor(round_keys[ROUNDS], constant);
        Self {
            schedule: Schedule::new(1, round_keys),
        }
    }

    /// The rounds on an encoded state, up to the last round's inverse
    /// (`(io, jo)`), from which `ciphertext` and `encoded_chain` finish.
    #[inline(always)]
    fn rounds(&self, mut state: V) -> (V, V) {
        for round in 1..ROUNDS {
            let inverse = invert(state);
            state = mix_columns(
                SUB_TIMES.each_ref().map(|tables| output(tables, inverse)),
                &self.schedule.rotations[round % 4],
                self.schedule.round_keys[round],
            );
        }
        invert(state)
    }

    /// The last round's output: the ciphertext block.
    #[inline(always)]
    fn ciphertext(&self, inverse: (V, V)) -> V {
        let last = output(&SUB_PLAIN, inverse);
        lanes::xor(
            lanes::permute(last, self.schedule.unshift),
            self.schedule.round_keys[ROUNDS],
        )
    }

    /// The last round's output in the rounds' encoding, without the last
    /// round key: `encode(ciphertext ^ last key)`, the previous block's share
    /// of the next block's encoded state (see `encrypt_cbc`).
    #[inline(always)]
    fn encoded_chain(&self, inverse: (V, V)) -> V {
        lanes::permute(output(&SUB_TIMES[0], inverse), self.schedule.unshift)
    }

    /// Encrypts one block.
    #[cfg(test)]
    fn encrypt(&self, block: V) -> V {
        self.ciphertext(self.rounds(encode_state(
            &ENCODE,
            lanes::xor(block, self.schedule.round_keys[0]),
        )))
    }

    /// CBC over whole blocks in place, chaining from `iv` (updated to the
    /// last ciphertext block).
    ///
    /// A block's state is `encode(plain ^ previous ciphertext ^ first key)`.
    /// `encode` is linear, so that is `encode(plain ^ first key ^ last key)`,
    /// computed beside the chain, XOR `encode(previous ciphertext ^ last
    /// key)`, which the last round gives directly from its tables. So the
    /// chain from one block to the next is one XOR, where encoding the
    /// ciphertext would add five dependent steps.
    pub fn encrypt_cbc(&self, iv: &mut [u8; 16], data: &mut [u8]) {
        let outer_keys = lanes::xor(
            self.schedule.round_keys[0],
            self.schedule.round_keys[ROUNDS],
        );
        let mut ciphertext = lanes::load(iv);
        let mut chain = encode_state(
            &ENCODE,
            lanes::xor(ciphertext, self.schedule.round_keys[ROUNDS]),
        );
        for block in data.chunks_exact_mut(16) {
            let plain = lanes::load(&(*block).try_into().expect("16 bytes"));
            let own = encode_state(&ENCODE, lanes::xor(plain, outer_keys));
            let inverse = self.rounds(lanes::xor(own, chain));
            ciphertext = self.ciphertext(inverse);
            chain = self.encoded_chain(inverse);
            block.copy_from_slice(&lanes::store(ciphertext));
        }
        *iv = lanes::store(ciphertext);
    }
}

/// The AES-256 key schedule (FIPS-197 5.2), in the standard basis, its
/// S-box through the same constant-time computation as the rounds. The
/// byte copies of the schedule are wiped when they go out of scope.
fn expand(key: &[u8; 32]) -> [V; ROUNDS + 1] {
    let mut words = Zeroizing::new([[0u8; 4]; 4 * (ROUNDS + 1)]);
    for (i, word) in key.chunks_exact(4).enumerate() {
        words[i].copy_from_slice(word);
    }
    let sub_word = |word: [u8; 4]| {
        let mut bytes = [0u8; 16];
        bytes[..4].copy_from_slice(&word);
        let out = lanes::store(sub_bytes(lanes::load(&bytes)));
        [out[0], out[1], out[2], out[3]]
    };
    let mut rcon = 1u8;
    for i in 8..words.len() {
        let mut temp = words[i - 1];
        if i % 8 == 0 {
            temp.rotate_left(1);
            temp = sub_word(temp);
            temp[0] ^= rcon;
            rcon = gf256_mul(rcon, 2);
        } else if i % 8 == 4 {
            temp = sub_word(temp);
        }
        for b in 0..4 {
            words[i][b] = words[i - 8][b] ^ temp[b];
        }
    }
    std::array::from_fn(|round| {
        let mut bytes = Zeroizing::new([0u8; 16]);
        for (column, word) in words[4 * round..4 * round + 4].iter().enumerate() {
            bytes[4 * column..4 * column + 4].copy_from_slice(word);
        }
        lanes::load(&bytes)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes::cipher::{BlockEncrypt, KeyInit};

    /// The S-box the textbook way (FIPS-197 5.1.1): the inverse as x^254 in
    /// AES's field, then the affine map. Nothing of the tower field.
    pub(super) fn textbook_sbox(x: u8) -> u8 {
        let mut inverse = 1u8;
        for _ in 0..254 {
            inverse = gf256_mul(inverse, x);
        }
        affine_linear(inverse) ^ 0x63
    }

    pub(super) fn every_byte() -> impl Iterator<Item = [u8; 16]> {
        (0..16).map(|high| std::array::from_fn(|low| (high * 16 + low) as u8))
    }

    /// A reproducible stream of test bytes (xorshift64).
    pub(super) fn xorshift(mut state: u64) -> impl FnMut() -> u8 {
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        }
    }

    #[test]
    fn textbook_sbox_matches_fips_197() {
        let head: Vec<u8> = (0..8).map(textbook_sbox).collect();
        assert_eq!(head, [0x63, 0x7c, 0x77, 0x7b, 0xf2, 0x6b, 0x6f, 0xc5]);
        assert_eq!(textbook_sbox(0x53), 0xed);
        assert_eq!(textbook_sbox(0xff), 0x16);
    }

    #[test]
    fn the_tower_field_is_a_field_isomorphic_to_aes() {
        // λ makes t^2 + t + λ irreducible, and a = 1/λ is not 1 (the
        // formulas divide by 1 + a).
        assert_ne!(A, 1);
        for x in 0..=255u8 {
            for y in 0..=255u8 {
                assert_eq!(
                    to_tower(gf256_mul(x, y)),
                    tower_mul(to_tower(x), to_tower(y)),
                    "{x:#x} * {y:#x}"
                );
            }
            assert_eq!(from_tower(to_tower(x)), x);
        }
    }

    #[test]
    fn the_nibble_sbox_matches_the_textbook_for_every_byte() {
        for bytes in every_byte() {
            let out = lanes::store(sub_bytes(lanes::load(&bytes)));
            for (x, s) in bytes.into_iter().zip(out) {
                assert_eq!(s, textbook_sbox(x), "S({x:#04x})");
            }
        }
    }

    #[test]
    fn the_round_tables_give_the_encoded_sbox_times_1_2_and_3() {
        for bytes in every_byte() {
            let inverse = invert(encode_state(&ENCODE, lanes::load(&bytes)));
            for (coefficient, tables) in (1..=3).zip(&SUB_TIMES) {
                let out = lanes::store(output(tables, inverse));
                for (n, x) in bytes.into_iter().enumerate() {
                    let linear = textbook_sbox(x) ^ 0x63;
                    let expected = encode(gf256_mul(coefficient, linear));
                    assert_eq!(out[n], expected, "{coefficient}·S({x:#04x})");
                }
            }
        }
    }

    #[test]
    fn fips_197_appendix_c3() {
        let key: [u8; 32] = std::array::from_fn(|i| i as u8);
        let plain: [u8; 16] = std::array::from_fn(|i| (i as u8) * 0x11);
        let out = lanes::store(Aes256::new(&key).encrypt(lanes::load(&plain)));
        assert_eq!(hex::encode(out), "8ea2b7ca516745bfeafc49904b496089");
    }

    /// SP 800-38A F.2.5 and F.2.6, CBC-AES256 (the first four blocks).
    pub(super) mod sp_800_38a {
        pub const KEY: &str = "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4";
        pub const PLAIN: &str = "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51\
                                 30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710";
        pub const CIPHER: &str = "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d\
                                  39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b";
        /// The IV is 00 01 .. 0f; after the four blocks the chain holds the
        /// last ciphertext block, both ways.
        pub const IV: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
        pub const LAST_CIPHER: &str = "b2eb05e2c39be9fcda6c19078c6a9d1b";

        pub fn key() -> [u8; 32] {
            hex::decode(KEY).unwrap().try_into().unwrap()
        }
    }

    /// SP 800-38A F.2.5 CBC-AES256.Encrypt.
    #[test]
    fn sp_800_38a_cbc() {
        let mut iv = sp_800_38a::IV;
        let mut data = hex::decode(sp_800_38a::PLAIN).unwrap();
        Aes256::new(&sp_800_38a::key()).encrypt_cbc(&mut iv, &mut data);
        assert_eq!(hex::encode(&data), sp_800_38a::CIPHER);
        assert_eq!(hex::encode(iv), sp_800_38a::LAST_CIPHER);
    }

    /// Against the `aes` crate on many keys and messages.
    #[test]
    fn matches_the_aes_crate() {
        let mut next = xorshift(0x2545_f491_4f6c_dd1d);
        for _ in 0..500 {
            let key: [u8; 32] = std::array::from_fn(|_| next());
            let mut iv: [u8; 16] = std::array::from_fn(|_| next());
            let blocks = usize::from(next() % 8) + 1;
            let mut data: Vec<u8> = (0..16 * blocks).map(|_| next()).collect();
            let mut expected = data.clone();
            let reference = aes::Aes256::new(&key.into());
            let mut chain = iv;
            for block in expected.chunks_exact_mut(16) {
                for (b, c) in block.iter_mut().zip(chain) {
                    *b ^= c;
                }
                let block: &mut [u8; 16] = block.try_into().unwrap();
                reference.encrypt_block(block.into());
                chain = *block;
            }
            Aes256::new(&key).encrypt_cbc(&mut iv, &mut data);
            assert_eq!(data, expected);
            assert_eq!(iv, chain);
        }
    }
}
