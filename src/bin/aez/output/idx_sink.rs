//! [`IdxSink`]: a batch written as one IDX file (raw or gzipped), atomically, or buffered for a pipe.

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use aez::io::IdxWriter;
use aez::model::Geometry;
use aez::Error;
use image::{ColorType, DynamicImage};

use super::AtomicFile;
use crate::error::CliResult;

/// Where an IDX batch goes: a file (atomically) or a writer such as stdout (buffered, since the count in
/// the header is known only at the end).
#[derive(Debug)]
enum IdxTarget {
    File(AtomicFile),
    Buffer(std::io::Cursor<Vec<u8>>),
}

impl Write for IdxTarget {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            IdxTarget::File(f) => f.write(buf),
            IdxTarget::Buffer(b) => b.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            IdxTarget::File(f) => f.flush(),
            IdxTarget::Buffer(b) => b.flush(),
        }
    }
}

impl Seek for IdxTarget {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        match self {
            IdxTarget::File(f) => f.seek(pos),
            IdxTarget::Buffer(b) => b.seek(pos),
        }
    }
}

/// A batch sink writing an IDX file (`.idx`, or gzipped when `gzip`). Nothing reaches the target before
/// [`IdxSink::finish_to`]; dropping the sink (after an error) leaves no file. Calling `finish_to` after an
/// error keeps the good records (the CLI's `--partial`).
///
/// An IDX file holds images of one size, 8-bit gray or RGB, without alpha. The geometry is given when
/// the sink is made (a fixed-size model's), or taken from the first image ([`IdxSink::refusal`] says why
/// an image does not fit).
#[derive(Debug)]
pub struct IdxSink {
    state: State,
    gzip: bool,
    /// Bytes a buffered (stdout) sink may hold.
    max_buffer: u64,
    /// Where a buffered sink goes when its target is a device or a pipe (not stdout).
    device: Option<AtomicFile>,
}

#[derive(Debug)]
enum State {
    /// No image yet, and no geometry given: the target, waiting for the first image's geometry.
    Waiting(IdxTarget),
    /// Writing records of this geometry.
    Writing(IdxWriter<IdxTarget>, Geometry),
    /// Starting the file failed: nothing can be written.
    Broken,
}

fn broken() -> Error {
    Error::io(
        "cannot write IDX output",
        std::io::Error::other("the IDX file could not be started"),
    )
}

/// Most bytes an [`IdxSink`] for a pipe buffers (the whole file waits for its count): 2 GiB.
pub const MAX_IDX_BUFFER: u64 = 2 << 30;

/// The geometry of an IDX file of 8-bit gray or RGB images like `img`, or why it cannot be one.
pub fn idx_geometry(img: &DynamicImage) -> Result<Geometry, String> {
    let channels = match img.color() {
        ColorType::L8 => 1,
        ColorType::Rgb8 => 3,
        ColorType::La8 | ColorType::Rgba8 => {
            return Err(format!(
                "is {}: an IDX file holds no alpha",
                layout_text(img)
            ))
        }
        _ => {
            return Err(format!(
                "is {}: an IDX file holds 8-bit gray or RGB images",
                layout_text(img)
            ))
        }
    };
    Ok(Geometry {
        width: img.width(),
        height: img.height(),
        channels,
    })
}

/// `300x200 RGBA`: an image's size and channel layout, for messages.
pub fn layout_text(img: &DynamicImage) -> String {
    let c = img.color();
    let layout = match (c.has_color(), c.has_alpha()) {
        (false, false) => "gray",
        (false, true) => "gray+alpha",
        (true, false) => "RGB",
        (true, true) => "RGBA",
    };
    format!("{}x{} {layout}", img.width(), img.height())
}

fn geometry_text(g: &Geometry) -> String {
    let layout = if g.channels == 1 { "gray" } else { "RGB" };
    format!("{}x{} {layout}", g.width, g.height)
}

fn writer(target: IdxTarget, g: Geometry) -> CliResult<IdxWriter<IdxTarget>> {
    Ok(IdxWriter::new(target, g.height, g.width, g.channels)?)
}

impl IdxSink {
    fn new(
        target: IdxTarget,
        geometry: Option<Geometry>,
        gzip: bool,
        max_buffer: u64,
    ) -> CliResult<Self> {
        let state = match geometry {
            Some(g) => State::Writing(writer(target, g)?, g),
            None => State::Waiting(target),
        };
        Ok(IdxSink {
            state,
            gzip,
            max_buffer,
            device: None,
        })
    }

    /// An IDX sink to a file, written atomically: of `geometry`, or of the first image's (`None`). A device
    /// or pipe target is buffered as stdout is (the count in the header is patched at the end).
    pub fn to_file(
        target: &Path,
        geometry: Option<Geometry>,
        gzip: bool,
        force: bool,
    ) -> CliResult<Self> {
        let f = AtomicFile::create(target, force)?;
        if f.is_device() {
            let mut sink = IdxSink::buffered(geometry, gzip)?;
            sink.device = Some(f);
            return Ok(sink);
        }
        IdxSink::new(IdxTarget::File(f), geometry, gzip, u64::MAX)
    }

    /// An IDX sink to memory, handed to a writer (stdout) by [`IdxSink::finish_to`].
    pub fn buffered(geometry: Option<Geometry>, gzip: bool) -> CliResult<Self> {
        let target = IdxTarget::Buffer(std::io::Cursor::new(Vec::new()));
        IdxSink::new(target, geometry, gzip, MAX_IDX_BUFFER)
    }

    /// Why `img` cannot be the next record (`is 30x9 RGB, the ones before are 5x5 RGB: ...`), or `None`.
    pub fn refusal(&self, img: &DynamicImage) -> Option<String> {
        let g = match idx_geometry(img) {
            Ok(g) => g,
            Err(why) => return Some(why),
        };
        match &self.state {
            State::Writing(_, want) if *want != g => Some(format!(
                "is {}, the ones before are {}: an IDX file holds images of one size",
                geometry_text(&g),
                geometry_text(want)
            )),
            _ => None,
        }
    }

    /// Appends one image (8-bit gray or RGB of the file's size: see [`IdxSink::refusal`]).
    pub fn push(&mut self, img: &DynamicImage) -> CliResult {
        let refused = |what: String| Error::Image {
            input: "IDX output".into(),
            what,
        };
        if let Some(why) = self.refusal(img) {
            return Err(refused(format!("image {why}")).into());
        }
        let g = idx_geometry(img).map_err(refused)?;
        // The first image of a sink without a geometry gives it. A failure here leaves the sink broken
        // (`State::Broken`): it can no longer be finished.
        if let State::Waiting(_) = self.state {
            if let State::Waiting(target) = std::mem::replace(&mut self.state, State::Broken) {
                self.state = State::Writing(writer(target, g)?, g);
            }
        }
        let State::Writing(w, _) = &mut self.state else {
            return Err(broken().into());
        };
        let record = img.as_bytes().len() as u64;
        if (u64::from(w.count()) + 1) * record > self.max_buffer {
            return Err(Error::Limit {
                at: aez::Location::default(),
                what: "IDX output buffered for a pipe, in bytes (write to a file instead)",
                value: (u64::from(w.count()) + 1) * record,
                limit: self.max_buffer,
            }
            .into());
        }
        Ok(w.write_record(img.as_bytes())?)
    }

    /// Images written so far.
    #[cfg(test)]
    pub fn count(&self) -> u32 {
        match &self.state {
            State::Waiting(_) | State::Broken => 0,
            State::Writing(w, _) => w.count(),
        }
    }

    /// Completes the file: patches the count, gzips if asked, and renames it onto the target (file sink)
    /// or writes it all to `out` (buffered sink; `out` is ignored for a file, device or pipe sink).
    pub fn finish_to(self, out: &mut dyn Write) -> CliResult {
        let gzip = self.gzip;
        let mut device = self.device;
        let w = match self.state {
            State::Writing(w, _) => w,
            // No image and no geometry (an empty stream of a model that takes any image): an empty IDX
            // file of 0x0 gray images.
            State::Waiting(target) => writer(
                target,
                Geometry {
                    width: 0,
                    height: 0,
                    channels: 1,
                },
            )?,
            State::Broken => return Err(broken().into()),
        };
        match w.finish()? {
            IdxTarget::File(mut f) => {
                if gzip {
                    let target = f.target().to_path_buf();
                    let ctx = |e| Error::io(format!("cannot write {}", target.display()), e);
                    // Re-read the finished raw IDX from the temporary file and gzip it into a second one.
                    let mut gz_file = f.create_sibling()?;
                    {
                        let raw = f.rewound().map_err(ctx)?;
                        let mut enc = flate2::write::GzEncoder::new(
                            &mut gz_file,
                            flate2::Compression::default(),
                        );
                        std::io::copy(raw, &mut enc).map_err(ctx)?;
                        enc.finish().map_err(ctx)?;
                    }
                    drop(f);
                    gz_file.commit()
                } else {
                    f.commit()
                }
            }
            IdxTarget::Buffer(b) => {
                let bytes = b.into_inner();
                let ctx = |e| Error::io("cannot write IDX output", e);
                let out: &mut dyn Write = match &mut device {
                    Some(f) => f,
                    None => out,
                };
                if gzip {
                    let mut enc =
                        flate2::write::GzEncoder::new(&mut *out, flate2::Compression::default());
                    enc.write_all(&bytes).map_err(ctx)?;
                    enc.finish().map_err(ctx)?;
                } else {
                    out.write_all(&bytes).map_err(ctx)?;
                }
                out.flush().map_err(ctx)?;
                match device {
                    Some(f) => f.commit(),
                    None => Ok(()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::tests::{entries, tmp_path, G};
    use aez::io::{IdxLimits, IdxReader};

    fn gray(px: Vec<u8>) -> DynamicImage {
        DynamicImage::ImageLuma8(image::GrayImage::from_raw(G.width, G.height, px).unwrap())
    }

    #[test]
    fn idx_sink_file_gzip_buffer_and_abandon() {
        let dir = tempfile::tempdir().unwrap();
        for gzip in [false, true] {
            let target = dir.path().join(if gzip { "o.idx.gz" } else { "o.idx" });
            let mut sink = IdxSink::to_file(&target, Some(G), gzip, false).unwrap();
            sink.push(&gray(vec![1, 2, 3, 4, 5, 6])).unwrap();
            sink.push(&gray(vec![7; 6])).unwrap();
            assert_eq!(sink.count(), 2);
            assert!(!target.exists());
            sink.finish_to(&mut std::io::sink()).unwrap();
            let recs: Vec<_> = IdxReader::open(&target, IdxLimits::default())
                .unwrap()
                .collect::<aez::Result<_>>()
                .unwrap();
            assert_eq!(recs, vec![vec![1, 2, 3, 4, 5, 6], vec![7; 6]]);
        }
        // Abandoned sink: no file, no temporary left.
        let target = dir.path().join("gone.idx");
        let mut sink = IdxSink::to_file(&target, Some(G), false, false).unwrap();
        sink.push(&gray(vec![0; 6])).unwrap();
        drop(sink);
        assert_eq!(entries(dir.path()), vec!["o.idx", "o.idx.gz"]);

        let mut sink = IdxSink::buffered(Some(G), false).unwrap();
        sink.push(&gray(vec![3; 6])).unwrap();
        let mut out = Vec::new();
        sink.finish_to(&mut out).unwrap();
        assert_eq!(&out[..8], &[0, 0, 8, 3, 0, 0, 0, 1]);
        assert_eq!(out.len(), 16 + 6);
    }

    #[cfg(unix)]
    #[test]
    fn an_idx_sink_to_a_pipe_writes_the_whole_file_into_it() {
        let (dir, fifo) = tmp_path("fifo");
        crate::output::atomic::tests::mkfifo(&fifo);
        let want = {
            let mut sink = IdxSink::buffered(Some(G), true).unwrap();
            sink.push(&gray(vec![7; 6])).unwrap();
            let mut v = Vec::new();
            sink.finish_to(&mut v).unwrap();
            v
        };
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).unwrap())
        };
        let mut sink = IdxSink::to_file(&fifo, Some(G), true, false).unwrap();
        sink.push(&gray(vec![7; 6])).unwrap();
        sink.finish_to(&mut std::io::sink()).unwrap();
        assert_eq!(reader.join().unwrap(), want);
        assert_eq!(entries(dir.path()), vec!["fifo"]);
    }

    #[test]
    fn the_first_image_gives_the_geometry_and_others_must_match() {
        let mut sink = IdxSink::buffered(None, false).unwrap();
        let rgb = DynamicImage::ImageRgb8(image::RgbImage::new(2, 1));
        assert_eq!(sink.refusal(&rgb), None);
        sink.push(&rgb).unwrap();
        let other = DynamicImage::ImageRgb8(image::RgbImage::new(3, 1));
        let why = sink.refusal(&other).unwrap();
        assert!(
            why.contains("is 3x1 RGB, the ones before are 2x1 RGB"),
            "{why}"
        );
        assert!(sink.push(&other).is_err());
        let rgba = DynamicImage::ImageRgba8(image::RgbaImage::new(2, 1));
        assert!(sink.refusal(&rgba).unwrap().contains("no alpha"));
        let mut out = Vec::new();
        sink.finish_to(&mut out).unwrap();
        assert_eq!(&out[..4], &[0, 0, 8, 4], "an RGB IDX has 4 dimensions");
        assert_eq!(out.len(), 20 + 6);

        // No image and no geometry: an empty IDX file.
        let mut out = Vec::new();
        IdxSink::buffered(None, false)
            .unwrap()
            .finish_to(&mut out)
            .unwrap();
        assert_eq!(&out[..8], &[0, 0, 8, 3, 0, 0, 0, 0]);
    }
}
