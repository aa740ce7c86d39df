//! The whole pipeline with the real default model: one-image files, batch streams, every decoder error
//! path through the public API, model mismatch and lookup, and independence from `Read` sizes.

use crate::readers;
use readers::OneByte;

use std::path::PathBuf;
use std::sync::OnceLock;

use aez::format::consts::*;
use aez::format::{crc32, Kind};
use aez::{Coder, Decoder, Encoder, Error, Model, ModelChoice, Options};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The default model, or the bundle folder named by `AEZ_TEST_BUNDLE` (to run these tests against another
/// bundle; for the lookup tests its parent folder must then be in `AEZ_MODEL_PATH`).
fn model() -> &'static Model {
    static M: OnceLock<Model> = OnceLock::new();
    M.get_or_init(|| match std::env::var_os("AEZ_TEST_BUNDLE") {
        Some(dir) => Model::load(
            aez::Bundle::from_dir(std::path::Path::new(&dir)).unwrap(),
            aez::BackendChoice::Auto,
        )
        .unwrap(),
        None => Model::default_model().expect("the default model loads"),
    })
}

/// The 64 Fashion-MNIST test images of fixtures/idx.
fn images() -> &'static Vec<Vec<u8>> {
    static I: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    I.get_or_init(|| {
        aez::io::IdxReader::open(
            &root().join("fixtures/idx/fmnist-t10k-64.idx"),
            Default::default(),
        )
        .unwrap()
        .collect::<aez::Result<Vec<_>>>()
        .unwrap()
    })
}

fn psnr(a: &[u8], b: &[u8]) -> f64 {
    let mse: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum::<f64>()
        / a.len() as f64;
    10.0 * (255.0f64 * 255.0 / mse.max(1e-9)).log10()
}

fn encode_stream(imgs: &[Vec<u8>], options: Options) -> Vec<u8> {
    let mut enc = Encoder::new(Vec::new(), model(), options).unwrap();
    for p in imgs {
        enc.push_pixels(p).unwrap();
    }
    enc.finish().unwrap()
}

/// The same stream (one or a concatenation) rewritten with explicit geometry: width and height stored
/// (geometry field `00`, 17-byte headers), as a writer for a model of any geometry would write it.
fn with_explicit_geometry(bytes: &[u8]) -> Vec<u8> {
    let g = model().bundle().geometry();
    let mut rd = aez::format::StreamReader::new(bytes, None, Default::default());
    let mut streams: Vec<(aez::format::Header, Vec<Vec<u8>>)> = vec![];
    while let Some(ev) = rd.next_event().unwrap() {
        match ev {
            aez::format::Event::Header(h) => {
                assert!(!h.header.geometry_stored(), "the codec elides the geometry");
                streams.push((h.header.resolved(g.width as u16, g.height as u16), vec![]));
            }
            aez::format::Event::Record(r) => streams.last_mut().unwrap().1.push(r.payload),
        }
    }
    let mut out = vec![];
    for (h, recs) in streams {
        match h.kind {
            Kind::Single => out.extend(aez::format::single_image(h, &recs[0])),
            Kind::Batch => {
                let mut w = aez::format::StreamWriter::new(Vec::new(), h).unwrap();
                for r in &recs {
                    w.write_record(r).unwrap();
                }
                out.extend(w.finish().unwrap());
            }
        }
    }
    out
}

/// Decodes everything; returns the images delivered and the error that stopped it, if any.
fn decode_all<R: std::io::Read>(r: R, options: Options) -> (Vec<Vec<u8>>, Option<Error>) {
    let mut dec = match Decoder::new(r, model(), options) {
        Ok(d) => d,
        Err(e) => return (vec![], Some(e)),
    };
    let mut out = vec![];
    loop {
        match dec.next_pixels() {
            Ok(Some(p)) => out.push(p),
            Ok(None) => return (out, None),
            Err(e) => {
                assert!(
                    matches!(dec.next_pixels(), Ok(None)),
                    "fused after an error"
                );
                return (out, Some(e));
            }
        }
    }
}

#[test]
fn one_image_files_are_small_and_decode_well() {
    for i in 0..8 {
        let path = root().join(format!("fixtures/images/fmnist-t10k-{i:05}.png"));
        let img = image::open(&path).unwrap();
        let bytes = aez::compress(model(), &img).unwrap();
        assert!(
            bytes.len() <= 48,
            "{}: {} bytes",
            path.display(),
            bytes.len()
        );
        assert_eq!(&bytes[..4], &MAGIC);
        let back = aez::decompress(model(), &bytes).unwrap();
        let p = psnr(img.to_luma8().as_raw(), back.to_luma8().as_raw());
        assert!(p > 14.0, "{}: PSNR {p:.1} dB", path.display());
        // Found by id, without giving the model.
        let again = aez::decompress(ModelChoice::default(), &bytes).unwrap();
        assert_eq!(again.to_luma8().as_raw(), back.to_luma8().as_raw());
    }
}

#[test]
fn wrong_size_image_is_an_image_error() {
    let img = image::open(root().join("fixtures/images/wrong-size-32x32.png")).unwrap();
    let e = aez::compress(model(), &img).unwrap_err();
    assert!(matches!(e, Error::Image { .. }), "{e}");
    assert!(e.to_string().contains("32x32"), "{e}");
}

#[test]
fn batch_round_trip_both_coders() {
    let imgs = images();
    let mut sizes = vec![];
    for coder in Coder::ALL {
        let bytes = encode_stream(
            imgs,
            Options::default().with_coder(coder).with_batch_size(16),
        );
        let (out, err) = decode_all(&bytes[..], Options::default());
        assert!(err.is_none(), "{coder}: {err:?}");
        assert_eq!(out.len(), imgs.len());
        let mean: f64 =
            out.iter().zip(imgs).map(|(a, b)| psnr(a, b)).sum::<f64>() / out.len() as f64;
        assert!(mean > 16.0, "{coder}: mean PSNR {mean:.1}");
        sizes.push(bytes.len());
        // inspect agrees.
        let info = aez::inspect(&bytes[..], None, Default::default()).unwrap();
        assert_eq!(info[0].records, imgs.len() as u64);
        assert_eq!(info[0].header.coder, coder);
        assert_eq!(info[0].bytes, bytes.len() as u64);
    }
    assert!(
        sizes[0] < sizes[1],
        "range {} should beat zstd {}",
        sizes[0],
        sizes[1]
    );
    assert!((sizes[0] as f64) / (imgs.len() as f64) < 30.0);
}

#[test]
fn batch_equals_single_image_coding() {
    // The same image coded alone or in a batch: same symbols, so same decoded pixels (within one level,
    // the network may batch differently).
    let imgs = &images()[..5];
    let bytes = encode_stream(imgs, Options::default());
    let (batch, err) = decode_all(&bytes[..], Options::default());
    assert!(err.is_none());
    for (i, p) in imgs.iter().enumerate() {
        let one = aez::codec::compress_pixels(model(), p, &Options::default()).unwrap();
        let img = aez::decompress(model(), &one).unwrap();
        let d = max_diff(img.to_luma8().as_raw(), &batch[i]);
        assert!(d <= 1, "image {i}: max difference {d}");
    }
}

/// The largest difference between two images' samples.
fn max_diff(a: &[u8], b: &[u8]) -> u8 {
    a.iter().zip(b).map(|(&x, &y)| x.abs_diff(y)).max().unwrap()
}

#[test]
fn decoding_is_independent_of_read_sizes_and_batch_size() {
    let imgs = &images()[..20];
    let bytes = encode_stream(imgs, Options::default());
    let (a, ea) = decode_all(&bytes[..], Options::default());
    let (b, eb) = decode_all(OneByte(&bytes), Options::default().with_batch_size(1));
    let (c, ec) = decode_all(OneByte(&bytes), Options::default().with_batch_size(7));
    assert!(ea.is_none() && eb.is_none() && ec.is_none());
    assert_eq!(a.len(), 20);
    for i in 0..20 {
        for other in [&b[i], &c[i]] {
            let d = max_diff(&a[i], other);
            assert!(d <= 1, "image {i}");
        }
    }
}

#[test]
fn every_bit_flip_is_an_error_after_the_good_images() {
    let imgs = &images()[..3];
    let elided = encode_stream(imgs, Options::default());
    let (good, _) = decode_all(&elided[..], Options::default());
    let one_elided = aez::codec::compress_pixels(model(), &imgs[0], &Options::default()).unwrap();
    for explicit in [false, true] {
        let bytes = if explicit {
            with_explicit_geometry(&elided)
        } else {
            elided.clone()
        };
        assert_eq!(decode_all(&bytes[..], Options::default()).0, good);
        for bit in 0..bytes.len() * 8 {
            let mut d = bytes.clone();
            d[bit / 8] ^= 1 << (bit % 8);
            let (out, err) = decode_all(&d[..], Options::default().with_batch_size(2));
            assert!(err.is_some(), "flip of bit {bit} not detected");
            assert_eq!(
                &out[..],
                &good[..out.len()],
                "bit {bit}: a delivered image differs"
            );
        }
        // The same for a one-image file.
        let one = if explicit {
            with_explicit_geometry(&one_elided)
        } else {
            one_elided.clone()
        };
        assert!(aez::decompress(model(), &one).is_ok());
        for bit in 0..one.len() * 8 {
            let mut d = one.clone();
            d[bit / 8] ^= 1 << (bit % 8);
            assert!(
                aez::decompress(model(), &d).is_err(),
                "single: flip of bit {bit} not detected"
            );
        }
    }
}

#[test]
fn every_truncation_is_an_error_after_the_good_images() {
    let imgs = &images()[..4];
    let elided = encode_stream(imgs, Options::default());
    let (good, _) = decode_all(&elided[..], Options::default());
    let one_elided = aez::codec::compress_pixels(model(), &imgs[0], &Options::default()).unwrap();
    for explicit in [false, true] {
        let bytes = if explicit {
            with_explicit_geometry(&elided)
        } else {
            elided.clone()
        };
        let one = if explicit {
            with_explicit_geometry(&one_elided)
        } else {
            one_elided.clone()
        };
        for cut in 0..one.len() {
            assert!(
                aez::decompress(model(), &one[..cut]).is_err(),
                "single: cut {cut}"
            );
        }
        for cut in 0..bytes.len() {
            let (out, err) = decode_all(&bytes[..cut], Options::default());
            let err = err.unwrap_or_else(|| panic!("truncation at {cut} not detected"));
            assert_eq!(&out[..], &good[..out.len()]);
            if let Error::Format { at, .. } = &err {
                assert!(at.offset <= cut as u64);
            }
        }
        // Every record before the damage is delivered: cut inside the last record.
        let (out, err) = decode_all(&bytes[..bytes.len() - 8], Options::default());
        assert_eq!(out.len(), 3);
        match err {
            Some(Error::Format { at, what }) => {
                assert_eq!(at.record, Some(3));
                assert!(what.to_string().contains("truncated"), "{what}");
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn encoder_dropped_without_finish_is_reported_as_truncated() {
    let mut buf = Vec::new();
    {
        let mut enc =
            Encoder::new(&mut buf, model(), Options::default().with_batch_size(2)).unwrap();
        for p in &images()[..5] {
            enc.push_pixels(p).unwrap();
        }
        assert_eq!(enc.records_written(), 4);
    }
    let (out, err) = decode_all(&buf[..], Options::default());
    assert_eq!(out.len(), 4);
    assert!(err.unwrap().to_string().contains("without its end marker"));
}

#[test]
fn other_model_id_is_a_model_mismatch() {
    // One-image file with another id (CRC recomputed, so only the id is wrong).
    let one = aez::codec::compress_pixels(model(), &images()[0], &Options::default()).unwrap();
    let mut d = one.clone();
    d[OFF_MODEL_ID] ^= 0xff;
    let n = d.len();
    let crc = crc32(&[&d[..n - 4]]);
    d[n - 4..].copy_from_slice(&crc.to_le_bytes());
    match aez::decompress(model(), &d) {
        Err(Error::ModelMismatch { at, wanted, loaded }) => {
            assert_eq!(at.offset, OFF_MODEL_ID as u64);
            assert!(
                wanted.contains(&format!("{:02x}", d[OFF_MODEL_ID])),
                "{wanted}"
            );
            assert!(loaded.contains(model().bundle().name()), "{loaded}");
        }
        other => panic!("{other:?}"),
    }
    // And by lookup: no known model has that id.
    assert!(matches!(
        aez::decompress(ModelChoice::default(), &d),
        Err(Error::ModelMismatch { .. })
    ));
    // Batch stream: header CRC recomputed.
    let mut b = encode_stream(&images()[..2], Options::default());
    b[OFF_MODEL_ID + 3] ^= 1;
    let n = HEADER_LEN_MODEL_GEOMETRY;
    let hc = crc32(&[&b[..n]]);
    b[n..n + 4].copy_from_slice(&hc.to_le_bytes());
    let (out, err) = decode_all(&b[..], Options::default());
    assert!(out.is_empty());
    assert!(matches!(err, Some(Error::ModelMismatch { .. })), "{err:?}");
}

#[test]
fn wrong_geometry_in_a_valid_header_is_reported() {
    let elided = aez::codec::compress_pixels(model(), &images()[0], &Options::default()).unwrap();
    assert_eq!(elided[OFF_FLAGS] & FLAGS_GEOMETRY_MASK, FLAGS_GEOMETRY_MASK);
    // A stored geometry equal to the model's is accepted: the same image.
    let one = with_explicit_geometry(&elided);
    assert_eq!(one.len(), elided.len() + EXPLICIT_GEOMETRY_OVERHEAD);
    assert_eq!(&one[OFF_WIDTH..OFF_HEIGHT + 2], &[28, 0, 28, 0]);
    assert_eq!(
        aez::decompress(model(), &one).unwrap().into_bytes(),
        aez::decompress(model(), &elided).unwrap().into_bytes()
    );
    // Any other stored geometry is refused at its field (CRC recomputed, so only the size is wrong).
    for (off, at_field, val, text) in [
        (OFF_WIDTH, OFF_WIDTH, 27, "27x28"),
        (OFF_HEIGHT, OFF_HEIGHT, 29, "28x29"),
        (OFF_WIDTH + 1, OFF_WIDTH, 1, "284x28"),
    ] {
        let mut d = one.clone();
        d[off] = val;
        let n = d.len();
        let crc = crc32(&[&d[..n - 4]]);
        d[n - 4..].copy_from_slice(&crc.to_le_bytes());
        match aez::decompress(model(), &d) {
            Err(Error::Format { at, what }) => {
                assert_eq!(at.offset, at_field as u64);
                assert!(what.to_string().contains(text), "{what}");
            }
            other => panic!("{other:?}"),
        }
    }
    // The same in a batch (header CRC recomputed).
    let b = with_explicit_geometry(&encode_stream(&images()[..2], Options::default()));
    let mut d = b.clone();
    d[OFF_HEIGHT] = 14;
    let n = HEADER_LEN_EXPLICIT_GEOMETRY;
    let hc = crc32(&[&d[..n]]);
    d[n..n + 4].copy_from_slice(&hc.to_le_bytes());
    let (out, err) = decode_all(&d[..], Options::default());
    assert!(out.is_empty());
    match err {
        Some(Error::Format { at, what }) => {
            assert_eq!(at.offset, OFF_HEIGHT as u64);
            assert!(what.to_string().contains("28x14"), "{what}");
        }
        other => panic!("{other:?}"),
    }
    // The invalid geometry fields 01 and 10: refused at the flags byte, whatever the CRC says.
    for bits in [0x10u8, 0x20] {
        let mut d = elided.clone();
        d[OFF_FLAGS] = (d[OFF_FLAGS] & !FLAGS_GEOMETRY_MASK) | bits;
        let n = d.len();
        let crc = crc32(&[&d[..n - 4]]);
        d[n - 4..].copy_from_slice(&crc.to_le_bytes());
        match aez::decompress(model(), &d) {
            Err(Error::Format { at, what }) => {
                assert_eq!(at.offset, OFF_FLAGS as u64);
                assert!(
                    what.to_string().contains("invalid geometry field"),
                    "{what}"
                );
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn the_models_geometry_is_checked_against_the_limits_when_not_stored() {
    let one = aez::codec::compress_pixels(model(), &images()[0], &Options::default()).unwrap();
    let g = model().bundle().geometry();
    let limits = aez::Limits::default().with_max_side(g.width - 1);
    match Decoder::new(&one[..], model(), Options::default().with_limits(limits)) {
        Err(Error::Limit { at, what, .. }) => {
            assert_eq!(what, "width");
            assert_eq!(at.offset, OFF_FLAGS as u64);
        }
        other => panic!("{other:?}"),
    }
    let limits = aez::Limits::default().with_max_samples(g.samples() as u64 - 1);
    match Decoder::new(&one[..], model(), Options::default().with_limits(limits)) {
        Err(Error::Limit { at, what, .. }) => {
            assert_eq!(what, "samples per image");
            assert_eq!(at.offset, OFF_FLAGS as u64);
        }
        other => panic!("{other:?}"),
    }
    // The decoder's header has the model's width and height; the stream header is as stored.
    let dec = Decoder::new(&one[..], model(), Options::default()).unwrap();
    assert_eq!(
        (
            u32::from(dec.header().width),
            u32::from(dec.header().height)
        ),
        (g.width, g.height)
    );
    assert!(!dec.stream_header().header.geometry_stored());
}

#[test]
fn decompress_wants_exactly_one_image() {
    let two = encode_stream(&images()[..2], Options::default());
    assert!(aez::decompress(model(), &two)
        .unwrap_err()
        .to_string()
        .contains("more than one"));
    let none = encode_stream(&[], Options::default());
    assert!(aez::decompress(model(), &none)
        .unwrap_err()
        .to_string()
        .contains("no image"));
    let one = encode_stream(&images()[..1], Options::default());
    assert!(
        aez::decompress(model(), &one).is_ok(),
        "a batch of one image is fine"
    );
    let mut trailing =
        aez::codec::compress_pixels(model(), &images()[0], &Options::default()).unwrap();
    trailing.push(0);
    assert!(aez::decompress(model(), &trailing)
        .unwrap_err()
        .to_string()
        .contains("trailing"));
}

#[test]
fn concatenated_streams_decode_in_order() {
    let a = encode_stream(&images()[..3], Options::default());
    let b = aez::codec::compress_pixels(model(), &images()[3], &Options::default()).unwrap();
    let c = encode_stream(&images()[4..6], Options::default().with_coder(Coder::Zstd));
    let d = with_explicit_geometry(&[b.clone(), a.clone()].concat());
    let all = [a.clone(), b, c, d].concat();
    let (out, err) = decode_all(OneByte(&all), Options::default());
    assert!(err.is_none(), "{err:?}");
    assert_eq!(out.len(), 10);
    assert_eq!(&out[6..7], &out[3..4]);
    assert_eq!(&out[7..], &out[..3]);
    let (first, _) = decode_all(&a[..], Options::default());
    assert_eq!(&out[..3], &first[..]);
}

#[test]
fn push_checks_sample_count_and_kind_is_batch() {
    let mut enc = Encoder::new(Vec::new(), model(), Options::default()).unwrap();
    assert!(matches!(
        enc.push_pixels(&[0; 10]),
        Err(Error::InvalidArgument { .. })
    ));
    let bytes = enc.finish().unwrap();
    assert_eq!(
        bytes[OFF_FLAGS] & FLAGS_KIND_MASK,
        KIND_BATCH << FLAGS_KIND_SHIFT
    );
    assert_eq!(bytes.len(), BATCH_STREAM_OVERHEAD);
    let _ = Kind::Batch;
}

#[test]
fn public_types_are_send_and_sync_where_they_should_be() {
    fn send<T: Send>() {}
    fn sync<T: Sync>() {}
    send::<Model>();
    sync::<Model>();
    send::<Encoder<Vec<u8>>>();
    send::<Decoder<std::fs::File>>();
    sync::<Decoder<&[u8]>>();
    send::<Error>();
    sync::<Options>();
}

#[test]
fn a_payload_that_does_not_decode_is_an_entropy_error_with_its_place() {
    // A crafted stream: valid CRCs, but record 2's payload is not what the range coder writes.
    let b = model().bundle();
    let header =
        aez::format::Header::model_geometry(Coder::Range, Kind::Batch, aez::codec::model_id(b));
    let good = encode_stream(&images()[..2], Options::default());
    let payloads: Vec<Vec<u8>> = {
        let mut rd = aez::format::StreamReader::new(&good[..], None, Default::default());
        let mut v = vec![];
        while let Some(ev) = rd.next_event().unwrap() {
            if let aez::format::Event::Record(r) = ev {
                v.push(r.payload);
            }
        }
        v
    };
    let mut w = aez::format::StreamWriter::new(Vec::new(), header).unwrap();
    w.write_record(&payloads[0]).unwrap();
    w.write_record(&payloads[1]).unwrap();
    let mut bad = payloads[1].clone();
    bad.push(0); // a trailing zero byte is never written by the encoder
    let bad_offset = w.bytes_written();
    w.write_record(&bad).unwrap();
    let bytes = w.finish().unwrap();
    let (out, err) = decode_all(&bytes[..], Options::default());
    assert_eq!(out.len(), 2);
    match err {
        Some(Error::Entropy { at, what }) => {
            assert_eq!(at.record, Some(2));
            assert_eq!(at.offset, bad_offset + 1, "the payload's first byte");
            assert!(what.contains("leftover"), "{what}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn decoder_survives_garbage_after_a_valid_header() {
    let good = encode_stream(&images()[..1], Options::default());
    let mut seed = 5u64;
    for _ in 0..300 {
        let mut d = good[..HEADER_LEN_MODEL_GEOMETRY + CRC_LEN].to_vec();
        let n = (seed % 64) as usize;
        for _ in 0..n {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            d.push((seed >> 33) as u8);
        }
        let (_, err) = decode_all(&d[..], Options::default());
        assert!(err.is_some());
    }
}
