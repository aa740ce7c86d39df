//! Streaming without stalls: a decoder delivers each image as soon as its record has arrived, even with
//! a batch size far above the number of records in flight; an encoder's `flush` makes its records
//! available at once; a stream embedded in a longer input is read without reading past its end.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use aez::format::{Event, StreamReader};
use aez::{Decoder, Encoder, Model, Options};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn images(n: usize) -> Vec<Vec<u8>> {
    let raw = std::fs::read(root().join("fixtures/idx/fmnist-t10k-64.idx")).expect("fixture idx");
    raw[16..]
        .chunks_exact(784)
        .take(n)
        .map(<[u8]>::to_vec)
        .collect()
}

/// A batch stream of `n` images, and the offsets where its records end (after the header for 0).
fn stream_and_cuts(n: usize) -> (Vec<u8>, Vec<usize>) {
    let model = Model::default_model().unwrap();
    let mut enc = Encoder::new(Vec::new(), &model, Options::default()).unwrap();
    for img in images(n) {
        enc.push_pixels(&img).unwrap();
    }
    let bytes = enc.finish().unwrap();
    let mut rd = StreamReader::new(&bytes[..], None, Default::default());
    let mut starts = Vec::new();
    while let Some(ev) = rd.next_event().unwrap() {
        if let Event::Record(r) = ev {
            starts.push(r.offset as usize);
        }
    }
    // cuts[i]: the bytes up to and including record i - 1 (cuts[0]: the header and its CRC).
    let mut cuts = starts.clone();
    cuts.push(bytes.len() - 5);
    (bytes, cuts)
}

/// A `Read` fed through a channel: each read returns one chunk as it arrives, and blocks before that.
struct Pipe(mpsc::Receiver<Vec<u8>>, Vec<u8>);

impl Read for Pipe {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.1.is_empty() {
            match self.0.recv() {
                Ok(chunk) => self.1 = chunk,
                Err(_) => return Ok(0),
            }
        }
        let k = self.1.len().min(out.len());
        out[..k].copy_from_slice(&self.1[..k]);
        self.1.drain(..k);
        Ok(k)
    }
}

#[test]
fn each_image_comes_out_before_the_next_record_goes_in() {
    let (bytes, cuts) = stream_and_cuts(5);
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    let (got_tx, got_rx) = mpsc::channel::<usize>();
    let model = Model::default_model().unwrap();
    let decoder = std::thread::spawn(move || {
        // A batch size far above the 5 records: batching must not wait for records not yet sent.
        let dec = Decoder::new(Pipe(rx, Vec::new()), &model, Options::default()).unwrap();
        let mut n = 0;
        for img in dec {
            img.unwrap();
            n += 1;
            if got_tx.send(n).is_err() {
                break;
            }
        }
        n
    });
    // The header, then record i only once image i - 1 is out.
    tx.send(bytes[..cuts[0]].to_vec()).unwrap();
    for i in 0..5 {
        tx.send(bytes[cuts[i]..cuts[i + 1]].to_vec()).unwrap();
        let n = got_rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| {
                panic!(
                    "image {i} was not delivered before record {} was sent",
                    i + 1
                )
            });
        assert_eq!(n, i + 1);
    }
    tx.send(bytes[cuts[5]..].to_vec()).unwrap();
    drop(tx);
    assert_eq!(decoder.join().unwrap(), 5);
}

#[test]
fn a_slow_pipe_into_the_cli_writes_the_first_png_before_the_second_record() {
    let (bytes, cuts) = stream_and_cuts(3);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut child = Command::new(env!("CARGO_BIN_EXE_aez"))
        .env_remove("AEZ_MODEL_PATH")
        .env("AEZ_BACKEND", "tract")
        .args(["decompress", "-"])
        .arg(format!("{}/", out.display()))
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&bytes[..cuts[1]]).unwrap();
    stdin.flush().unwrap();
    let first = out.join("000000.png");
    let t = Instant::now();
    while !first.exists() {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "no PNG written while the pipe holds one record"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!out.join("000001.png").exists());
    stdin.write_all(&bytes[cuts[1]..]).unwrap();
    drop(stdin);
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 3);
}

#[test]
fn flush_makes_the_buffered_images_decodable_now() {
    let model = Model::default_model().unwrap();
    let mut enc = Encoder::new(Vec::new(), &model, Options::default()).unwrap();
    let imgs = images(3);
    for img in &imgs {
        enc.push_pixels(img).unwrap();
    }
    assert_eq!(enc.records_written(), 0);
    assert_eq!(enc.images_buffered(), 3);
    enc.flush().unwrap();
    assert_eq!((enc.records_written(), enc.images_buffered()), (3, 0));
    // What was written so far decodes to the 3 images, then reads as truncated (no end marker yet).
    let so_far = enc.get_ref().unwrap().clone();
    let mut dec = Decoder::new(&so_far[..], &model, Options::default()).unwrap();
    for _ in 0..3 {
        assert!(dec.next_pixels().unwrap().is_some());
    }
    let e = dec.next_pixels().unwrap_err();
    assert!(e.is_truncated(), "{e}");
    let all = enc.finish().unwrap();
    assert!(all.starts_with(&so_far));
}

#[test]
fn an_embedded_stream_is_read_to_its_end_and_not_one_byte_further() {
    let (bytes, _) = stream_and_cuts(4);
    let mut input = bytes.clone();
    input.extend_from_slice(b"trailing data of another format");
    let model = Model::default_model().unwrap();
    let opts = Options::default().with_single_stream(true);
    let mut dec = Decoder::new(&input[..], &model, opts).unwrap();
    let mut buf = vec![0u8; dec.image_len()];
    let mut n = 0;
    while dec.next_pixels_into(&mut buf).unwrap() {
        n += 1;
    }
    assert_eq!(n, 4);
    assert_eq!(dec.into_inner(), b"trailing data of another format");
    // Without single_stream the trailing bytes are an error, after the 4 images.
    let dec = Decoder::new(&input[..], &model, Options::default()).unwrap();
    let results: Vec<_> = dec.collect();
    assert_eq!(results.len(), 5);
    let e = results[4].as_ref().unwrap_err();
    assert!(e.to_string().contains("trailing bytes"), "{e}");
    assert!(!e.is_truncated());
}

#[test]
fn decoding_into_a_buffer_checks_its_length() {
    let (bytes, _) = stream_and_cuts(2);
    let model = Model::default_model().unwrap();
    let mut dec = Decoder::new(&bytes[..], &model, Options::default()).unwrap();
    let mut small = vec![0u8; 10];
    assert!(dec.next_pixels_into(&mut small).is_err());
    let mut buf = vec![0u8; dec.image_len()];
    assert!(dec.next_pixels_into(&mut buf).unwrap());
    assert!(dec.next_pixels_into(&mut buf).unwrap());
    assert!(!dec.next_pixels_into(&mut buf).unwrap());
    assert_eq!(dec.images_delivered(), 2);
}
