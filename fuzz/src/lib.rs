//! Shared pieces of the aez fuzz targets: the default model (loaded once), limits small enough to keep
//! every input cheap, readers that split the input differently, an allocation guard, and the
//! "transcript" of what the container and entropy layers make of an input.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{ErrorKind, Read};
use std::sync::OnceLock;

use aez::entropy::{decode_symbols, SymbolTable};
use aez::format::{Event, Header, Kind, StreamReader, StreamWriter};
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

/// Limits that keep every input cheap: small payloads and few records, the default side limit.
pub fn small_limits() -> Limits {
    Limits::default().with_max_payload(4096).with_max_records(64)
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
        if r % 7 == 0 {
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
pub fn transcript<R: Read>(r: R, limits: Limits) -> Transcript {
    let mut rd = StreamReader::new(r, None, limits);
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
                match decode_symbols(coder, tables(), &rec.payload, &mut q) {
                    Ok(()) => events.push(format!("q {q:?}")),
                    Err(e) => events.push(format!("entropy error {e}")),
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

/// The streams of a parsed input: each header and its records' payloads.
pub type Parsed = Vec<(Header, Vec<Vec<u8>>)>;

/// Writes `streams` back with the crate's writers (what an encoder would write for them).
pub fn rebuild(streams: &Parsed) -> Vec<u8> {
    let mut out = Vec::new();
    for (h, recs) in streams {
        match h.kind {
            Kind::Single => {
                assert_eq!(recs.len(), 1, "a single-image stream has one record");
                out.extend_from_slice(&aez::format::single_image(*h, &recs[0]));
            }
            Kind::Batch => {
                let mut w = StreamWriter::new(Vec::new(), *h).expect("writing to a Vec");
                for p in recs {
                    w.write_record(p).expect("writing to a Vec");
                }
                out.extend_from_slice(&w.finish().expect("writing to a Vec"));
            }
        }
    }
    out
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
