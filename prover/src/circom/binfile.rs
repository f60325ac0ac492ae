//! iden3's binary container (`.r1cs`, `.wtns`, `.zkey`): a 4-byte magic, a `u32` version,
//! a `u32` section count, then sections `(u32 id, u64 length, bytes)`; integers little-endian.
//! The reader never trusts a length: every section must lie inside the file, every read
//! inside its section, and a caller states the exact size it expects before reading.

use ark_bn254::{Fq, Fq2, Fr, G1Affine, G2Affine};
use ark_ec::AffineRepr;
use ark_ff::{BigInt, BigInteger, PrimeField};

/// A decoding failure with the byte offset, for [`crate::ProverError::Format`].
pub type Bad = String;

/// A parsed container: its version and the byte range of each section.
pub struct BinFile<'a> {
    /// Format version.
    pub version: u32,
    sections: Vec<(u32, usize, &'a [u8])>,
}

impl<'a> BinFile<'a> {
    /// Splits `bytes` into sections (at most `max_sections`; each id at most once).
    pub fn parse(bytes: &'a [u8], magic: &[u8; 4], max_sections: u32) -> Result<Self, Bad> {
        let mut c = Cursor::new(bytes, 0);
        if c.take(4)? != magic {
            return Err(format!(
                "does not start with {:?}",
                String::from_utf8_lossy(magic)
            ));
        }
        let version = c.u32()?;
        let n = c.u32()?;
        if n > max_sections {
            return Err(format!("{n} sections (at most {max_sections})"));
        }
        let mut sections: Vec<(u32, usize, &[u8])> = Vec::new();
        for _ in 0..n {
            let id = c.u32()?;
            let len =
                usize::try_from(c.u64()?).map_err(|_| "section length overflows".to_string())?;
            let at = c.pos;
            let body = c.take(len).map_err(|_| {
                format!("section {id} at byte {at} claims {len} bytes, past the end of the file")
            })?;
            if sections.iter().any(|(i, _, _)| *i == id) {
                return Err(format!("section {id} appears twice"));
            }
            sections.push((id, at, body));
        }
        if c.pos != bytes.len() {
            return Err(format!(
                "{} trailing bytes after the last section",
                bytes.len() - c.pos
            ));
        }
        Ok(Self { version, sections })
    }

    /// Whether section `id` is there.
    pub fn has_section(&self, id: u32) -> bool {
        self.sections.iter().any(|(i, _, _)| *i == id)
    }

    /// The section ids, in file order.
    pub fn ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.sections.iter().map(|(i, _, _)| *i)
    }

    /// Section `id`, which must be there, as a cursor.
    pub fn section(&self, id: u32) -> Result<Cursor<'a>, Bad> {
        self.sections
            .iter()
            .find(|(i, _, _)| *i == id)
            .map(|(_, at, b)| Cursor::new(b, *at))
            .ok_or_else(|| format!("section {id} is missing"))
    }

    /// Section `id`, which must be exactly `len` bytes long.
    pub fn section_sized(&self, id: u32, len: usize) -> Result<Cursor<'a>, Bad> {
        let c = self.section(id)?;
        if c.buf.len() != len {
            return Err(format!(
                "section {id} is {} bytes; this circuit's is {len}",
                c.buf.len()
            ));
        }
        Ok(c)
    }
}

/// Bounded reads inside one section.
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Cursor<'a> {
    fn new(buf: &'a [u8], base: usize) -> Self {
        Self { buf, pos: 0, base }
    }

    /// A cursor over `buf`, which starts at byte `base` of its file.
    pub fn at(buf: &'a [u8], base: usize) -> Self {
        Self::new(buf, base)
    }

    /// The unread bytes and the file offset where they start.
    pub fn rest(&self) -> (usize, &'a [u8]) {
        (self.base + self.pos, &self.buf[self.pos..])
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], Bad> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len());
        let end = end.ok_or_else(|| format!("truncated at byte {}", self.base + self.pos))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// A little-endian `u32`.
    pub fn u32(&mut self) -> Result<u32, Bad> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A little-endian `u64`.
    pub fn u64(&mut self) -> Result<u64, Bad> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// A `u32` that must equal `want` (`what` names it in the error).
    pub fn expect_u32(&mut self, want: u32, what: &str) -> Result<(), Bad> {
        let at = self.base + self.pos;
        match self.u32()? {
            v if v == want => Ok(()),
            v => Err(format!("{what} is {v} at byte {at}; expected {want}")),
        }
    }

    /// 32 little-endian bytes that must be the modulus of `F`.
    pub fn expect_modulus<F: PrimeField>(&mut self, what: &str) -> Result<(), Bad> {
        let at = self.base + self.pos;
        if self.take(32)? != F::MODULUS.to_bytes_le().as_slice() {
            return Err(format!("{what} at byte {at} is not BN254's"));
        }
        Ok(())
    }

    /// A 256-bit little-endian integer below `F`'s modulus.
    fn int<F: PrimeField<BigInt = BigInt<4>>>(&mut self) -> Result<BigInt<4>, Bad> {
        let at = self.base + self.pos;
        let b = self.take(32)?;
        let mut limbs = [0u64; 4];
        for (l, ch) in limbs.iter_mut().zip(b.chunks_exact(8)) {
            let mut a = [0u8; 8];
            a.copy_from_slice(ch);
            *l = u64::from_le_bytes(a);
        }
        let v = BigInt::new(limbs);
        if v >= F::MODULUS {
            return Err(format!("field element at byte {at} is not reduced"));
        }
        Ok(v)
    }

    /// A scalar in standard form (`.r1cs`, `.wtns`).
    pub fn fr(&mut self) -> Result<Fr, Bad> {
        let v = self.int::<Fr>()?;
        Fr::from_bigint(v).ok_or_else(|| "scalar out of range".to_string())
    }

    /// A zkey coefficient: stored as `v·R²` (snarkjs keeps Montgomery form of a Montgomery
    /// value), so `v = stored · R⁻²`.
    pub fn zkey_coefficient(&mut self) -> Result<Fr, Bad> {
        let m = Fr::new_unchecked(self.int::<Fr>()?);
        Ok(Fr::new_unchecked(m.into_bigint()))
    }

    /// A base-field element in Montgomery form (zkey points).
    fn fq_mont(&mut self) -> Result<Fq, Bad> {
        Ok(Fq::new_unchecked(self.int::<Fq>()?))
    }

    /// A G1 point `(x, y)` in Montgomery form, all zeros for infinity; checked on the curve.
    pub fn g1(&mut self) -> Result<G1Affine, Bad> {
        let at = self.base + self.pos;
        let (x, y) = (self.fq_mont()?, self.fq_mont()?);
        if x == Fq::from(0u8) && y == Fq::from(0u8) {
            return Ok(G1Affine::zero());
        }
        let p = G1Affine::new_unchecked(x, y);
        if !p.is_on_curve() {
            return Err(format!("G1 point at byte {at} is not on the curve"));
        }
        Ok(p)
    }

    /// A G2 point `(x.c0, x.c1, y.c0, y.c1)` in Montgomery form; checked on the curve and
    /// in the prime-order subgroup.
    pub fn g2(&mut self) -> Result<G2Affine, Bad> {
        let at = self.base + self.pos;
        let x = Fq2::new(self.fq_mont()?, self.fq_mont()?);
        let y = Fq2::new(self.fq_mont()?, self.fq_mont()?);
        if x == Fq2::from(0u8) && y == Fq2::from(0u8) {
            return Ok(G2Affine::zero());
        }
        let p = G2Affine::new_unchecked(x, y);
        if !p.is_on_curve() || !p.is_in_correct_subgroup_assuming_on_curve() {
            return Err(format!("G2 point at byte {at} is not in the group"));
        }
        Ok(p)
    }

    /// Fails unless every byte was read.
    pub fn finish(&self, what: &str) -> Result<(), Bad> {
        if self.pos != self.buf.len() {
            return Err(format!(
                "{what}: {} unread bytes at byte {}",
                self.buf.len() - self.pos,
                self.base + self.pos
            ));
        }
        Ok(())
    }
}

/// Writes a container.
pub fn write(magic: &[u8; 4], version: u32, sections: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let total: usize = sections.iter().map(|(_, b)| 12 + b.len()).sum();
    let mut out = Vec::with_capacity(12 + total);
    out.extend_from_slice(magic);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&(sections.len() as u32).to_le_bytes());
    for (id, body) in sections {
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&(body.len() as u64).to_le_bytes());
        out.extend_from_slice(body);
    }
    out
}

/// A scalar in standard form, 32 bytes little-endian.
pub fn put_fr(out: &mut Vec<u8>, v: &Fr) {
    out.extend_from_slice(&v.into_bigint().to_bytes_le());
}
