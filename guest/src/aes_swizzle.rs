//! AES-256 encryption without secret-indexed memory, for wasm `simd128`.
//!
//! The `aes` crate's portable backend is constant-time but bitsliced for
//! several blocks at once; CBC encryption has one block in flight, so it
//! wastes most of that work (36 MiB/s inside wasm). Here the state is one
//! 128-bit vector and the S-box is sixteen 16-byte tables read with
//! `i8x16.swizzle`: for table `h`, the index `x - 16h` is the low nibble
//! when the high nibble of `x` is `h` and 16 or more otherwise, which
//! swizzle turns into 0. Every table is read for every byte, always in the
//! same way; the only thing that depends on the key or the data is which
//! lanes come out non-zero. ShiftRows and the column rotations of
//! MixColumns are swizzles with constant indices.
//!
//! The algorithm is written once against a tiny vector API (`lanes`) with
//! two backends: wasm `simd128`, which the guest uses, and plain arrays for
//! native unit tests (not constant-time; never used outside tests).

/// The AES S-box, computed: multiplicative inverse in GF(2^8) modulo
/// x^8 + x^4 + x^3 + x + 1, then the affine map with constant 0x63.
const SBOX: [u8; 256] = {
    const fn mul(mut a: u8, mut b: u8) -> u8 {
        let mut product = 0;
        while b != 0 {
            if b & 1 != 0 {
                product ^= a;
            }
            let carry = a & 0x80;
            a <<= 1;
            if carry != 0 {
                a ^= 0x1b;
            }
            b >>= 1;
        }
        product
    }
    let mut sbox = [0u8; 256];
    let mut x = 0;
    while x < 256 {
        // x^254 is the inverse (and 0 for 0).
        let mut inverse = 1u8;
        let mut i = 0;
        while i < 254 {
            inverse = mul(inverse, x as u8);
            i += 1;
        }
        if x == 0 {
            inverse = 0;
        }
        let b = inverse;
        sbox[x] =
            b ^ b.rotate_left(1) ^ b.rotate_left(2) ^ b.rotate_left(3) ^ b.rotate_left(4) ^ 0x63;
        x += 1;
    }
    sbox
};

const ROUNDS: usize = 14;
/// ShiftRows in AES's column-major byte order: byte (row r, column c) takes
/// the byte at (r, c + r).
const SHIFT_ROWS: [u8; 16] = [0, 5, 10, 15, 4, 9, 14, 3, 8, 13, 2, 7, 12, 1, 6, 11];
/// Each column rotated up by one row.
const ROTATE_1: [u8; 16] = [1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12];
const ROTATE_2: [u8; 16] = [2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13];
const ROTATE_3: [u8; 16] = [3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14];

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

    pub fn or(a: V, b: V) -> V {
        v128_or(a, b)
    }

    pub fn sub(a: V, b: V) -> V {
        i8x16_sub(a, b)
    }

    /// `table[index]` per lane, 0 where the index is 16 or more.
    pub fn swizzle(table: V, index: V) -> V {
        i8x16_swizzle(table, index)
    }

    pub fn shl1(a: V) -> V {
        i8x16_shl(a, 1)
    }

    /// 0xff in lanes whose top bit is set, 0 elsewhere.
    pub fn top_bit_mask(a: V) -> V {
        i8x16_shr(a, 7)
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

    fn map(a: V, b: V, f: impl Fn(u8, u8) -> u8) -> V {
        std::array::from_fn(|i| f(a[i], b[i]))
    }

    pub fn xor(a: V, b: V) -> V {
        map(a, b, |x, y| x ^ y)
    }

    pub fn and(a: V, b: V) -> V {
        map(a, b, |x, y| x & y)
    }

    pub fn or(a: V, b: V) -> V {
        map(a, b, |x, y| x | y)
    }

    pub fn sub(a: V, b: V) -> V {
        map(a, b, u8::wrapping_sub)
    }

    pub fn swizzle(table: V, index: V) -> V {
        index.map(|i| if i < 16 { table[usize::from(i)] } else { 0 })
    }

    pub fn shl1(a: V) -> V {
        a.map(|x| x << 1)
    }

    pub fn top_bit_mask(a: V) -> V {
        a.map(|x| if x & 0x80 != 0 { 0xff } else { 0 })
    }
}

use lanes::V;

/// An expanded AES-256 key and the S-box tables, ready to encrypt.
pub struct Aes256 {
    round_keys: [V; ROUNDS + 1],
    tables: [V; 16],
    shift_rows: V,
    rotations: [V; 3],
}

impl Aes256 {
    pub fn new(key: &[u8; 32]) -> Self {
        let tables = std::array::from_fn(|h| {
            lanes::load(SBOX[16 * h..16 * h + 16].try_into().expect("16 bytes"))
        });
        let mut aes = Self {
            round_keys: [lanes::splat(0); ROUNDS + 1],
            tables,
            shift_rows: lanes::load(&SHIFT_ROWS),
            rotations: [
                lanes::load(&ROTATE_1),
                lanes::load(&ROTATE_2),
                lanes::load(&ROTATE_3),
            ],
        };
        aes.expand(key);
        aes
    }

    /// The AES-256 key schedule (FIPS-197 5.2), its S-box through the same
    /// constant-time lookup as the rounds.
    fn expand(&mut self, key: &[u8; 32]) {
        let mut words = [[0u8; 4]; 4 * (ROUNDS + 1)];
        for (i, word) in key.chunks_exact(4).enumerate() {
            words[i].copy_from_slice(word);
        }
        let mut rcon = 1u8;
        for i in 8..words.len() {
            let mut temp = words[i - 1];
            if i % 8 == 0 {
                temp.rotate_left(1);
                temp = self.sub_word(temp);
                temp[0] ^= rcon;
                rcon = (rcon << 1) ^ if rcon & 0x80 != 0 { 0x1b } else { 0 };
            } else if i % 8 == 4 {
                temp = self.sub_word(temp);
            }
            for b in 0..4 {
                words[i][b] = words[i - 8][b] ^ temp[b];
            }
        }
        for (round, keys) in words.chunks_exact(4).enumerate() {
            let mut bytes = [0u8; 16];
            for (column, word) in keys.iter().enumerate() {
                bytes[4 * column..4 * column + 4].copy_from_slice(word);
            }
            self.round_keys[round] = lanes::load(&bytes);
        }
    }

    fn sub_word(&self, word: [u8; 4]) -> [u8; 4] {
        let mut bytes = [0u8; 16];
        bytes[..4].copy_from_slice(&word);
        let out = lanes::store(self.sub_bytes(lanes::load(&bytes)));
        [out[0], out[1], out[2], out[3]]
    }

    /// For table `h` the index is `x - 16h` (wrapping): the low nibble when
    /// the high nibble is `h`, 16 or more (so swizzle gives 0) otherwise.
    #[inline(always)]
    fn sub_bytes(&self, state: V) -> V {
        let sixteen = lanes::splat(16);
        let mut index = state;
        let mut out = lanes::splat(0);
        for table in &self.tables {
            out = lanes::or(out, lanes::swizzle(*table, index));
            index = lanes::sub(index, sixteen);
        }
        out
    }

    #[inline(always)]
    fn mix_columns(&self, s: V) -> V {
        let r1 = lanes::swizzle(s, self.rotations[0]);
        let r2 = lanes::swizzle(s, self.rotations[1]);
        let r3 = lanes::swizzle(s, self.rotations[2]);
        // 2·a0 + 3·a1 + a2 + a3 = xtime(a0 + a1) + a1 + a2 + a3
        let t = lanes::xor(s, r1);
        let xtime = lanes::xor(
            lanes::shl1(t),
            lanes::and(lanes::top_bit_mask(t), lanes::splat(0x1b)),
        );
        lanes::xor(lanes::xor(xtime, r1), lanes::xor(r2, r3))
    }

    /// Encrypts one block.
    #[inline(always)]
    pub fn encrypt(&self, block: V) -> V {
        let mut state = lanes::xor(block, self.round_keys[0]);
        for round in 1..ROUNDS {
            state = lanes::swizzle(self.sub_bytes(state), self.shift_rows);
            state = lanes::xor(self.mix_columns(state), self.round_keys[round]);
        }
        state = lanes::swizzle(self.sub_bytes(state), self.shift_rows);
        lanes::xor(state, self.round_keys[ROUNDS])
    }

    /// CBC over whole blocks in place, chaining from `iv` (updated to the
    /// last ciphertext block).
    pub fn encrypt_cbc(&self, iv: &mut [u8; 16], data: &mut [u8]) {
        let mut chain = lanes::load(iv);
        for block in data.chunks_exact_mut(16) {
            let plain = lanes::load(&(*block).try_into().expect("16 bytes"));
            chain = self.encrypt(lanes::xor(plain, chain));
            block.copy_from_slice(&lanes::store(chain));
        }
        *iv = lanes::store(chain);
    }
}

impl Drop for Aes256 {
    /// Wipes the round keys; volatile so the stores are not optimized away.
    fn drop(&mut self) {
        for key in &mut self.round_keys {
            // SAFETY: a valid, aligned, exclusive reference.
            unsafe { std::ptr::write_volatile(key, lanes::splat(0)) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes::cipher::{BlockEncrypt, KeyInit};

    #[test]
    fn sbox_matches_fips_197() {
        assert_eq!(
            &SBOX[..8],
            &[0x63, 0x7c, 0x77, 0x7b, 0xf2, 0x6b, 0x6f, 0xc5]
        );
        assert_eq!(SBOX[0x53], 0xed);
        assert_eq!(SBOX[0xff], 0x16);
    }

    #[test]
    fn fips_197_appendix_c3() {
        let key: [u8; 32] = std::array::from_fn(|i| i as u8);
        let plain: [u8; 16] = std::array::from_fn(|i| (i as u8) * 0x11);
        let out = lanes::store(Aes256::new(&key).encrypt(lanes::load(&plain)));
        assert_eq!(hex::encode(out), "8ea2b7ca516745bfeafc49904b496089");
    }

    /// Against the `aes` crate on many keys and messages.
    #[test]
    fn matches_the_aes_crate() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        };
        for _ in 0..200 {
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
