//! The sealing guest's stages one at a time (see `wit/stages.wit`).
//!
//! Bad arguments panic (a trap for the host): this serves the benchmark only,
//! which always passes a 32-byte key, a 16-byte IV and whole blocks.
#![cfg(target_arch = "wasm32")]

use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit, generic_array::GenericArray};
use publish_artifact_guest::aes_vperm::{Aes256, Aes256Decryptor};
use sha2::{Digest, Sha256};

wit_bindgen::generate!({
    path: "wit",
    world: "stages",
});

struct Stages;

export!(Stages);

fn key_and_iv(key: &[u8], iv: &[u8]) -> ([u8; 32], [u8; 16]) {
    (
        key.try_into().expect("a 32-byte key"),
        iv.try_into().expect("a 16-byte IV"),
    )
}

impl Guest for Stages {
    fn encrypt_vperm(key: Vec<u8>, iv: Vec<u8>, mut blocks: Vec<u8>) -> Vec<u8> {
        let (key, mut iv) = key_and_iv(&key, &iv);
        assert_eq!(blocks.len() % 16, 0, "whole blocks");
        Aes256::new(&key).encrypt_cbc(&mut iv, &mut blocks);
        blocks
    }

    fn encrypt_aes_crate(key: Vec<u8>, iv: Vec<u8>, mut blocks: Vec<u8>) -> Vec<u8> {
        let (key, iv) = key_and_iv(&key, &iv);
        assert_eq!(blocks.len() % 16, 0, "whole blocks");
        let mut cipher = cbc::Encryptor::<aes::Aes256>::new(&key.into(), &iv.into());
        for block in blocks.chunks_exact_mut(16) {
            cipher.encrypt_block_mut(GenericArray::from_mut_slice(block));
        }
        blocks
    }

    fn decrypt_vperm(key: Vec<u8>, iv: Vec<u8>, mut blocks: Vec<u8>) -> Vec<u8> {
        let (key, mut iv) = key_and_iv(&key, &iv);
        assert_eq!(blocks.len() % 16, 0, "whole blocks");
        Aes256Decryptor::new(&key).decrypt_cbc(&mut iv, &mut blocks);
        blocks
    }

    fn decrypt_aes_crate(key: Vec<u8>, iv: Vec<u8>, blocks: Vec<u8>) -> Vec<u8> {
        let (key, iv) = key_and_iv(&key, &iv);
        assert_eq!(blocks.len() % 16, 0, "whole blocks");
        let mut cipher = cbc::Decryptor::<aes::Aes256>::new(&key.into(), &iv.into());
        // All blocks in one call, as the guest's open did: the `aes` crate's
        // bitsliced backend then decrypts several at once.
        let mut whole: Vec<_> = blocks
            .chunks_exact(16)
            .map(|block| *GenericArray::from_slice(block))
            .collect();
        cipher.decrypt_blocks_mut(&mut whole);
        whole.concat()
    }

    fn sha256(data: Vec<u8>) -> Vec<u8> {
        Sha256::digest(&data).to_vec()
    }
}
