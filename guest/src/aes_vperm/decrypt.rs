//! AES-256 decryption by the same vector permutes, several blocks at a time.
//!
//! InvSubBytes is `(L⁻¹(y ^ 0x63))⁻¹`, `L` the linear part of AES's affine
//! map: the same inversion as the S-box, entered through another encoding
//! (`encode_for_decryption`: `L⁻¹`, then the tower field's). So the rounds
//! are the encryptor's with other tables, in the order of FIPS-197's
//! equivalent inverse cipher (5.3.5): InvSubBytes, InvShiftRows (carried, as
//! ShiftRows is when encrypting), InvMixColumns, and a round key that went
//! through InvMixColumns when the key was expanded. InvMixColumns is
//! `14·a0 + 11·a1 + 13·a2 + 9·a3`: four pairs of output tables give the
//! inverse times 14, 11, 13 and 9 in the encoding the next round expects,
//! and three permutes line the terms up, summed as a tree. A round is 16
//! shuffles, two more than an encryption round.
//!
//! CBC decryption has no chain: block n's plaintext is `D(c_n) ^ c_(n-1)`,
//! and every `D(c_n)` can be computed at once. So `decrypt_cbc` takes
//! `LANES` blocks through each round together: the dependent chain of a
//! round, which sets the encryptor's pace, overlaps with the other blocks',
//! and the pace is set by the throughput of the vector units instead.
//! Measured in the guest (the stage bench, a busy 2-core machine, each run
//! interleaved with the encryptor): 2 lanes decrypted at 1.37 times the
//! encryptor's speed, 4 at 1.42, 8 at 1.43. That the gain stops at 2 lanes
//! points at throughput (16 shuffles, about 20 other vector instructions
//! and the table loads per block and round, on a machine whose other
//! tenants share the cores), not latency, as the bound; not profiled.

use super::{
    AFFINE_CONSTANT, Encoding, Output, ROUNDS, Schedule, V, encode_state, expand, gf256_mul,
    invert, lanes, output, output_tables,
};
use zeroize::Zeroizing;

/// Blocks decrypted side by side: enough independent chains to keep the
/// vector units busy (see the module doc for what 2, 4 and 8 gave).
const LANES: usize = 4;

const ENCODE_FOR_DECRYPTION: [[u8; 16]; 2] = Encoding::Decryption.nibble_tables();
/// InvSubBytes in the standard basis: the last round.
const INV_SUB_PLAIN: [[u8; 16]; 2] = output_tables(Output::Inverse);
/// InvSubBytes of a middle round times InvMixColumns' coefficients for the
/// byte itself and the bytes one, two and three rows below it.
const INV_SUB_TIMES: [[[u8; 16]; 2]; 4] = [
    output_tables(Output::InverseEncoded(14)),
    output_tables(Output::InverseEncoded(11)),
    output_tables(Output::InverseEncoded(13)),
    output_tables(Output::InverseEncoded(9)),
];

/// InvMixColumns of a standard state, byte by byte (`gf256_mul` has no
/// branch on its operands): for the round keys.
fn inv_mix_columns(state: &mut [u8; 16]) {
    for column in state.chunks_exact_mut(4) {
        let bytes = Zeroizing::new([column[0], column[1], column[2], column[3]]);
        for (row, out) in column.iter_mut().enumerate() {
            let below = |rows: usize| bytes[(row + rows) % 4];
            *out = gf256_mul(below(0), 14)
                ^ gf256_mul(below(1), 11)
                ^ gf256_mul(below(2), 13)
                ^ gf256_mul(below(3), 9);
        }
    }
}

/// InvMixColumns from the inverted state times 14, 11, 13 and 9 (from
/// tables), plus the round key: each term one permute away, summed as a
/// tree two XORs deep.
#[inline(always)]
fn inv_mix_columns_encoded(
    [by_14, by_11, by_13, by_9]: [V; 4],
    [by_1, by_2, by_3]: &[V; 3],
    round_key: V,
) -> V {
    let near = lanes::xor(lanes::xor(by_14, round_key), lanes::permute(by_11, *by_1));
    let far = lanes::xor(lanes::permute(by_13, *by_2), lanes::permute(by_9, *by_3));
    lanes::xor(near, far)
}

/// An expanded AES-256 key, ready to decrypt.
pub struct Aes256Decryptor {
    /// In the order decryption meets them: the last round key of encryption
    /// with 0x63 (added before encoding), the middle ones through
    /// InvMixColumns, with 0x63, in the decryption encoding, and the first
    /// round key of encryption, standard.
    schedule: Schedule,
}

impl Aes256Decryptor {
    pub fn new(key: &[u8; 32]) -> Self {
        let constant = lanes::splat(AFFINE_CONSTANT);
        let mut round_keys = expand(key);
        round_keys.reverse();
        round_keys[0] = lanes::xor(round_keys[0], constant);
        for round_key in &mut round_keys[1..ROUNDS] {
            let mut bytes = Zeroizing::new(lanes::store(*round_key));
            inv_mix_columns(&mut bytes);
            let mixed = lanes::xor(lanes::load(&bytes), constant);
            *round_key = encode_state(&ENCODE_FOR_DECRYPTION, mixed);
        }
        Self {
            schedule: Schedule::new(-1, round_keys),
        }
    }

    /// Decrypts `N` blocks side by side, each step on every block before the
    /// next step (no CBC here).
    #[inline(always)]
    fn decrypt<const N: usize>(&self, ciphertext: [V; N]) -> [V; N] {
        let Schedule {
            round_keys,
            rotations,
            unshift,
        } = &self.schedule;
        let mut state = ciphertext
            .map(|block| encode_state(&ENCODE_FOR_DECRYPTION, lanes::xor(block, round_keys[0])));
        for round in 1..ROUNDS {
            let inverse = state.map(invert);
            state = inverse.map(|inverse| {
                inv_mix_columns_encoded(
                    INV_SUB_TIMES
                        .each_ref()
                        .map(|tables| output(tables, inverse)),
                    &rotations[round % 4],
                    round_keys[round],
                )
            });
        }
        state.map(|state| {
            let last = output(&INV_SUB_PLAIN, invert(state));
            lanes::xor(lanes::permute(last, *unshift), round_keys[ROUNDS])
        })
    }

    /// CBC over `N` whole blocks in place, the first chaining from
    /// `previous`; returns the last ciphertext block.
    #[inline(always)]
    fn decrypt_cbc_group<const N: usize>(&self, previous: V, blocks: &mut [u8]) -> V {
        let block =
            |n: usize| -> &[u8; 16] { blocks[16 * n..16 * n + 16].try_into().expect("16 bytes") };
        let ciphertext: [V; N] = std::array::from_fn(|n| lanes::load(block(n)));
        let decrypted = self.decrypt(ciphertext);
        for (n, (out, decrypted)) in blocks.chunks_exact_mut(16).zip(decrypted).enumerate() {
            let chain = if n == 0 { previous } else { ciphertext[n - 1] };
            out.copy_from_slice(&lanes::store(lanes::xor(decrypted, chain)));
        }
        ciphertext[N - 1]
    }

    /// CBC over whole blocks in place (a partial block at the end is left
    /// alone), chaining from `iv` (updated to the last ciphertext block):
    /// `LANES` blocks at a time, then the rest one by one.
    pub fn decrypt_cbc(&self, iv: &mut [u8; 16], data: &mut [u8]) {
        let whole = data.len() / 16 * 16;
        let mut groups = data[..whole].chunks_exact_mut(16 * LANES);
        let mut previous = lanes::load(iv);
        for group in &mut groups {
            previous = self.decrypt_cbc_group::<LANES>(previous, group);
        }
        for block in groups.into_remainder().chunks_exact_mut(16) {
            previous = self.decrypt_cbc_group::<1>(previous, block);
        }
        *iv = lanes::store(previous);
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{every_byte, sp_800_38a, textbook_sbox, xorshift};
    use super::super::{affine_linear, encode_for_decryption};
    use super::*;
    use aes::cipher::{BlockDecrypt, KeyInit};

    fn textbook_inverse_sbox(y: u8) -> u8 {
        (0..=255).find(|&x| textbook_sbox(x) == y).unwrap()
    }

    #[test]
    fn inverse_affine_linear_inverts_affine_linear() {
        for x in 0..=255u8 {
            assert_eq!(super::super::inverse_affine_linear(affine_linear(x)), x);
        }
    }

    #[test]
    fn the_nibble_inverse_sbox_matches_the_textbook_for_every_byte() {
        let constant = lanes::splat(AFFINE_CONSTANT);
        for bytes in every_byte() {
            let state = encode_state(
                &ENCODE_FOR_DECRYPTION,
                lanes::xor(lanes::load(&bytes), constant),
            );
            let out = lanes::store(output(&INV_SUB_PLAIN, invert(state)));
            for (y, x) in bytes.into_iter().zip(out) {
                assert_eq!(x, textbook_inverse_sbox(y), "S⁻¹({y:#04x})");
            }
        }
    }

    #[test]
    fn the_round_tables_give_the_encoded_inverse_sbox_times_14_11_13_and_9() {
        let constant = lanes::splat(AFFINE_CONSTANT);
        for bytes in every_byte() {
            let state = encode_state(
                &ENCODE_FOR_DECRYPTION,
                lanes::xor(lanes::load(&bytes), constant),
            );
            let inverse = invert(state);
            for (coefficient, tables) in [14, 11, 13, 9].into_iter().zip(&INV_SUB_TIMES) {
                let out = lanes::store(output(tables, inverse));
                for (n, y) in bytes.into_iter().enumerate() {
                    let expected =
                        encode_for_decryption(gf256_mul(coefficient, textbook_inverse_sbox(y)));
                    assert_eq!(out[n], expected, "{coefficient}·S⁻¹({y:#04x})");
                }
            }
        }
    }

    #[test]
    fn fips_197_appendix_c3_inverse_cipher() {
        let key: [u8; 32] = std::array::from_fn(|i| i as u8);
        let cipher = hex::decode("8ea2b7ca516745bfeafc49904b496089").unwrap();
        let [out] = Aes256Decryptor::new(&key).decrypt([lanes::load(&cipher.try_into().unwrap())]);
        assert_eq!(
            hex::encode(lanes::store(out)),
            "00112233445566778899aabbccddeeff"
        );
    }

    /// SP 800-38A F.2.6 CBC-AES256.Decrypt.
    #[test]
    fn sp_800_38a_cbc() {
        let mut iv = sp_800_38a::IV;
        let mut data = hex::decode(sp_800_38a::CIPHER).unwrap();
        Aes256Decryptor::new(&sp_800_38a::key()).decrypt_cbc(&mut iv, &mut data);
        assert_eq!(hex::encode(&data), sp_800_38a::PLAIN);
        assert_eq!(hex::encode(iv), sp_800_38a::LAST_CIPHER);
    }

    /// Against the `aes` crate on many keys and messages, of lengths around
    /// the lane groups, decrypted in one call or cut in two at a block
    /// boundary (the chain carried through `iv`).
    #[test]
    fn matches_the_aes_crate() {
        let mut next = xorshift(0x9e37_79b9_7f4a_7c15);
        for _ in 0..500 {
            let key: [u8; 32] = std::array::from_fn(|_| next());
            let iv: [u8; 16] = std::array::from_fn(|_| next());
            let blocks = usize::from(next()) % (3 * LANES + 2) + 1;
            let ciphertext: Vec<u8> = (0..16 * blocks).map(|_| next()).collect();
            let reference = aes::Aes256::new(&key.into());
            let mut expected = ciphertext.clone();
            let mut chain = iv;
            for block in expected.chunks_exact_mut(16) {
                let block: &mut [u8; 16] = block.try_into().unwrap();
                let this = *block;
                reference.decrypt_block(block.into());
                for (b, c) in block.iter_mut().zip(chain) {
                    *b ^= c;
                }
                chain = this;
            }
            let decryptor = Aes256Decryptor::new(&key);
            let cut = 16 * (usize::from(next()) % (blocks + 1));
            let mut data = ciphertext.clone();
            let mut running_iv = iv;
            let (head, tail) = data.split_at_mut(cut);
            decryptor.decrypt_cbc(&mut running_iv, head);
            decryptor.decrypt_cbc(&mut running_iv, tail);
            assert_eq!(data, expected, "{blocks} blocks cut at {cut}");
            assert_eq!(running_iv, chain);
        }
    }
}
