//! Shared pieces of the aez fuzz targets: the default model and the version-2 test bundle `tiny-conv`
//! (each loaded once), limits small enough to keep every input cheap, readers that split the input
//! differently, an allocation guard, the "transcript" of what the container and entropy layers make of
//! an input, the writers' rebuild of a parsed input, a builder of version-2 streams with valid CRCs
//! around arbitrary descriptors and payloads, and a model of what the decoder must make of a version-2
//! input (the images it delivers and its first error), computed from the container and entropy layers
//! and an alpha check of our own.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{ErrorKind, Read};
use std::sync::OnceLock;

use aez::entropy::{decode_latent, decode_latents, decode_symbols, Coder, SymbolTable};
use aez::format::consts::{
    DESCRIPTOR_PER_IMAGE, DESCRIPTOR_SHARED, FLAGS_DESCRIPTOR_SHIFT, FLAGS_GEOMETRY_SHIFT,
    FLAGS_KIND_SHIFT, GEOMETRY_EXPLICIT, GEOMETRY_MODEL, KIND_BATCH, KIND_SINGLE, MAGIC, OFF_DESC,
    OFF_FLAGS, VERSION_2,
};
use aez::format::{
    crc32, head, record_crc, varint_len, AnyHeader, Colour, Descriptors, Event, ImageDesc, Kind,
    Part, StreamReader, StreamWriter,
};
use aez::layout::LatentShape;
use aez::{BackendChoice, Bundle, Error, Limits, Model};

/// Largest single allocation any target may make (the memory bound of spec section 6 with the limits
/// below is far smaller; model loading stays under it too). Anything bigger aborts, which libFuzzer
/// reports as a crash with its input.
pub const MAX_ALLOC: usize = 64 << 20;

/// The system allocator, aborting on any allocation over [`MAX_ALLOC`].
pub struct GuardAlloc;

// SAFETY: forwards to the system allocator unchanged; only refuses (aborts on) oversized requests.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for GuardAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        check(layout.size());
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        check(layout.size());
        System.alloc_zeroed(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        check(new_size);
        System.realloc(ptr, layout, new_size)
    }
}

fn check(size: usize) {
    if size > MAX_ALLOC {
        // No allocation here: write a fixed message and abort (libFuzzer saves the input).
        let msg = b"aez-fuzz: allocation over MAX_ALLOC (the decoder's memory bound is broken)\n";
        #[allow(unsafe_code)]
        unsafe {
            libc_write(2, msg.as_ptr(), msg.len());
        }
        std::process::abort();
    }
}

extern "C" {
    #[link_name = "write"]
    fn libc_write(fd: i32, buf: *const u8, n: usize) -> isize;
}

#[global_allocator]
static ALLOC: GuardAlloc = GuardAlloc;

/// The embedded default model on the pure-Rust backend, loaded once per process.
pub fn model() -> &'static Model {
    static M: OnceLock<Model> = OnceLock::new();
    M.get_or_init(|| {
        let b = Bundle::embedded_default().expect("embedded default bundle");
        Model::load(b, BackendChoice::Tract).expect("loading the default model")
    })
}

/// The entropy tables of the default model.
pub fn tables() -> &'static [SymbolTable] {
    static T: OnceLock<Vec<SymbolTable>> = OnceLock::new();
    T.get_or_init(|| {
        model()
            .bundle()
            .tables()
            .iter()
            .map(|t| SymbolTable::new(t.min, &t.freqs, t.escape).expect("valid table"))
            .collect()
    })
}

/// The model id (first 7 bytes of the bundle hash) of the default model.
pub fn model_id() -> [u8; 7] {
    aez::codec::model_id(model().bundle())
}

/// The version-2 test bundle `fixtures/models/tiny-conv` (random weights, RGB, stride 4, 4 latent
/// channels, one level) on the pure-Rust backend, loaded once per process.
pub fn tiny() -> &'static Model {
    static M: OnceLock<Model> = OnceLock::new();
    M.get_or_init(|| {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/models/tiny-conv");
        let b = Bundle::from_dir(std::path::Path::new(dir)).expect("fixtures/models/tiny-conv");
        Model::load(b, BackendChoice::Tract).expect("loading tiny-conv")
    })
}

/// The model id of [`tiny`].
pub fn tiny_id() -> [u8; 7] {
    aez::codec::model_id(tiny().bundle())
}

/// The entropy tables of each quality level of [`tiny`].
pub fn tiny_tables() -> &'static [Vec<SymbolTable>] {
    static T: OnceLock<Vec<Vec<SymbolTable>>> = OnceLock::new();
    T.get_or_init(|| aez::codec::level_tables(tiny().bundle()).expect("valid tables"))
}

/// Largest width and height of a version-2 image in [`small_limits`].
pub const SMALL_SIDE_V2: u32 = 1024;
/// Largest `width * height * channels` in [`small_limits`] (a 90x90 RGBA image): the decoder's memory
/// for one image (samples, latent, alpha plane, one tile of the network) stays far below [`MAX_ALLOC`],
/// and the network stays fast.
pub const SMALL_SAMPLES: u64 = 1 << 15;
/// Largest band count in [`small_limits`].
pub const SMALL_BANDS: u32 = 64;

/// Limits that keep every input cheap: small payloads, few records, and (version 2) small images and
/// few bands; the default version-1 side limit.
pub fn small_limits() -> Limits {
    Limits::default()
        .with_max_payload(4096)
        .with_max_records(64)
        .with_max_side_v2(SMALL_SIDE_V2)
        .with_max_samples(SMALL_SAMPLES)
        .with_max_bands(SMALL_BANDS)
}

/// The stride of [`tiny`] (the same on both axes).
pub fn tiny_stride() -> u32 {
    tiny().layout().stride().1
}

/// The latent rows of `desc`'s image for [`tiny`] (`None` when the model does not take its size).
pub fn latent_of(desc: &ImageDesc) -> Option<LatentShape> {
    tiny().layout().latent_shape(desc.width, desc.height).ok()
}

/// The latent rows `a..b` of band `band` of an image of `latent` (spec 11.3), computed here from the
/// descriptor alone (not with the codec's helpers).
pub fn band_rows_of(desc: &ImageDesc, latent: LatentShape, band: u32) -> (u32, u32) {
    if desc.band_rows == 0 {
        return (0, latent.height);
    }
    let a = (u64::from(band) * u64::from(desc.band_rows)).min(u64::from(latent.height));
    let b = (a + u64::from(desc.band_rows)).min(u64::from(latent.height));
    (a as u32, b as u32)
}

/// The pixel rows `y0..y1` that latent rows `a..b` cover.
pub fn pixel_rows_of(desc: &ImageDesc, (a, b): (u32, u32)) -> (u32, u32) {
    let s = u64::from(tiny_stride());
    let h = u64::from(desc.height);
    (
        (u64::from(a) * s).min(h) as u32,
        (u64::from(b) * s).min(h) as u32,
    )
}

/// A `Read` that returns one byte per call.
pub struct OneByte<'a>(pub &'a [u8]);

impl Read for OneByte<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match (self.0.split_first(), buf.first_mut()) {
            (Some((&b, rest)), Some(out)) => {
                *out = b;
                self.0 = rest;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

/// A `Read` that returns chunks of sizes drawn from `seed`, and `Interrupted` now and then.
pub struct Chunked<'a> {
    data: &'a [u8],
    seed: u64,
}

impl<'a> Chunked<'a> {
    /// Chunks of `data` driven by `seed`.
    pub fn new(data: &'a [u8], seed: u64) -> Self {
        Chunked { data, seed }
    }
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.seed = self
            .seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let r = (self.seed >> 33) as usize;
        if r.is_multiple_of(7) {
            return Err(std::io::Error::new(ErrorKind::Interrupted, "interrupted"));
        }
        let n = (1 + r % 13).min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// What the container and entropy layers make of an input, in order: one line per header, record
/// (with its decoded latents) and the final error, plus the bytes consumed.
#[derive(Debug, PartialEq, Eq)]
pub struct Transcript {
    /// One entry per event.
    pub events: Vec<String>,
    /// The final error's message, if any.
    pub error: Option<String>,
    /// Bytes consumed by the reader.
    pub position: u64,
}

/// Reads every event of `r`, entropy-decoding each record with the default model's tables (records
/// whose header names another geometry or model are still decoded with them: only the bytes matter
/// here). Stops at the first error, like the codec's decoder.
///
/// Version 2 is read too: each record's event shows its part (image, band, plane, descriptor), and a
/// latent record's body is decoded with [`tiny`]'s tables for its band (an alpha record's is not).
pub fn transcript<R: Read>(r: R, limits: Limits) -> Transcript {
    let mut rd = StreamReader::new(r, None, limits).accept_version_2();
    let mut events = Vec::new();
    let mut coder = aez::Coder::Range;
    let mut q = Vec::new();
    let error = loop {
        match rd.next_event() {
            Ok(None) => break None,
            Ok(Some(Event::Header(h))) => {
                coder = h.header.coder;
                events.push(format!("{h:?}"));
            }
            Ok(Some(Event::Record(rec))) => {
                events.push(format!("{rec:?}"));
                let decoded = match rec.part {
                    None => Some(decode_symbols(coder, tables(), &rec.payload, &mut q)),
                    Some(Part {
                        desc: Some(d),
                        images,
                        ..
                    }) if d.packed => latent_of(&d)
                        .filter(|l| l.len() * images as usize <= 1 << 20)
                        .map(|shape| {
                            decode_latents(
                                coder,
                                level_tables(&d),
                                shape,
                                images as usize,
                                rec.body(),
                                &mut q,
                            )
                        }),
                    Some(Part {
                        desc: Some(d),
                        alpha: false,
                        band,
                        ..
                    }) => latent_band_shape(&d, band).map(|shape| {
                        decode_latent(coder, level_tables(&d), shape, rec.body(), &mut q)
                    }),
                    Some(_) => None,
                };
                match decoded {
                    Some(Ok(())) => events.push(format!("q {q:?}")),
                    Some(Err(e)) => events.push(format!("entropy error {e}")),
                    None => {}
                }
            }
            Err(e) => break Some(e.to_string()),
        }
    };
    // After an error (or the end) the reader stays finished.
    assert!(matches!(rd.next_event(), Ok(None)), "reader not finished");
    Transcript {
        events,
        error,
        position: rd.position(),
    }
}

/// The tables of `desc`'s level of [`tiny`] (level 0's when the model lacks the level: the bytes are
/// what matter in a transcript).
fn level_tables(desc: &ImageDesc) -> &'static [SymbolTable] {
    let t = tiny_tables();
    &t[usize::from(desc.level).min(t.len() - 1)]
}

/// The latent shape of band `band` of `desc`'s image for [`tiny`], if the model takes its size and the
/// band is not absurdly large for a fuzz input.
pub fn latent_band_shape(desc: &ImageDesc, band: u32) -> Option<LatentShape> {
    let latent = latent_of(desc)?;
    let (a, b) = band_rows_of(desc, latent, band);
    let shape = LatentShape {
        height: b - a,
        ..latent
    };
    (shape.len() <= 1 << 20).then_some(shape)
}

/// One record of a parsed input: its part (version 2) and payload as stored.
pub type ParsedRecord = (Option<Part>, Vec<u8>);

/// The streams of a parsed input: each header and its records.
pub type Parsed = Vec<(AnyHeader, Vec<ParsedRecord>)>;

/// Writes `streams` back with the crate's writers (what an encoder would write for them): a version-2
/// image of a per-image stream starts with [`StreamWriter::write_image`] of its descriptor and body.
pub fn rebuild(streams: &Parsed) -> Vec<u8> {
    let mut out = Vec::new();
    for (h, recs) in streams {
        match h.kind() {
            Kind::Single => {
                assert_eq!(recs.len(), 1, "a single-image stream has one record");
                out.extend_from_slice(&aez::format::single_image(*h, &recs[0].1));
            }
            Kind::Batch => {
                let mut w =
                    StreamWriter::new(Vec::new(), *h).expect("an accepted header is writable");
                for (part, p) in recs {
                    match part {
                        Some(part) if part.desc_len > 0 && !part.desc.is_some_and(|d| d.packed) => {
                            let desc = part.desc.expect("a per-image descriptor");
                            w.write_image(&desc, &p[part.desc_len..])
                                .expect("the writer takes an accepted image");
                        }
                        _ => w
                            .write_record(p)
                            .expect("the writer takes an accepted record"),
                    }
                }
                out.extend_from_slice(&w.finish().expect("the writer ends an accepted stream"));
            }
        }
    }
    out
}

/// The bundle folder `rel` (relative to the repository root) on the pure-Rust backend, for a target's
/// `OnceLock`.
pub fn load_repo_model(rel: &str) -> Model {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(rel);
    let b = Bundle::from_dir(&dir).unwrap_or_else(|e| panic!("{rel}: {e}"));
    Model::load(b, BackendChoice::Tract).unwrap_or_else(|e| panic!("loading {rel}: {e}"))
}

/// Asserts that an error's location, if it has one, lies inside an input of `len` bytes.
pub fn check_location(e: &Error, len: usize) {
    if let Some(at) = location(e) {
        assert!(at.offset <= len as u64, "{e}: offset past the input");
    }
}

/// The location carried by an error of the container or entropy layers.
pub fn location(e: &Error) -> Option<&aez::Location> {
    match e {
        Error::Format { at, .. }
        | Error::Limit { at, .. }
        | Error::Entropy { at, .. }
        | Error::ModelMismatch { at, .. } => Some(at),
        _ => None,
    }
}

/// The name of an error's variant (`Format`, `Limit`, `Entropy`, ...).
pub fn variant(e: &Error) -> String {
    format!("{e:?}")
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect()
}

// ---------------------------------------------------------------------------------------------------
// Version-2 streams with valid CRCs around arbitrary contents.

/// Where a version-2 stream's descriptors go (flags bits 4-7), including the invalid combinations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawPlacement {
    /// Geometry `11`, descriptor `00`.
    Model,
    /// Geometry `00`, descriptor `00`: the header's descriptor (any bytes, any length byte).
    InHeader,
    /// Geometry `00`, descriptor `11`.
    PerImage,
}

/// A version-2 stream to build: everything as bytes, so that any descriptor or payload can be wrapped in
/// valid CRCs (the crate's writers refuse what is invalid).
#[derive(Debug, Clone)]
pub struct RawStream {
    /// The coder id bits.
    pub coder: Coder,
    /// A single-image stream (only the first record is written) or a batch.
    pub single: bool,
    /// The model id.
    pub model_id: [u8; 7],
    /// Descriptor placement.
    pub placement: RawPlacement,
    /// The header descriptor's bytes (placement `InHeader`); its length byte is `len` with even parity.
    pub header_desc: Vec<u8>,
    /// The records' payloads as stored (a per-image descriptor included).
    pub records: Vec<Vec<u8>>,
}

/// Where the records of a built stream are: `(head offset, payload offset)`.
pub type RecordOffsets = Vec<(u64, u64)>;

impl RawStream {
    /// The header's bytes (magic, version 2, flags, id, and for `InHeader` the length byte and the
    /// descriptor).
    pub fn header(&self) -> Vec<u8> {
        let (g, d) = match self.placement {
            RawPlacement::Model => (GEOMETRY_MODEL, DESCRIPTOR_SHARED),
            RawPlacement::InHeader => (GEOMETRY_EXPLICIT, DESCRIPTOR_SHARED),
            RawPlacement::PerImage => (GEOMETRY_EXPLICIT, DESCRIPTOR_PER_IMAGE),
        };
        let kind = if self.single { KIND_SINGLE } else { KIND_BATCH };
        let mut b = MAGIC.to_vec();
        b.push(VERSION_2);
        b.push(
            self.coder.id()
                | (kind << FLAGS_KIND_SHIFT)
                | (g << FLAGS_GEOMETRY_SHIFT)
                | (d << FLAGS_DESCRIPTOR_SHIFT),
        );
        b.extend_from_slice(&self.model_id);
        if self.placement == RawPlacement::InHeader {
            b.push(head::with_parity(self.header_desc.len() as u8));
            b.extend_from_slice(&self.header_desc);
        }
        b
    }

    /// The stream's bytes, with every CRC valid, and where each record is.
    pub fn build(&self) -> (Vec<u8>, RecordOffsets) {
        let mut out = self.header();
        let mut offsets = Vec::new();
        if self.single {
            let p = self.records.first().map(Vec::as_slice).unwrap_or_default();
            let head_off = out.len() as u64;
            head::write(p.len() as u32, &mut out);
            offsets.push((head_off, out.len() as u64));
            out.extend_from_slice(p);
            let crc = crc32(&[&out]);
            out.extend_from_slice(&crc.to_le_bytes());
            return (out, offsets);
        }
        let hc = crc32(&[&out]).to_le_bytes();
        out.extend_from_slice(&hc);
        for (i, p) in self.records.iter().enumerate() {
            let mut h = Vec::new();
            head::write(p.len() as u32, &mut h);
            offsets.push((out.len() as u64, (out.len() + h.len()) as u64));
            let crc = record_crc(&hc, i as u64, &h, p);
            out.extend_from_slice(&h);
            out.extend_from_slice(p);
            out.extend_from_slice(&crc.to_le_bytes());
        }
        let crc = record_crc(&hc, self.records.len() as u64, &[0], &[]);
        out.push(0);
        out.extend_from_slice(&crc.to_le_bytes());
        (out, offsets)
    }
}

/// A cursor over fuzz input that yields zeros once it runs out.
pub struct Src<'a>(pub &'a [u8]);

impl Src<'_> {
    /// The next byte (0 at the end).
    pub fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    /// The next `n` bytes (fewer at the end).
    pub fn take(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a
    }

    /// A little-endian `u32`.
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
}

/// One zstd frame of the band's alpha rows `raw` (already difference-filtered or not: any bytes).
pub fn alpha_frame(raw: &[u8]) -> Vec<u8> {
    zstd::bulk::compress(raw, 3).expect("zstd compresses")
}

/// The alpha samples of a band, checked as spec 11.5 says, here rather than with the codec's helper:
/// exactly one zstd frame whose declared content size is `width * rows` and that decodes to exactly
/// that, nothing after it; the samples are the running sums of each row's bytes.
pub fn alpha_samples(payload: &[u8], width: usize, rows: usize) -> Option<Vec<u8>> {
    let want = width.checked_mul(rows)?;
    match zstd::zstd_safe::get_frame_content_size(payload) {
        Ok(Some(n)) if n == want as u64 => {}
        _ => return None,
    }
    if zstd::zstd_safe::find_frame_compressed_size(payload).ok()? != payload.len() {
        return None;
    }
    let raw = zstd::bulk::decompress(payload, want).ok()?;
    if raw.len() != want {
        return None;
    }
    let mut out = Vec::with_capacity(want);
    for row in raw.chunks_exact(width.max(1)) {
        let mut prev = 0u8;
        for &d in row {
            prev = prev.wrapping_add(d);
            out.push(prev);
        }
    }
    Some(out)
}

// ---------------------------------------------------------------------------------------------------
// What the decoder must make of a version-2 input.

/// An image the decoder must deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedImage {
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Colour layout.
    pub colour: Colour,
    /// The alpha plane, exactly.
    pub alpha: Option<Vec<u8>>,
}

/// The error the decoder must end with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpectedError {
    /// The container's own error: the decoder reports the reader's error unchanged.
    Container(String),
    /// An error of the codec: its variant and location (record, offset), and its message when known.
    Codec {
        /// `Format`, `Entropy`, `ModelMismatch`.
        variant: &'static str,
        /// The record in the location.
        record: Option<u64>,
        /// The offset in the location.
        offset: u64,
        /// The exact message, when this model computes it the codec's way (entropy errors).
        message: Option<String>,
    },
}

/// What the decoder must do with an input: deliver `images`, then end with `error` (or succeed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// The images, in order.
    pub images: Vec<ExpectedImage>,
    /// The first error, if any.
    pub error: Option<ExpectedError>,
}

/// A record of an image being gathered.
struct Gathered {
    index: u64,
    offset: u64,
    payload_offset: u64,
    part: Part,
    body: Vec<u8>,
}

/// Where in a descriptor (bytes from its first) the codec's checks against [`tiny`] refuse it, in their
/// order (`AnyCoding::check_desc`): a size it does not take (the descriptor's first byte), the hyper bit
/// (the layout byte: tiny has no hyperprior), a level it lacks (the level byte), a band count that is not
/// `ceil(latent rows / band rows)` (the band count).
pub fn desc_fault_offset(desc: &ImageDesc) -> Option<usize> {
    let Some(latent) = latent_of(desc) else {
        return Some(0);
    };
    if desc.hyper {
        return Some(varint_len(desc.width) + varint_len(desc.height));
    }
    if usize::from(desc.level) >= tiny_tables().len() {
        return Some(varint_len(desc.width) + varint_len(desc.height) + 1);
    }
    if desc.band_rows != 0 && desc.bands != latent.height.div_ceil(desc.band_rows) {
        return Some(desc.encoded_len() - varint_len(desc.bands));
    }
    None
}

/// Why one complete image does not decode, or its expected image.
fn expect_image(coder: Coder, recs: &[Gathered]) -> Result<Vec<ExpectedImage>, ExpectedError> {
    let first = &recs[0];
    let Some(desc) = first.part.desc else {
        // No descriptor (geometry 11) for a model that takes any size: the codec reports it at the
        // image's first record (the spec says offset 5: see tests/fuzz_findings/decode-v2-model-placement).
        return Err(ExpectedError::Codec {
            variant: "Format",
            record: Some(first.index),
            offset: first.offset,
            message: None,
        });
    };
    // A per-image descriptor is checked against the model before its image's records are decoded (a
    // header descriptor at the header, in expect_v2), at the field's offset in the payload.
    let desc_fault = ExpectedError::Codec {
        variant: "Format",
        record: Some(first.index),
        offset: first.payload_offset + desc_fault_offset(&desc).unwrap_or(0) as u64,
        message: None,
    };
    if desc.hyper {
        return Err(desc_fault);
    }
    let levels = tiny_tables();
    let Some(tables) = levels.get(usize::from(desc.level)) else {
        return Err(desc_fault);
    };
    let Some(latent) = latent_of(&desc) else {
        return Err(desc_fault);
    };
    if desc.packed {
        // A packed record: `images` whole images' latents as one payload (spec 11.3).
        let k = first.part.images as usize;
        assert_eq!(recs.len(), 1, "a packed record is its images' only record");
        let mut q = Vec::new();
        if let Err(e) = decode_latents(coder, tables, latent, k, &first.body, &mut q) {
            return Err(ExpectedError::Codec {
                variant: "Entropy",
                record: Some(first.index),
                offset: first.payload_offset,
                message: Some(e.0),
            });
        }
        let one = ExpectedImage {
            width: desc.width,
            height: desc.height,
            colour: desc.colour,
            alpha: None,
        };
        return Ok(vec![one; k]);
    }
    let bands = if desc.band_rows == 0 {
        1
    } else {
        latent.height.div_ceil(desc.band_rows)
    };
    if bands != desc.bands {
        return Err(desc_fault);
    }
    let per_band = if desc.colour.has_alpha() { 2 } else { 1 };
    assert_eq!(
        recs.len() as u64,
        u64::from(bands) * per_band,
        "the container framed another number of records than the descriptor has"
    );
    let w = desc.width as usize;
    let mut alpha = desc
        .colour
        .has_alpha()
        .then(|| Vec::with_capacity(w * desc.height as usize));
    let mut q = Vec::new();
    for (b, pair) in recs.chunks(per_band as usize).enumerate() {
        let rows = band_rows_of(&desc, latent, b as u32);
        let shape = LatentShape {
            height: rows.1 - rows.0,
            ..latent
        };
        let lat = &pair[0];
        assert!(
            !lat.part.alpha && lat.part.band == b as u32,
            "framing: {:?}",
            lat.part
        );
        if let Err(e) = decode_latent(coder, tables, shape, &lat.body, &mut q) {
            return Err(ExpectedError::Codec {
                variant: "Entropy",
                record: Some(lat.index),
                offset: lat.payload_offset,
                message: Some(e.0),
            });
        }
        if let (Some(plane), Some(a)) = (alpha.as_mut(), pair.get(1)) {
            assert!(
                a.part.alpha && a.part.band == b as u32,
                "framing: {:?}",
                a.part
            );
            let (y0, y1) = pixel_rows_of(&desc, rows);
            match alpha_samples(&a.body, w, (y1 - y0) as usize) {
                Some(s) => plane.extend_from_slice(&s),
                None => {
                    return Err(ExpectedError::Codec {
                        variant: "Entropy",
                        record: Some(a.index),
                        offset: a.payload_offset,
                        message: None,
                    })
                }
            }
        }
    }
    Ok(vec![ExpectedImage {
        width: desc.width,
        height: desc.height,
        colour: desc.colour,
        alpha,
    }])
}

/// What a decoder given [`tiny`] (the model of the first stream) must make of `bytes` with `limits`:
/// the container's events (read with the same limits), each image's records decoded by the entropy
/// layer with its level's tables and its alpha frames checked here; the images before the first
/// failure are delivered, then that failure is the error.
pub fn expect_v2(bytes: &[u8], limits: Limits) -> Expected {
    let mut rd = StreamReader::new(bytes, None, limits).accept_version_2();
    let id = tiny_id();
    let mut images = Vec::new();
    let mut coder = Coder::Range;
    let mut parts: Vec<Gathered> = Vec::new();
    let error = loop {
        match rd.next_event() {
            Ok(None) => break None,
            Err(e) => break Some(ExpectedError::Container(e.to_string())),
            Ok(Some(Event::Header(h))) => {
                assert!(parts.is_empty(), "a header inside an image");
                if h.header.model_id != id {
                    break Some(ExpectedError::Codec {
                        variant: "ModelMismatch",
                        record: None,
                        offset: h.offset + 6,
                        message: None,
                    });
                }
                if h.version != VERSION_2 {
                    // A version-1 stream of a version-2 bundle: refused at the version byte.
                    break Some(ExpectedError::Codec {
                        variant: "Format",
                        record: None,
                        offset: h.offset + 4,
                        message: None,
                    });
                }
                coder = h.header.coder;
                // The placement and a header descriptor are checked against the model at the header
                // (spec 11.1, 11.7): no descriptor for a model of any size at the flags byte, a header
                // descriptor's field at its offset.
                match h.descriptors {
                    Some(Descriptors::Model) => {
                        break Some(ExpectedError::Codec {
                            variant: "Format",
                            record: None,
                            offset: h.offset + OFF_FLAGS as u64,
                            message: None,
                        })
                    }
                    Some(Descriptors::InHeader(d)) => {
                        if let Some(off) = desc_fault_offset(&d) {
                            break Some(ExpectedError::Codec {
                                variant: "Format",
                                record: None,
                                offset: h.offset + (OFF_DESC + off) as u64,
                                message: None,
                            });
                        }
                    }
                    _ => {}
                }
            }
            Ok(Some(Event::Record(rec))) => {
                let part = rec.part.expect("a version-2 record has a part");
                // A per-image descriptor is checked against the model at its image's first record,
                // before the image's other records are read.
                if part.is_first() && part.desc_len > 0 && !part.desc.is_some_and(|d| d.packed) {
                    if let Some(off) = part.desc.as_ref().and_then(desc_fault_offset) {
                        break Some(ExpectedError::Codec {
                            variant: "Format",
                            record: Some(rec.index),
                            offset: rec.payload_offset + off as u64,
                            message: None,
                        });
                    }
                }
                let body = rec.body().to_vec();
                parts.push(Gathered {
                    index: rec.index,
                    offset: rec.offset,
                    payload_offset: rec.payload_offset,
                    part,
                    body,
                });
                if !part.is_last() {
                    continue;
                }
                match expect_image(coder, &parts) {
                    Ok(imgs) => images.extend(imgs),
                    Err(e) => break Some(e),
                }
                parts.clear();
            }
        }
    };
    Expected { images, error }
}

/// The colour layout of a decoded image.
pub fn colour_of_image(img: &image::DynamicImage) -> Option<Colour> {
    use image::DynamicImage::*;
    Some(match img {
        ImageLuma8(_) => Colour::Gray,
        ImageLumaA8(_) => Colour::GrayAlpha,
        ImageRgb8(_) => Colour::Rgb,
        ImageRgba8(_) => Colour::Rgba,
        _ => return None,
    })
}

/// The alpha plane of an image with alpha.
pub fn alpha_plane(img: &image::DynamicImage) -> Vec<u8> {
    img.to_luma_alpha8().pixels().map(|p| p[1]).collect()
}

/// Checks what a decoder made of an input (`images`, then `err`) against [`expect_v2`]'s model of it.
pub fn check_expected(
    exp: &Expected,
    images: &[image::DynamicImage],
    err: Option<&Error>,
    ctx: &str,
) {
    let got: Vec<String> = images
        .iter()
        .map(|i| format!("{}x{} {:?}", i.width(), i.height(), colour_of_image(i)))
        .collect();
    assert_eq!(
        images.len(),
        exp.images.len(),
        "{ctx}: images delivered {got:?}, expected {:?}; error {err:?}, expected {:?}",
        exp.images
            .iter()
            .map(|i| format!("{}x{} {:?}", i.width, i.height, i.colour))
            .collect::<Vec<_>>(),
        exp.error
    );
    for (i, (img, e)) in images.iter().zip(&exp.images).enumerate() {
        assert_eq!(
            (img.width(), img.height(), colour_of_image(img)),
            (e.width, e.height, Some(e.colour)),
            "{ctx}: image {i}"
        );
        if let Some(a) = &e.alpha {
            assert!(
                alpha_plane(img) == *a,
                "{ctx}: image {i}: alpha plane differs"
            );
        }
    }
    match (&exp.error, err) {
        (None, None) => {}
        (Some(ExpectedError::Container(m)), Some(e)) => {
            assert_eq!(&e.to_string(), m, "{ctx}: the container's error");
        }
        (
            Some(ExpectedError::Codec {
                variant: v,
                record,
                offset,
                message,
            }),
            Some(e),
        ) => {
            assert_eq!(variant(e), *v, "{ctx}: {e}");
            let at = location(e).unwrap_or_else(|| panic!("{ctx}: no location: {e}"));
            assert_eq!(
                (at.record, at.offset),
                (*record, *offset),
                "{ctx}: location of {e}"
            );
            if let (Some(m), Error::Entropy { what, .. }) = (message, e) {
                assert_eq!(what, m, "{ctx}: entropy error message");
            }
        }
        (want, got) => panic!("{ctx}: expected error {want:?}, got {got:?}"),
    }
}

/// The decoder's images and final error for `bytes`, read through `r`, with `model`, these limits and
/// this batch size. Checks that the decoder stays finished after an error.
pub fn decode_images<R: Read>(
    r: R,
    model: &Model,
    limits: Limits,
    batch: usize,
) -> (Vec<image::DynamicImage>, Option<Error>) {
    let opts = aez::Options::default()
        .with_limits(limits)
        .with_batch_size(batch)
        .with_threads(1);
    let mut dec = match aez::Decoder::new(r, model, opts) {
        Ok(d) => d,
        Err(e) => return (Vec::new(), Some(e)),
    };
    let mut images = Vec::new();
    loop {
        match dec.next_image() {
            Ok(Some(p)) => images.push(p),
            Ok(None) => return (images, None),
            Err(e) => {
                assert!(
                    matches!(dec.next_image(), Ok(None)),
                    "decoder not finished after an error"
                );
                return (images, Some(e));
            }
        }
    }
}

/// The model a decoder of `bytes` is given in the targets: [`tiny`] for a version-2 first stream, else
/// the default model.
pub fn model_for(bytes: &[u8]) -> &'static Model {
    if bytes.get(4) == Some(&VERSION_2) {
        tiny()
    } else {
        model()
    }
}
