//! The snapshot file format (version 1): what `Cache::save` writes and a start with
//! `memory.snapshot_path` reads. All integers little-endian.
//!
//! ```text
//! header   magic "DCSNAP\r\n" (8) · version u32 · flags u32 (0) · created_at u64 (epoch ms)
//!          · crc32 u32 of the 24 bytes before it                                  = 28 bytes
//! blocks   length u32 (1 ..= 1 MiB) · payload · crc32 u32 of the length and the payload
//!          ... the payloads, joined, are the record stream:
//! records  0x01 namespace  name: bytes32            the entries that follow are in it
//!          0x02 value      key: bytes32 · expires_at u64 · value: bytes32
//!          0x03 set        key: bytes32 · expires_at u64 · members u32 · member: bytes32 ...
//!          0x7F end        namespaces u64 · entries u64      (last record; then end of file)
//!          bytes32 = length u32 · the bytes;  expires_at = epoch ms of expiry, 0 = never
//! ```
//!
//! Expiries are absolute wall-clock times, so an entry that expired while the process was
//! down is not restored. The magic's `\r\n` catches a copy that rewrote line endings. A reader
//! checks, in order: the magic ([`SnapshotProblem::NotASnapshot`]), the version
//! ([`SnapshotProblem::UnsupportedVersion`] for a newer one, whose header may differ), the
//! header's checksum, then each block's checksum before any record in it is used
//! ([`SnapshotProblem::ChecksumMismatch`]); a file that ends before the end record is
//! [`SnapshotProblem::Truncated`], and records that pass their checksums but do not parse, a
//! count in the end record that disagrees, or bytes after it are
//! [`SnapshotProblem::Corrupt`]. No length read from the file is trusted for an allocation:
//! buffers grow as bytes actually arrive.

use std::io::{self, Read, Write};

use crate::error::SnapshotProblem;

/// The file's first 8 bytes.
pub(super) const MAGIC: &[u8; 8] = b"DCSNAP\r\n";
/// The version this build writes and the newest it reads.
pub(super) const VERSION: u32 = 1;
/// Header length in bytes.
const HEADER: usize = 28;
/// Largest block payload written and accepted.
const MAX_BLOCK: usize = 1024 * 1024;
/// Payload size at which the writer closes a block.
const BLOCK_TARGET: usize = 64 * 1024;
/// Longest key, namespace name, value or member accepted from a file (1 GiB): a sanity bound
/// on a length that passed its checksum, not a limit of the cache.
const MAX_FIELD: u32 = 1 << 30;

pub(super) const TAG_NAMESPACE: u8 = 0x01;
pub(super) const TAG_VALUE: u8 = 0x02;
pub(super) const TAG_SET: u8 = 0x03;
pub(super) const TAG_END: u8 = 0x7F;

fn io_problem(e: &io::Error) -> SnapshotProblem {
    SnapshotProblem::Io {
        message: e.to_string(),
    }
}

/// Writes the header, then records into checksummed blocks.
pub(super) struct Writer<W: Write> {
    out: W,
    block: Vec<u8>,
    /// Bytes written to `out` so far.
    written: u64,
}

impl<W: Write> Writer<W> {
    /// Writes the header (`created_at`: epoch ms).
    pub(super) fn new(mut out: W, created_at: u64) -> io::Result<Self> {
        let mut header = Vec::with_capacity(HEADER);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&VERSION.to_le_bytes());
        header.extend_from_slice(&0u32.to_le_bytes());
        header.extend_from_slice(&created_at.to_le_bytes());
        let crc = crc32fast::hash(&header);
        header.extend_from_slice(&crc.to_le_bytes());
        out.write_all(&header)?;
        Ok(Writer {
            out,
            block: Vec::with_capacity(BLOCK_TARGET + 1024),
            written: HEADER as u64,
        })
    }

    fn field(&mut self, bytes: &[u8]) -> io::Result<()> {
        let len = u32::try_from(bytes.len())
            .ok()
            .filter(|n| *n <= MAX_FIELD)
            .ok_or_else(|| io::Error::other("a key or value longer than 1 GiB"))?;
        self.bytes(&len.to_le_bytes())?;
        self.bytes(bytes)
    }

    /// Appends raw record bytes, closing blocks as they fill (a record may span blocks).
    fn bytes(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            let room = MAX_BLOCK - self.block.len();
            let (now, rest) = bytes.split_at(bytes.len().min(room));
            self.block.extend_from_slice(now);
            bytes = rest;
            if self.block.len() >= BLOCK_TARGET {
                self.flush_block()?;
            }
        }
        Ok(())
    }

    fn flush_block(&mut self) -> io::Result<()> {
        if self.block.is_empty() {
            return Ok(());
        }
        let len = (self.block.len() as u32).to_le_bytes();
        let mut crc = crc32fast::Hasher::new();
        crc.update(&len);
        crc.update(&self.block);
        self.out.write_all(&len)?;
        self.out.write_all(&self.block)?;
        self.out.write_all(&crc.finalize().to_le_bytes())?;
        self.written += 8 + self.block.len() as u64;
        self.block.clear();
        Ok(())
    }

    /// Starts the entries of namespace `name`.
    pub(super) fn namespace(&mut self, name: &str) -> io::Result<()> {
        self.bytes(&[TAG_NAMESPACE])?;
        self.field(name.as_bytes())
    }

    /// A plain value.
    pub(super) fn value(&mut self, key: &str, expires_at: u64, value: &[u8]) -> io::Result<()> {
        self.bytes(&[TAG_VALUE])?;
        self.field(key.as_bytes())?;
        self.bytes(&expires_at.to_le_bytes())?;
        self.field(value)
    }

    /// A set.
    pub(super) fn set<'a>(
        &mut self,
        key: &str,
        expires_at: u64,
        members: impl ExactSizeIterator<Item = &'a [u8]>,
    ) -> io::Result<()> {
        self.bytes(&[TAG_SET])?;
        self.field(key.as_bytes())?;
        self.bytes(&expires_at.to_le_bytes())?;
        let n = u32::try_from(members.len())
            .map_err(|_| io::Error::other("a set of more than 2^32 members"))?;
        self.bytes(&n.to_le_bytes())?;
        for m in members {
            self.field(m)?;
        }
        Ok(())
    }

    /// The end record and the last block; returns the output and the bytes written.
    pub(super) fn finish(mut self, namespaces: u64, entries: u64) -> io::Result<(W, u64)> {
        self.bytes(&[TAG_END])?;
        self.bytes(&namespaces.to_le_bytes())?;
        self.bytes(&entries.to_le_bytes())?;
        self.flush_block()?;
        self.out.flush()?;
        Ok((self.out, self.written))
    }
}

/// What a record holds, as read.
#[derive(Debug)]
pub(super) enum Record {
    Namespace(String),
    Value {
        key: String,
        expires_at: u64,
        value: Vec<u8>,
    },
    Set {
        key: String,
        expires_at: u64,
        members: Vec<Vec<u8>>,
    },
    End {
        namespaces: u64,
        entries: u64,
    },
}

/// Reads the header, then records from verified blocks.
pub(super) struct Reader<R: Read> {
    input: R,
    /// The current block's payload and how much of it was consumed.
    block: Vec<u8>,
    pos: usize,
    /// Blocks read (the header is block 0) and the file offset of the next one.
    blocks: u64,
    offset: u64,
}

impl<R: Read> Reader<R> {
    /// Reads and checks the header.
    pub(super) fn new(mut input: R) -> Result<Self, SnapshotProblem> {
        let mut header = [0u8; HEADER];
        let got = read_full(&mut input, &mut header)?;
        if got < MAGIC.len() || &header[..8] != MAGIC {
            return Err(if got < MAGIC.len() && header[..got] == MAGIC[..got] {
                SnapshotProblem::Truncated
            } else {
                SnapshotProblem::NotASnapshot
            });
        }
        if got < 12 {
            return Err(SnapshotProblem::Truncated);
        }
        let version = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
        if version > VERSION {
            return Err(SnapshotProblem::UnsupportedVersion {
                found: version,
                supported: VERSION,
            });
        }
        if got < HEADER {
            return Err(SnapshotProblem::Truncated);
        }
        let crc = u32::from_le_bytes([header[24], header[25], header[26], header[27]]);
        if crc32fast::hash(&header[..24]) != crc {
            return Err(SnapshotProblem::ChecksumMismatch {
                block: 0,
                offset: 0,
            });
        }
        if version == 0 {
            return Err(SnapshotProblem::Corrupt {
                reason: "version 0".into(),
            });
        }
        Ok(Reader {
            input,
            block: Vec::new(),
            pos: 0,
            blocks: 1,
            offset: HEADER as u64,
        })
    }

    /// Loads the next block; `false` at a clean end of file (no byte of a next block).
    fn next_block(&mut self) -> Result<bool, SnapshotProblem> {
        let mut len = [0u8; 4];
        match read_full(&mut self.input, &mut len)? {
            0 => return Ok(false),
            4 => {}
            _ => return Err(SnapshotProblem::Truncated),
        }
        let n = u32::from_le_bytes(len) as usize;
        let at = self.offset;
        if n == 0 || n > MAX_BLOCK {
            return Err(SnapshotProblem::Corrupt {
                reason: format!("block {} at byte {at} claims {n} bytes", self.blocks),
            });
        }
        self.block.clear();
        self.block.resize(n, 0);
        if read_full(&mut self.input, &mut self.block)? < n {
            return Err(SnapshotProblem::Truncated);
        }
        let mut crc = [0u8; 4];
        if read_full(&mut self.input, &mut crc)? < 4 {
            return Err(SnapshotProblem::Truncated);
        }
        let mut h = crc32fast::Hasher::new();
        h.update(&len);
        h.update(&self.block);
        if h.finalize() != u32::from_le_bytes(crc) {
            return Err(SnapshotProblem::ChecksumMismatch {
                block: self.blocks,
                offset: at,
            });
        }
        self.pos = 0;
        self.blocks += 1;
        self.offset += 8 + n as u64;
        Ok(true)
    }

    /// Fills `buf` from verified blocks; a file that ends first is truncated.
    fn take(&mut self, buf: &mut [u8]) -> Result<(), SnapshotProblem> {
        let mut filled = 0;
        while filled < buf.len() {
            if self.pos == self.block.len() && !self.next_block()? {
                return Err(SnapshotProblem::Truncated);
            }
            let n = (buf.len() - filled).min(self.block.len() - self.pos);
            buf[filled..filled + n].copy_from_slice(&self.block[self.pos..self.pos + n]);
            filled += n;
            self.pos += n;
        }
        Ok(())
    }

    fn u8(&mut self) -> Result<u8, SnapshotProblem> {
        let mut b = [0u8; 1];
        self.take(&mut b)?;
        Ok(b[0])
    }

    fn u32(&mut self) -> Result<u32, SnapshotProblem> {
        let mut b = [0u8; 4];
        self.take(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn u64(&mut self) -> Result<u64, SnapshotProblem> {
        let mut b = [0u8; 8];
        self.take(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    /// A length-prefixed field, grown as its bytes arrive (a bad length cannot allocate
    /// more than the file holds).
    fn field(&mut self) -> Result<Vec<u8>, SnapshotProblem> {
        let n = self.u32()?;
        if n > MAX_FIELD {
            return Err(SnapshotProblem::Corrupt {
                reason: format!("a field of {n} bytes"),
            });
        }
        let mut out = Vec::with_capacity((n as usize).min(64 * 1024));
        let mut left = n as usize;
        while left > 0 {
            if self.pos == self.block.len() && !self.next_block()? {
                return Err(SnapshotProblem::Truncated);
            }
            let k = left.min(self.block.len() - self.pos);
            out.extend_from_slice(&self.block[self.pos..self.pos + k]);
            self.pos += k;
            left -= k;
        }
        Ok(out)
    }

    fn text(&mut self, what: &str) -> Result<String, SnapshotProblem> {
        String::from_utf8(self.field()?).map_err(|_| SnapshotProblem::Corrupt {
            reason: format!("a {what} that is not UTF-8"),
        })
    }

    /// The next record.
    pub(super) fn record(&mut self) -> Result<Record, SnapshotProblem> {
        Ok(match self.u8()? {
            TAG_NAMESPACE => Record::Namespace(self.text("namespace name")?),
            TAG_VALUE => Record::Value {
                key: self.text("key")?,
                expires_at: self.u64()?,
                value: self.field()?,
            },
            TAG_SET => {
                let key = self.text("key")?;
                let expires_at = self.u64()?;
                let n = self.u32()?;
                let mut members = Vec::with_capacity((n as usize).min(1024));
                for _ in 0..n {
                    members.push(self.field()?);
                }
                Record::Set {
                    key,
                    expires_at,
                    members,
                }
            }
            TAG_END => Record::End {
                namespaces: self.u64()?,
                entries: self.u64()?,
            },
            other => {
                return Err(SnapshotProblem::Corrupt {
                    reason: format!("unknown record tag {other:#04x}"),
                });
            }
        })
    }

    /// After the end record: nothing may follow.
    pub(super) fn expect_eof(&mut self) -> Result<(), SnapshotProblem> {
        if self.pos < self.block.len() || self.next_block()? {
            return Err(SnapshotProblem::Corrupt {
                reason: "bytes after the end record".into(),
            });
        }
        Ok(())
    }
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> Result<usize, SnapshotProblem> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_problem(&e)),
        }
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut w = Writer::new(Vec::new(), 7).unwrap();
        w.namespace("ns").unwrap();
        w.value("k", 0, b"\"v\"").unwrap();
        w.set("s", 99, [&b"1"[..], &b"2"[..]].into_iter()).unwrap();
        w.finish(1, 2).unwrap().0
    }

    fn read_all(bytes: &[u8]) -> Result<Vec<Record>, SnapshotProblem> {
        let mut r = Reader::new(bytes)?;
        let mut out = Vec::new();
        loop {
            let rec = r.record()?;
            let end = matches!(rec, Record::End { .. });
            out.push(rec);
            if end {
                r.expect_eof()?;
                return Ok(out);
            }
        }
    }

    #[test]
    fn round_trip() {
        let recs = read_all(&sample()).unwrap();
        assert_eq!(recs.len(), 4);
        assert!(matches!(&recs[0], Record::Namespace(n) if n == "ns"));
        assert!(
            matches!(&recs[2], Record::Set { members, expires_at: 99, .. } if members.len() == 2)
        );
    }

    #[test]
    fn every_truncation_and_every_flipped_byte_is_an_error_never_a_panic() {
        let good = sample();
        for cut in 0..good.len() {
            assert!(read_all(&good[..cut]).is_err(), "cut at {cut}");
        }
        for i in 0..good.len() {
            for bit in [0x01, 0x80] {
                let mut bad = good.clone();
                bad[i] ^= bit;
                assert!(read_all(&bad).is_err(), "byte {i} bit {bit:#x}");
            }
        }
    }

    #[test]
    fn a_large_record_spans_blocks() {
        let big = vec![b'x'; 3 * MAX_BLOCK + 17];
        let mut w = Writer::new(Vec::new(), 0).unwrap();
        w.namespace("n").unwrap();
        w.value("k", 5, &big).unwrap();
        let bytes = w.finish(1, 1).unwrap().0;
        let recs = read_all(&bytes).unwrap();
        assert!(matches!(&recs[1], Record::Value { value, .. } if *value == big));
    }
}
