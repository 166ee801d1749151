//! The checksums written beside a backup (`NAME.zip.sha256.json`), and the hashing writer
//! that computes them while the data flows past.

use std::io::{Read, Write};
use std::path::Path;

use color_eyre::eyre::{Result, eyre};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Size and SHA-256 of one stream of bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSum {
    pub size: u64,
    pub sha256: String,
}

/// The sidecar file: what `sha256sum` would say of the zip, of its `dump.sql`, and the
/// filestore's count and bytes, so a copy can be checked without odoo-ops.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checksums {
    pub schema_version: u32,
    /// The zip's file name.
    pub file: String,
    pub db_name: String,
    /// When the backup started, UTC, RFC 3339.
    pub created_at: String,
    pub zip: FileSum,
    pub dump_sql: FileSum,
    pub filestore_files: u64,
    pub filestore_bytes: u64,
}

impl Checksums {
    pub fn read(path: &Path) -> Result<Checksums> {
        let bytes = std::fs::read(path).map_err(|e| eyre!("{}: {e}", path.display()))?;
        serde_json::from_slice(&bytes).map_err(|e| eyre!("{}: {e}", path.display()))
    }
}

/// A writer that passes bytes on and hashes and counts them, keeping the last few so the
/// end of a dump can be checked without reading it again.
pub struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
    tail: Vec<u8>,
}

/// Enough for pg_dump's closing comment.
const TAIL: usize = 256;

impl<W: Write> Hashing<W> {
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            size: 0,
            tail: Vec::with_capacity(TAIL * 2),
        }
    }

    pub fn finish(self) -> (W, FileSum, Vec<u8>) {
        let sum = FileSum {
            size: self.size,
            sha256: hex(&self.hasher.finalize()),
        };
        (self.inner, sum, self.tail)
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        let written = &buf[..n];
        self.hasher.update(written);
        self.size += n as u64;
        self.tail.extend_from_slice(written);
        if self.tail.len() > TAIL * 2 {
            self.tail.drain(..self.tail.len() - TAIL);
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Size and SHA-256 of everything `reader` yields, with its last bytes.
pub fn sum_reader(reader: &mut impl Read) -> std::io::Result<(FileSum, Vec<u8>)> {
    let mut hashing = Hashing::new(std::io::sink());
    std::io::copy(reader, &mut hashing)?;
    let (_, sum, tail) = hashing.finish();
    Ok((sum, tail))
}

/// Size and SHA-256 of a file.
pub fn sum_file(path: &Path) -> Result<FileSum> {
    let mut file = std::fs::File::open(path).map_err(|e| eyre!("{}: {e}", path.display()))?;
    let (sum, _) = sum_reader(&mut file).map_err(|e| eyre!("{}: {e}", path.display()))?;
    Ok(sum)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether a plain pg_dump ended as pg_dump ends a complete dump (a dump cut short by a
/// dropped connection or a full disk does not have this line).
pub fn dump_is_complete(tail: &[u8]) -> bool {
    memchr::memmem::find(tail, b"PostgreSQL database dump complete").is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_counts_and_keeps_the_tail() {
        let mut data = vec![b'x'; 100_000];
        data.extend_from_slice(b"\n--\n-- PostgreSQL database dump complete\n--\n\n");
        let (sum, tail) = sum_reader(&mut &data[..]).unwrap();
        assert_eq!(sum.size, data.len() as u64);
        // sha256 of the same bytes, independently.
        assert_eq!(sum.sha256, hex(&Sha256::digest(&data)));
        assert!(dump_is_complete(&tail));
        assert!(!dump_is_complete(&tail[..tail.len() - 30]));
    }
}
