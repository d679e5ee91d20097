//! AES-256-CBC with PKCS#7 padding over a stream of arbitrary chunks.
//!
//! The ciphers work on whole blocks; these wrappers carry the partial
//! block between calls and, on the decrypting side, hold back the last block
//! until the end, because only it carries the padding.

use crate::error::Error;

pub const BLOCK: usize = 16;
pub const KEY_LENGTH: usize = 32;

/// CBC over whole blocks, both ways. In the wasm guest: the vector-permute
/// AES of `aes_vperm`, three to four times the `aes` crate's speed there
/// when encrypting (about 2.7 on an idle machine; see the README's Speed
/// section), more when decrypting (several blocks side by side); the
/// `aes-crate` feature switches both back, for comparison. Natively (unit
/// tests): the `aes` crate.
#[cfg(all(target_arch = "wasm32", not(feature = "aes-crate")))]
mod blocks {
    use super::{BLOCK, KEY_LENGTH};
    use crate::aes_vperm::{Aes256, Aes256Decryptor};

    pub struct Encrypting {
        aes: Aes256,
        chain: [u8; BLOCK],
    }

    impl Encrypting {
        pub fn new(key: &[u8; KEY_LENGTH], iv: &[u8; BLOCK]) -> Self {
            Self {
                aes: Aes256::new(key),
                chain: *iv,
            }
        }

        pub fn encrypt(&mut self, blocks: &mut [u8]) {
            self.aes.encrypt_cbc(&mut self.chain, blocks);
        }
    }

    pub struct Decrypting {
        aes: Aes256Decryptor,
        chain: [u8; BLOCK],
    }

    impl Decrypting {
        pub fn new(key: &[u8; KEY_LENGTH], iv: &[u8; BLOCK]) -> Self {
            Self {
                aes: Aes256Decryptor::new(key),
                chain: *iv,
            }
        }

        pub fn decrypt(&mut self, blocks: &mut [u8]) {
            self.aes.decrypt_cbc(&mut self.chain, blocks);
        }
    }
}

#[cfg(not(all(target_arch = "wasm32", not(feature = "aes-crate"))))]
mod blocks {
    use super::{BLOCK, KEY_LENGTH};
    use aes::Aes256;
    use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit, generic_array::GenericArray};

    type Block = GenericArray<u8, cbc::cipher::consts::U16>;

    fn as_blocks(bytes: &mut [u8]) -> &mut [Block] {
        assert_eq!(bytes.len() % BLOCK, 0);
        // SAFETY: `GenericArray<u8, U16>` is `repr(transparent)` over
        // `[u8; 16]`, which has alignment 1, and the length is a whole
        // number of blocks.
        unsafe { std::slice::from_raw_parts_mut(bytes.as_mut_ptr().cast(), bytes.len() / BLOCK) }
    }

    pub struct Encrypting(cbc::Encryptor<Aes256>);

    impl Encrypting {
        pub fn new(key: &[u8; KEY_LENGTH], iv: &[u8; BLOCK]) -> Self {
            Self(cbc::Encryptor::new(key.into(), iv.into()))
        }

        pub fn encrypt(&mut self, blocks: &mut [u8]) {
            self.0.encrypt_blocks_mut(as_blocks(blocks));
        }
    }

    pub struct Decrypting(cbc::Decryptor<Aes256>);

    impl Decrypting {
        pub fn new(key: &[u8; KEY_LENGTH], iv: &[u8; BLOCK]) -> Self {
            Self(cbc::Decryptor::new(key.into(), iv.into()))
        }

        pub fn decrypt(&mut self, blocks: &mut [u8]) {
            self.0.decrypt_blocks_mut(as_blocks(blocks));
        }
    }
}

pub struct Encryptor {
    cipher: blocks::Encrypting,
    partial: Vec<u8>,
}

impl Encryptor {
    pub fn new(key: &[u8; KEY_LENGTH], iv: &[u8; BLOCK]) -> Self {
        Self {
            cipher: blocks::Encrypting::new(key, iv),
            partial: Vec::with_capacity(BLOCK),
        }
    }

    /// Appends the ciphertext of every block completed by `data` to `out`.
    pub fn update(&mut self, data: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        let available = self.partial.len() + data.len();
        let whole = available - available % BLOCK;
        let from_data = whole.saturating_sub(self.partial.len());
        if whole > 0 {
            out.append(&mut self.partial);
            out.extend_from_slice(&data[..from_data]);
            self.cipher.encrypt(&mut out[start..]);
        }
        self.partial.extend_from_slice(&data[from_data..]);
    }

    /// Pads (PKCS#7: always 1 to 16 bytes) and appends the last block.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        let pad = BLOCK - self.partial.len();
        self.partial.resize(BLOCK, pad as u8);
        let start = out.len();
        out.append(&mut self.partial);
        self.cipher.encrypt(&mut out[start..]);
    }
}

pub struct Decryptor {
    cipher: blocks::Decrypting,
    /// Ciphertext not yet decrypted: a partial block, or the last whole block
    /// seen so far (which may be the padded one).
    held: Vec<u8>,
}

impl Decryptor {
    pub fn new(key: &[u8; KEY_LENGTH], iv: &[u8; BLOCK]) -> Self {
        Self {
            cipher: blocks::Decrypting::new(key, iv),
            held: Vec::with_capacity(2 * BLOCK),
        }
    }

    /// Appends the plaintext of every block that cannot be the last to `out`.
    pub fn update(&mut self, data: &[u8], out: &mut Vec<u8>) {
        self.held.extend_from_slice(data);
        let ready = match self.held.len() {
            0 => 0,
            // Keep at least one whole block (or the partial tail) back.
            n if n % BLOCK == 0 => n - BLOCK,
            n => n - n % BLOCK,
        };
        if ready > 0 {
            let start = out.len();
            out.extend(self.held.drain(..ready));
            self.cipher.decrypt(&mut out[start..]);
        }
    }

    /// Decrypts the held block and strips the padding. The caller has checked
    /// that the ciphertext was a whole, non-zero number of blocks.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), Error> {
        if self.held.len() != BLOCK {
            return Err(Error::BadPadding);
        }
        self.cipher.decrypt(&mut self.held);
        let pad = self.held[BLOCK - 1];
        let valid = (1..=BLOCK as u8).contains(&pad)
            && self.held[BLOCK - usize::from(pad)..]
                .iter()
                .all(|&b| b == pad);
        if !valid {
            return Err(Error::BadPadding);
        }
        out.extend_from_slice(&self.held[..BLOCK - usize::from(pad)]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // SP 800-38A F.2.5 CBC-AES256.Encrypt: an independent known answer.
    const KEY: &str = "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4";
    const IV: &str = "000102030405060708090a0b0c0d0e0f";
    const PLAIN: &str = "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51\
                         30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710";
    const CIPHER: &str = "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d\
                          39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b";

    fn key_iv() -> ([u8; 32], [u8; 16]) {
        (
            hex::decode(KEY).unwrap().try_into().unwrap(),
            hex::decode(IV).unwrap().try_into().unwrap(),
        )
    }

    #[test]
    fn matches_sp800_38a_in_any_chunking() {
        let (key, iv) = key_iv();
        let plain = hex::decode(PLAIN).unwrap();
        for chunk in [1, 7, 16, 17, 64] {
            let mut enc = Encryptor::new(&key, &iv);
            let mut out = Vec::new();
            for piece in plain.chunks(chunk) {
                enc.update(piece, &mut out);
            }
            assert_eq!(hex::encode(&out), CIPHER, "chunk {chunk}");
            enc.finish(&mut out);
            assert_eq!(out.len(), plain.len() + BLOCK, "a whole padding block");

            let mut dec = Decryptor::new(&key, &iv);
            let mut back = Vec::new();
            for piece in out.chunks(chunk) {
                dec.update(piece, &mut back);
            }
            dec.finish(&mut back).unwrap();
            assert_eq!(back, plain);
        }
    }

    #[test]
    fn wrong_key_fails_the_padding_check() {
        let (key, iv) = key_iv();
        let mut out = Vec::new();
        let mut enc = Encryptor::new(&key, &iv);
        enc.update(b"some plaintext", &mut out);
        enc.finish(&mut out);
        let mut wrong = key;
        wrong[0] ^= 1;
        let mut dec = Decryptor::new(&wrong, &iv);
        let mut back = Vec::new();
        dec.update(&out, &mut back);
        assert_eq!(dec.finish(&mut back), Err(Error::BadPadding));
    }
}
