//! Getting images in and out: image files in any format the `image` crate reads (decoded and encoded in
//! memory), and IDX files (raw or gzipped) read and written record by record. Output files (atomic
//! renames, batch sinks) are the CLI's business, not the library's.
//!
//! This module knows image geometry (via [`crate::model::Geometry`]) but nothing about the codec.
//! [`ImageSource`] turns a list of inputs (image files, IDX files, `-` for stdin) into a stream of
//! 8-bit pixel records in a model's geometry, with errors naming the input, the record and the byte offset.

pub mod idx;
pub mod picture;
mod source;

use std::io::Read;
use std::path::PathBuf;

pub use idx::{IdxHeader, IdxLimits, IdxReader, IdxWriter};
pub use picture::{
    decode_image, encode_image, format_for_path, pixels_to_image, read_image, to_model_pixels,
};
pub use source::{sniff, ImageSource, InputKind};

use image::DynamicImage;

/// File name extensions of the inputs a directory contributes: the image formats the `image` crate reads
/// here, and IDX files (`.idx`, `.gz`); what each file is, is then told by its first bytes ([`sniff`]).
pub const INPUT_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "bmp", "tif", "tiff", "webp", "pnm", "pbm", "pgm", "ppm", "pam",
    "qoi", "tga", "ico", "idx", "gz",
];

/// Whether a directory entry is an input by its name: not hidden, with one of [`INPUT_EXTENSIONS`].
pub fn is_input_name(path: &std::path::Path) -> bool {
    let hidden = path
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'));
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    !hidden && ext.is_some_and(|e| INPUT_EXTENSIONS.contains(&e.as_str()))
}

/// Largest image file (or stdin image) read into memory: 256 MiB.
pub const MAX_IMAGE_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// An input named on a command line: a file path, or `-` for standard input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Standard input.
    Stdin,
    /// A file.
    Path(PathBuf),
}

impl Input {
    /// `-` is stdin, anything else a path.
    pub fn parse(s: &str) -> Input {
        if s == "-" {
            Input::Stdin
        } else {
            Input::Path(PathBuf::from(s))
        }
    }

    /// How the input is named in messages (`<stdin>` for standard input).
    pub fn display_name(&self) -> String {
        match self {
            Input::Stdin => "<stdin>".to_string(),
            Input::Path(p) => p.display().to_string(),
        }
    }

    fn path_for_location(&self) -> Option<PathBuf> {
        match self {
            Input::Stdin => None,
            Input::Path(p) => Some(p.clone()),
        }
    }
}

/// One image from an [`ImageSource`].
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// 0-based index over all the source's images.
    pub index: u64,
    /// The input it came from (`<stdin>` for standard input).
    pub input: String,
    /// Its record index inside an IDX input; `None` for an image file.
    pub idx_record: Option<u32>,
    /// 8-bit samples in the target geometry (row-major, interleaved); empty for a source of any size
    /// ([`ImageSource::any_size`]), which gives [`Record::image`] instead.
    pub pixels: Vec<u8>,
    /// The image as decoded (its own size, colour type and bit depth), for a source of any size.
    pub image: Option<DynamicImage>,
}

/// Reads until `buf` is full or the stream ends (retrying on `Interrupted`); returns the bytes read.
pub(crate) fn read_up_to<R: Read + ?Sized>(r: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
