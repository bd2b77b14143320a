//! The deterministic generator of the direct-message vectors, shared by
//! `examples/gen_dm_vectors.rs` and `tests/dm_vectors.rs`.

use sha2::{Digest, Sha256};

/// A deterministic generator: `sha256(seed ‖ counter)` blocks. For vectors
/// only; never for real keys.
pub(crate) struct VectorRng {
    seed: [u8; 32],
    counter: u64,
    buf: Vec<u8>,
}

impl VectorRng {
    pub(crate) fn new(label: &str) -> Self {
        VectorRng {
            seed: Sha256::digest(label.as_bytes()).into(),
            counter: 0,
            buf: Vec::new(),
        }
    }
}

impl rand_core::RngCore for VectorRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for d in dest {
            if self.buf.is_empty() {
                let mut h = Sha256::new();
                h.update(self.seed);
                h.update(self.counter.to_be_bytes());
                self.counter += 1;
                self.buf = h.finalize().to_vec();
            }
            *d = self.buf.remove(0);
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl rand_core::CryptoRng for VectorRng {}
