//! Tests of the IDX reader and writer.

use std::io::{Cursor, Read, Write};
use std::path::Path;

use super::*;
use crate::error::{Error, Result};

fn idx(count: u32, rows: u32, cols: u32, records: &[u8]) -> Vec<u8> {
    let mut v = MAGIC_IDX3_U8.to_vec();
    for d in [count, rows, cols] {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend_from_slice(records);
    v
}

fn reader(bytes: Vec<u8>) -> Result<IdxReader<Box<dyn Read + Send>>> {
    IdxReader::from_reader(
        Cursor::new(bytes),
        Some("t.idx".into()),
        IdxLimits::default(),
    )
}

#[test]
fn reads_records_then_end() {
    let mut r = reader(idx(2, 2, 3, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])).unwrap();
    assert_eq!(
        *r.header(),
        IdxHeader {
            count: 2,
            rows: 2,
            cols: 3,
            channels: 1,
            ndims: 3,
        }
    );
    assert_eq!(r.next_record().unwrap(), Some(vec![1, 2, 3, 4, 5, 6]));
    assert_eq!(r.next_record().unwrap(), Some(vec![7, 8, 9, 10, 11, 12]));
    assert_eq!(r.next_record().unwrap(), None);
}

#[test]
fn reads_gzip() {
    use flate2::write::GzEncoder;
    let raw = idx(1, 1, 2, &[9, 8]);
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&raw).unwrap();
    let recs: Vec<_> = reader(gz.finish().unwrap())
        .unwrap()
        .collect::<Result<_>>()
        .unwrap();
    assert_eq!(recs, vec![vec![9, 8]]);
}

#[test]
fn truncated_record_names_record_and_offset() {
    let mut r = reader(idx(2, 2, 2, &[1, 2, 3, 4, 5])).unwrap();
    assert!(r.next_record().unwrap().is_some());
    let err = r.next_record().unwrap_err();
    match &err {
        Error::Format { at, .. } => {
            assert_eq!(at.record, Some(1));
            assert_eq!(at.offset, 16 + 4 + 1);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err
        .to_string()
        .starts_with("t.idx: record 1, byte offset 21: truncated"));
    // After an error the iterator ends.
    assert!(r.next().is_none());
}

/// A gray IDX4 file (magic `00 00 08 04`, channels 1): its header is 20 bytes, not IDX3's 16.
#[test]
fn gray_idx4_offsets_count_its_20_byte_header() {
    let mut bytes = MAGIC_IDX4_U8.to_vec();
    for d in [3u32, 2, 2, 1] {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8, 9]); // 2 records of 4 bytes, then 1 byte
    let mut r = reader(bytes).unwrap();
    assert_eq!(r.header().channels, 1);
    assert_eq!(r.header().ndims, 4);
    assert_eq!(r.header().header_bytes(), 20);
    assert_eq!(r.header().to_bytes()[..4], MAGIC_IDX4_U8);
    assert_eq!(r.next_record().unwrap(), Some(vec![1, 2, 3, 4]));
    assert_eq!(r.next_record().unwrap(), Some(vec![5, 6, 7, 8]));
    let err = r.next_record().unwrap_err();
    match &err {
        Error::Format { at, .. } => {
            assert_eq!(at.record, Some(2));
            assert_eq!(at.offset, 20 + 2 * 4 + 1);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(
        err.to_string()
            .starts_with("t.idx: record 2, byte offset 29: truncated"),
        "{err}"
    );
}

#[test]
fn trailing_data_is_an_error() {
    let mut r = reader(idx(1, 1, 1, &[1, 2])).unwrap();
    assert!(r.next_record().unwrap().is_some());
    let err = r.next_record().unwrap_err().to_string();
    assert!(
        err.contains("byte offset 17") && err.contains("after the last"),
        "{err}"
    );
}

#[test]
fn bad_magic_and_limits_refused_before_reading() {
    let err = reader(b"\x89PNG\r\n\x1a\n".to_vec())
        .unwrap_err()
        .to_string();
    assert!(err.contains("not an IDX file"), "{err}");
    let err = reader(vec![0, 0, 8, 1, 0, 0, 0, 1])
        .unwrap_err()
        .to_string();
    assert!(err.contains("1 dimensions"), "{err}");
    let err = reader(vec![0, 0, 0x0d, 3]).unwrap_err().to_string();
    assert!(err.contains("0x0d"), "{err}");
    // Huge dimensions: a Limit error, not an allocation.
    let err = reader(idx(1, 1 << 20, 1 << 20, &[])).unwrap_err();
    assert!(matches!(err, Error::Limit { .. }), "{err:?}");
    let limits = IdxLimits {
        max_count: 10,
        ..IdxLimits::default()
    };
    let err = IdxReader::new(Cursor::new(idx(11, 1, 1, &[0; 11])), None, limits).unwrap_err();
    assert!(
        err.to_string()
            .contains("IDX image count is 11, over the limit of 10"),
        "{err}"
    );
    let err = reader(idx(1, 0, 5, &[])).unwrap_err().to_string();
    assert!(err.contains("rows is 0"), "{err}");
    let err = reader(vec![0, 0, 8, 3, 0, 0]).unwrap_err().to_string();
    assert!(
        err.contains("byte offset 4") && err.contains("dimension 0"),
        "{err}"
    );
}

#[test]
fn writer_patches_count_and_round_trips() {
    let mut w = IdxWriter::new(Cursor::new(Vec::new()), 2, 2, 1).unwrap();
    w.write_record(&[1, 2, 3, 4]).unwrap();
    w.write_record(&[5, 6, 7, 8]).unwrap();
    assert!(w.write_record(&[1]).is_err());
    let bytes = w.finish().unwrap().into_inner();
    assert_eq!(bytes, idx(2, 2, 2, &[1, 2, 3, 4, 5, 6, 7, 8]));

    let mut w = IdxWriter::new(Cursor::new(Vec::new()), 1, 2, 3).unwrap();
    w.write_record(&[1, 2, 3, 4, 5, 6]).unwrap();
    let bytes = w.finish().unwrap().into_inner();
    assert_eq!(&bytes[..4], &MAGIC_IDX4_U8);
    let mut r = reader(bytes).unwrap();
    assert_eq!(r.header().channels, 3);
    assert_eq!(r.next_record().unwrap(), Some(vec![1, 2, 3, 4, 5, 6]));
    assert_eq!(r.next_record().unwrap(), None);
}

/// Returns at most one byte per `read` call, like a slow pipe.
struct OneByte(Cursor<Vec<u8>>);

impl Read for OneByte {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(1);
        self.0.read(&mut buf[..n])
    }
}

#[test]
fn one_byte_reads_give_the_same_records() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/idx");
    for name in ["fmnist-t10k-64.idx", "fmnist-t10k-64.idx.gz"] {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let whole: Vec<_> = reader(bytes.clone())
            .unwrap()
            .collect::<Result<_>>()
            .unwrap();
        let slow: Vec<_> =
            IdxReader::from_reader(OneByte(Cursor::new(bytes)), None, IdxLimits::default())
                .unwrap()
                .collect::<Result<_>>()
                .unwrap();
        assert_eq!(whole.len(), 64);
        assert_eq!(whole, slow, "{name}");
    }
}

#[test]
fn corrupt_gzip_is_a_format_error() {
    let gz = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/idx/fmnist-t10k-64.idx.gz"),
    )
    .unwrap();
    // Cut the gzip stream short: the records it still holds come out, then an error with a location.
    let mut r = reader(gz[..gz.len() / 2].to_vec()).unwrap();
    let mut n = 0;
    let err = loop {
        match r.next_record() {
            Ok(Some(_)) => n += 1,
            Ok(None) => panic!("a cut gzip stream must not end cleanly"),
            Err(e) => break e,
        }
    };
    assert!(n > 0 && n < 64, "{n}");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("t.idx: record {n}, byte offset ")),
        "{text}"
    );
}

#[test]
fn fixture_idx_raw_and_gz_agree() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/idx");
    let raw: Vec<_> = IdxReader::open(&dir.join("fmnist-t10k-64.idx"), IdxLimits::default())
        .unwrap()
        .collect::<Result<_>>()
        .unwrap();
    let gz: Vec<_> = IdxReader::open(&dir.join("fmnist-t10k-64.idx.gz"), IdxLimits::default())
        .unwrap()
        .collect::<Result<_>>()
        .unwrap();
    assert_eq!(raw.len(), 64);
    assert_eq!(raw, gz);
    assert!(raw.iter().all(|r| r.len() == 784));
}
