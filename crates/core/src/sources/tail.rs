//! Incremental reading of append-only log files. A file's cursor holds its identity (device and
//! inode, and a hash of its first bytes) and how far it was read (bytes and lines, complete lines
//! only). On the next read the file is skipped when unchanged, resumed from the offset when it
//! grew, and re-read from the start when it was truncated, replaced (rotation) or rewritten.
//!
//! A last line without its newline is normally half-written: it is left for the next read,
//! unless it already parses as JSON (a file whose writer simply ended without a newline).

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use sha2::{Digest, Sha256};

/// How many leading bytes identify a file's content.
const HEAD_LEN: u64 = 1024;

pub use crate::model::logs::Cursor;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Same file, nothing appended.
    Unchanged,
    /// Same file, grown: read from the cursor.
    Resume(Cursor),
    /// New, truncated, rotated or rewritten: forget what was read from it and start over.
    Restart { had_data: bool },
}

fn hash_head(path: &Path, len: u64) -> std::io::Result<String> {
    let mut buf = Vec::with_capacity(len as usize);
    File::open(path)?.take(len).read_to_end(&mut buf)?;
    Ok(Sha256::digest(&buf)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

fn inode_of(meta: &std::fs::Metadata) -> String {
    format!("{}:{}", meta.dev(), meta.ino())
}

fn mtime_of(meta: &std::fs::Metadata) -> i64 {
    meta.mtime() * 1_000_000_000 + meta.mtime_nsec()
}

pub fn plan(path: &Path, stored: Option<&Cursor>) -> std::io::Result<Plan> {
    let meta = std::fs::metadata(path)?;
    let Some(c) = stored else {
        return Ok(Plan::Restart { had_data: false });
    };
    let size = meta.len() as i64;
    let same_inode = inode_of(&meta) == c.inode;
    if same_inode && size == c.offset && c.mtime_ns != 0 && mtime_of(&meta) == c.mtime_ns {
        return Ok(Plan::Unchanged); // stat says nothing happened: no need to read the head
    }
    if !same_inode || size < c.offset || hash_head(path, c.head_len as u64)? != c.head_hash {
        return Ok(Plan::Restart { had_data: true });
    }
    if size == c.offset {
        return Ok(Plan::Unchanged);
    }
    // Read from the cursor, and remember the time of this state of the file.
    Ok(Plan::Resume(Cursor {
        mtime_ns: mtime_of(&meta),
        ..c.clone()
    }))
}

/// A line longer than this is passed over and reported, never loaded: agents write lines of a
/// few MB at most (a large tool result), and a 50 MB line would be held whole to parse it.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// Reads complete lines from an offset, tracking the offset and line number after each.
pub struct LineReader {
    reader: BufReader<File>,
    pub offset: i64,
    pub line_no: i64,
    buf: Vec<u8>,
    /// Lines passed over for their length since last taken: (line number, bytes).
    too_long: Vec<(i64, u64)>,
}

impl LineReader {
    pub fn open(path: &Path, offset: i64, line_no: i64) -> std::io::Result<Self> {
        let mut f = File::open(path)?;
        f.seek(SeekFrom::Start(offset as u64))?;
        Ok(Self {
            reader: BufReader::with_capacity(256 * 1024, f),
            offset,
            line_no,
            buf: Vec::new(),
            too_long: Vec::new(),
        })
    }

    /// The lines passed over as longer than [`MAX_LINE_BYTES`] since the last call, with their
    /// sizes: each is a skipped line to report.
    pub fn take_too_long(&mut self) -> Vec<(i64, u64)> {
        std::mem::take(&mut self.too_long)
    }

    /// The next complete line (without its newline) and its 1-based number, or `None` at the
    /// end (a half-written last line is not returned, and not consumed). Borrowed from the
    /// reader's buffer: no copy unless the line is not valid UTF-8.
    ///
    /// A line longer than [`MAX_LINE_BYTES`] is read past without being kept, counted in
    /// [`LineReader::take_too_long`], and the next line is returned instead. One still being
    /// written past that size at the end of the file is passed over too (its rest, when it
    /// comes, is a line that does not parse).
    pub fn next_line(&mut self) -> std::io::Result<Option<(i64, std::borrow::Cow<'_, str>)>> {
        let n = loop {
            self.buf.clear();
            let (n, too_long) = self.read_capped()?;
            if !too_long {
                break n;
            }
            self.offset += n as i64;
            self.line_no += 1;
            self.too_long.push((self.line_no, n as u64));
        };
        if n == 0 {
            return Ok(None);
        }
        let complete = self.buf.ends_with(b"\n");
        if !complete && serde_json::from_slice::<serde::de::IgnoredAny>(&self.buf).is_err() {
            return Ok(None);
        }
        self.offset += n as i64;
        self.line_no += 1;
        let mut end = self.buf.len();
        while end > 0 && matches!(self.buf[end - 1], b'\n' | b'\r') {
            end -= 1;
        }
        Ok(Some((
            self.line_no,
            String::from_utf8_lossy(&self.buf[..end]),
        )))
    }
}

impl LineReader {
    /// Reads one line (with its newline, if any) into `buf`, keeping at most
    /// `MAX_LINE_BYTES`: (bytes consumed, whether it was longer and so not kept).
    fn read_capped(&mut self) -> std::io::Result<(usize, bool)> {
        let (mut n, mut too_long) = (0usize, false);
        loop {
            let chunk = self.reader.fill_buf()?;
            if chunk.is_empty() {
                return Ok((n, too_long));
            }
            let (take, found) = match chunk.iter().position(|b| *b == b'\n') {
                Some(i) => (i + 1, true),
                None => (chunk.len(), false),
            };
            if !too_long && self.buf.len() + take > MAX_LINE_BYTES {
                too_long = true;
                self.buf = Vec::new();
            }
            if !too_long {
                self.buf.extend_from_slice(&chunk[..take]);
            }
            self.reader.consume(take);
            n += take;
            if found {
                return Ok((n, too_long));
            }
        }
    }
}

/// The identity part of a cursor for `path` as it is now.
pub fn identify(path: &Path) -> std::io::Result<Cursor> {
    let meta = std::fs::metadata(path)?;
    let head_len = meta.len().min(HEAD_LEN);
    Ok(Cursor {
        inode: inode_of(&meta),
        mtime_ns: mtime_of(&meta),
        head_len: head_len as i64,
        head_hash: hash_head(path, head_len)?,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn read_all(path: &Path, c: &Cursor) -> (Vec<String>, i64, i64) {
        let mut r = LineReader::open(path, c.offset, c.line_no).unwrap();
        let mut lines = Vec::new();
        while let Some((_, l)) = r.next_line().unwrap() {
            lines.push(l.into_owned());
        }
        (lines, r.offset, r.line_no)
    }

    #[test]
    fn a_line_too_long_to_load_is_passed_over_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jsonl");
        let mut f = std::fs::File::create(&path).unwrap();
        writeln!(f, "{{\"a\":1}}").unwrap();
        let big = "z".repeat(MAX_LINE_BYTES + 10);
        writeln!(f, "{{\"big\":\"{big}\"}}").unwrap();
        writeln!(f, "{{\"b\":2}}").unwrap();
        drop(f);
        let mut r = LineReader::open(&path, 0, 0).unwrap();
        let mut lines = Vec::new();
        while let Some((no, l)) = r.next_line().unwrap() {
            lines.push((no, l.into_owned()));
        }
        assert_eq!(
            lines,
            [(1, "{\"a\":1}".to_string()), (3, "{\"b\":2}".to_string())]
        );
        assert_eq!(r.take_too_long(), [(2, (MAX_LINE_BYTES + 21) as u64)]);
        assert_eq!(r.offset as u64, std::fs::metadata(&path).unwrap().len());
        assert!(r.take_too_long().is_empty());
    }

    #[test]
    fn appends_resume_and_rewrites_restart() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log.jsonl");
        std::fs::write(&p, "{\"a\":1}\n{\"b\":2}\n{\"c\":").unwrap();
        let mut c = identify(&p).unwrap();
        assert_eq!(plan(&p, None).unwrap(), Plan::Restart { had_data: false });
        let (lines, off, no) = read_all(&p, &c);
        assert_eq!(
            lines,
            ["{\"a\":1}", "{\"b\":2}"],
            "half-written line is left"
        );
        c.offset = off;
        c.line_no = no;
        assert!(matches!(plan(&p, Some(&c)).unwrap(), Plan::Resume(_)));
        // The writer finishes the line and appends another.
        let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"3}\n{\"d\":4}").unwrap();
        let (lines, off, no) = read_all(&p, &c);
        assert_eq!(
            lines,
            ["{\"c\":3}", "{\"d\":4}"],
            "complete JSON without newline is read"
        );
        assert_eq!(no, 4);
        c.offset = off;
        assert_eq!(plan(&p, Some(&c)).unwrap(), Plan::Unchanged);
        // Truncation.
        std::fs::write(&p, "{\"a\":1}\n").unwrap();
        assert_eq!(
            plan(&p, Some(&c)).unwrap(),
            Plan::Restart { had_data: true }
        );
        // Rotation: a new file at the same path, even if it is longer.
        let c2 = Cursor {
            offset: 8,
            line_no: 1,
            ..identify(&p).unwrap()
        };
        std::fs::rename(&p, dir.path().join("log.1")).unwrap();
        std::fs::write(&p, "{\"a\":1}\n{\"z\":9}\n").unwrap();
        assert_eq!(
            plan(&p, Some(&c2)).unwrap(),
            Plan::Restart { had_data: true }
        );
    }
}
