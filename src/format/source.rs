//! The bytes under a [`super::StreamReader`]: a `Read` with a small read-ahead buffer, so that the reader
//! can tell without blocking whether a record has fully arrived, or (single-stream mode) exact reads only.

use std::io::{ErrorKind, Read};

/// Bytes read ahead at most (one `read` call's worth).
pub const READ_BUFFER: usize = 8 * 1024;

/// A `Read` with read-ahead and a count of the bytes consumed.
#[derive(Debug)]
pub(crate) struct ByteSource<R: Read> {
    r: R,
    /// Bytes consumed so far.
    pub(crate) pos: u64,
    /// `buf[head..tail]`: read from `r`, not yet consumed.
    buf: Vec<u8>,
    head: usize,
    tail: usize,
    /// No read-ahead: every read asks for exactly the bytes still needed.
    pub(crate) exact: bool,
}

impl<R: Read> ByteSource<R> {
    pub(crate) fn new(r: R) -> Self {
        ByteSource {
            r,
            pos: 0,
            buf: Vec::new(),
            head: 0,
            tail: 0,
            exact: false,
        }
    }

    pub(crate) fn into_inner(self) -> R {
        self.r
    }

    /// The bytes read ahead and not consumed (no I/O).
    pub(crate) fn buffered(&self) -> &[u8] {
        &self.buf[self.head..self.tail]
    }

    /// One `read` of the inner reader into `out`, retrying on `Interrupted`.
    fn read_once(r: &mut R, out: &mut [u8]) -> std::io::Result<usize> {
        loop {
            match r.read(out) {
                Ok(k) => return Ok(k.min(out.len())),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads until `out` is full or EOF; returns the bytes read.
    pub(crate) fn fill(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let mut n = 0;
        while n < out.len() {
            if self.head < self.tail {
                let k = (self.tail - self.head).min(out.len() - n);
                out[n..n + k].copy_from_slice(&self.buf[self.head..self.head + k]);
                self.head += k;
                n += k;
                self.pos += k as u64;
                continue;
            }
            if self.exact || out.len() - n >= READ_BUFFER {
                // Exact (or large) reads go straight into `out`.
                let k = Self::read_once(&mut self.r, &mut out[n..])?;
                if k == 0 {
                    break;
                }
                n += k;
                self.pos += k as u64;
                continue;
            }
            if self.buf.len() < READ_BUFFER {
                self.buf.resize(READ_BUFFER, 0);
            }
            let k = Self::read_once(&mut self.r, &mut self.buf)?;
            self.head = 0;
            self.tail = k;
            if k == 0 {
                break;
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Returns at most 3 bytes per read.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let k = self.0.len().min(out.len()).min(3);
            out[..k].copy_from_slice(&self.0[..k]);
            self.0 = &self.0[k..];
            Ok(k)
        }
    }

    #[test]
    fn fills_across_reads_and_counts() {
        let data: Vec<u8> = (0..100).collect();
        for exact in [false, true] {
            let mut s = ByteSource::new(Trickle(&data));
            s.exact = exact;
            let mut a = [0u8; 10];
            assert_eq!(s.fill(&mut a).unwrap(), 10);
            assert_eq!(a[9], 9);
            // Read-ahead holds what the last read returned beyond the request, exact mode nothing.
            assert_eq!(s.buffered().len(), if exact { 0 } else { 2 });
            let mut rest = vec![0u8; 200];
            assert_eq!(s.fill(&mut rest).unwrap(), 90);
            assert_eq!(s.pos, 100);
            assert_eq!(rest[89], 99);
        }
    }

    #[test]
    fn exact_mode_never_reads_past_what_was_asked() {
        let data = [1u8, 2, 3, 4, 5, 6];
        let mut s = ByteSource::new(&data[..]);
        s.exact = true;
        let mut a = [0u8; 4];
        s.fill(&mut a).unwrap();
        assert_eq!(s.into_inner(), &[5, 6]);
    }
}
