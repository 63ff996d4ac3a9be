//! Saving the table to a snapshot file and restoring it (`Cache::save`, a start with
//! `memory.snapshot_path`). The file format is `memory/snapshot_format.rs`.
//!
//! # Saving
//! The table is walked namespace by namespace, one map shard at a time (each shard's read
//! lock held only while its entries are encoded into the current 64 KiB block), and written
//! through a buffered writer to `<path>.tmp-<pid>`; the file is synced, renamed over `path`
//! and the directory synced. A crash or an error before the rename leaves the previous
//! snapshot at `path` untouched (the temporary file is removed on error). No second copy of
//! the table is made: the extra memory is the block and the writer's buffer. Expiries are
//! written as wall-clock epoch milliseconds (the table's monotonic expiry turned into a
//! remaining time, added to the wall clock now); writes racing the save may or may not be in
//! the file, each entry as of one moment.
//!
//! # Restoring
//! Two passes over the file: the first reads every block and record and checks every
//! checksum, the counts of the end record and that nothing follows it, without keeping
//! anything; only a file that passes is loaded by the second, so a corrupt file never leaves
//! half a table (a file changed between the passes fails the second; the start then fails,
//! or under `snapshot_on_error = "start_empty"` the table is cleared). Entries are written with `put` / the set write, so the limits and eviction
//! policy apply to them like to any write; an entry whose wall-clock expiry has passed is
//! skipped (counted in [`RestoreReport::expired`]).

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;

use super::MemoryTable;
use super::entry::{NEVER, Value};
use super::snapshot_format::{Reader, Record, Writer};
use crate::error::{CacheError, CacheResult, SnapshotProblem};
use crate::ttl::Ttl;

/// Held while a save runs (saves of one process take turns).
static SAVING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// What [`MemoryTable::save_snapshot`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotReport {
    /// Namespaces written.
    pub namespaces: u64,
    /// Live entries written (values, counters and sets).
    pub entries: u64,
    /// Size of the file in bytes.
    pub bytes: u64,
}

/// What [`MemoryTable::restore_snapshot`] loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestoreReport {
    /// Entries written into the table.
    pub restored: u64,
    /// Entries skipped because their expiry passed while the cache was down.
    pub expired: u64,
    /// Size of the file in bytes.
    pub bytes: u64,
}

fn problem(path: &Path, problem: SnapshotProblem) -> CacheError {
    CacheError::Snapshot {
        path: path.display().to_string(),
        problem,
    }
}

fn io(path: &Path, e: &std::io::Error) -> CacheError {
    problem(
        path,
        SnapshotProblem::Io {
            message: e.to_string(),
        },
    )
}

/// The temporary file a save writes before its rename.
fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp-{}", std::process::id()));
    path.with_file_name(name)
}

impl MemoryTable {
    /// Writes every live entry to a snapshot at `path` (atomically: a temporary file renamed
    /// over it). Blocking file I/O: call it from a blocking thread.
    ///
    /// # Errors
    /// [`CacheError::Snapshot`] with [`SnapshotProblem::Io`]; the file at `path` is then as
    /// it was.
    pub fn save_snapshot(&self, path: &Path) -> CacheResult<SnapshotReport> {
        // One save at a time in this process: two would share the temporary file's name.
        let _one = SAVING
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let tmp = temp_path(path);
        let r = self.write_snapshot(&tmp);
        let report = match r {
            Ok(report) => report,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(io(path, &e));
            }
        };
        if let Err(e) = std::fs::rename(&tmp, path) {
            let _ = std::fs::remove_file(&tmp);
            return Err(io(path, &e));
        }
        // The rename itself survives a power cut once the directory is synced.
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && let Ok(d) = File::open(dir)
        {
            let _ = d.sync_all();
        }
        Ok(report)
    }

    fn write_snapshot(&self, tmp: &Path) -> std::io::Result<SnapshotReport> {
        let file = File::create(tmp)?;
        let now = self.clock.now_ms();
        let wall = self.clock.epoch_ms();
        let mut w = Writer::new(BufWriter::with_capacity(256 * 1024, file), wall)?;
        let (mut namespaces, mut entries) = (0u64, 0u64);
        for t in self.all_namespaces() {
            let mut named = false;
            for r in t.map.iter() {
                let (key, e) = r.pair();
                if !e.is_live(now) {
                    continue;
                }
                if !named {
                    w.namespace(&t.name)?;
                    namespaces += 1;
                    named = true;
                }
                let expires = if e.expires_at == NEVER {
                    0
                } else {
                    wall.saturating_add(e.expires_at - now).max(1)
                };
                match &e.value {
                    Value::Bytes(b) => w.value(key, expires, b)?,
                    Value::Set(s) => w.set(key, expires, s.iter().map(|m| &m[..]))?,
                }
                entries += 1;
            }
        }
        let (out, bytes) = w.finish(namespaces, entries)?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok(SnapshotReport {
            namespaces,
            entries,
            bytes,
        })
    }

    /// Loads the snapshot at `path` into the table, after checking all of it. Blocking file
    /// I/O: call it from a blocking thread, before the cache serves.
    ///
    /// # Errors
    /// [`CacheError::Snapshot`]: the file cannot be read, is not a snapshot, is of a newer
    /// version, is truncated, fails a checksum or does not parse. Nothing was loaded then.
    pub fn restore_snapshot(&self, path: &Path) -> CacheResult<RestoreReport> {
        let open = || -> CacheResult<Reader<BufReader<File>>> {
            let f = File::open(path).map_err(|e| io(path, &e))?;
            Reader::new(BufReader::with_capacity(256 * 1024, f)).map_err(|p| problem(path, p))
        };
        let bytes = std::fs::metadata(path).map_err(|e| io(path, &e))?.len();
        // Pass 1: everything checked, nothing kept.
        walk(&mut open()?, |_| Ok(())).map_err(|p| problem(path, p))?;
        // Pass 2: load.
        let wall = self.clock.epoch_ms();
        let (mut restored, mut expired) = (0u64, 0u64);
        let mut ns = String::new();
        let mut load = |rec: Record| -> Result<(), SnapshotProblem> {
            let (key, expires_at) = match &rec {
                Record::Namespace(name) => {
                    ns.clone_from(name);
                    return Ok(());
                }
                Record::Value {
                    key, expires_at, ..
                }
                | Record::Set {
                    key, expires_at, ..
                } => (key.clone(), *expires_at),
                Record::End { .. } => return Ok(()),
            };
            let ttl = match expires_at {
                0 => Ttl::Never,
                at if at <= wall => {
                    expired += 1;
                    return Ok(());
                }
                at => Ttl::After(Duration::from_millis(at - wall)),
            };
            let r = match rec {
                Record::Value { value, .. } => self.put(&ns, &key, Bytes::from(value), ttl),
                Record::Set { members, .. } => {
                    let members: Vec<Bytes> = members.into_iter().map(Bytes::from).collect();
                    let total: i64 = members.iter().map(|m| m.len() as i64).sum();
                    self.set_op(
                        &ns,
                        &key,
                        ttl,
                        |s| if s.is_empty() { total } else { 0 },
                        |s| s.extend(members),
                    )
                }
                _ => Ok(()),
            };
            match r {
                Ok(()) => restored += 1,
                // Limits and eviction apply as to any write: an entry refused (`reject`, or
                // larger than the limits) is not restored.
                Err(CacheError::CapacityExceeded { .. } | CacheError::ValueTooLarge { .. }) => {}
                Err(e) => {
                    return Err(SnapshotProblem::Corrupt {
                        reason: e.to_string(),
                    });
                }
            }
            Ok(())
        };
        walk(&mut open()?, &mut load).map_err(|p| problem(path, p))?;
        Ok(RestoreReport {
            restored,
            expired,
            bytes,
        })
    }
}

/// Reads every record up to the end record and checks the file ends there and the counts
/// agree; `f` sees each record (the end record included).
fn walk<R: std::io::Read>(
    r: &mut Reader<R>,
    mut f: impl FnMut(Record) -> Result<(), SnapshotProblem>,
) -> Result<(), SnapshotProblem> {
    let (mut namespaces, mut entries) = (0u64, 0u64);
    let mut in_namespace = false;
    loop {
        let rec = r.record()?;
        match &rec {
            Record::Namespace(_) => {
                namespaces += 1;
                in_namespace = true;
            }
            Record::Value { .. } | Record::Set { .. } if !in_namespace => {
                return Err(SnapshotProblem::Corrupt {
                    reason: "an entry before any namespace".into(),
                });
            }
            Record::Value { .. } | Record::Set { .. } => entries += 1,
            Record::End {
                namespaces: n,
                entries: e,
            } => {
                if (*n, *e) != (namespaces, entries) {
                    return Err(SnapshotProblem::Corrupt {
                        reason: format!(
                            "the end record counts {n} namespaces and {e} entries, the file holds {namespaces} and {entries}"
                        ),
                    });
                }
                f(rec)?;
                return r.expect_eof();
            }
        }
        f(rec)?;
    }
}
