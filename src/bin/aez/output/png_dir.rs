//! [`PngDirSink`]: a batch written as a directory of PNGs, one atomic file each.

use std::fs;
use std::path::{Path, PathBuf};

use aez::io::encode_image;
use aez::Error;
use image::{DynamicImage, ImageFormat};

use super::write_atomic;
use crate::error::CliResult;

/// A batch sink writing each image as `<dir>/<index>.png`, the index zero-padded to a fixed width, each
/// file written atomically (complete before it appears under its name; fsynced too with `--fsync`). Each PNG has its
/// image's own size and channel layout (8-bit gray, gray+alpha, RGB or RGBA), so images of any sizes
/// may follow each other. Files written before a failure stay (each one is complete).
#[derive(Debug)]
pub struct PngDirSink {
    dir: PathBuf,
    digits: usize,
    force: bool,
    next: u64,
}

impl PngDirSink {
    /// Creates `dir` (and its parents) if needed. `expected` is the number of images when known: names
    /// get enough digits for it (at least 5), else 6 digits.
    pub fn create(dir: &Path, expected: Option<u64>, force: bool) -> CliResult<Self> {
        fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("cannot create directory {}", dir.display()), e))?;
        let digits = match expected {
            Some(n) => n.saturating_sub(1).to_string().len().max(5),
            None => 6,
        };
        Ok(PngDirSink {
            dir: dir.to_path_buf(),
            digits,
            force,
            next: 0,
        })
    }

    /// The path image `index` is written to.
    pub fn path_for(&self, index: u64) -> PathBuf {
        self.dir
            .join(format!("{index:0width$}.png", width = self.digits))
    }

    /// Writes the next image; returns its path.
    pub fn push(&mut self, image: &DynamicImage) -> CliResult<PathBuf> {
        let path = self.path_for(self.next);
        let png = encode_image(image, ImageFormat::Png)?;
        write_atomic(&path, &png, self.force)?;
        self.next += 1;
        Ok(path)
    }

    /// Images written so far.
    #[cfg(test)]
    pub fn count(&self) -> u64 {
        self.next
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::CliError;
    use crate::output::tests::{entries, tmp_path};

    fn gray(w: u32, h: u32, px: Vec<u8>) -> DynamicImage {
        DynamicImage::ImageLuma8(image::GrayImage::from_raw(w, h, px).unwrap())
    }

    #[test]
    fn png_dir_sink_names_and_keeps_files() {
        let (_dir, out) = tmp_path("a/b");
        let mut sink = PngDirSink::create(&out, Some(3), false).unwrap();
        let p = sink
            .push(&gray(3, 2, vec![0, 50, 100, 150, 200, 250]))
            .unwrap();
        assert_eq!(p, out.join("00000.png"));
        sink.push(&gray(3, 2, vec![1; 6])).unwrap();
        assert_eq!(sink.count(), 2);
        assert_eq!(entries(&out), vec!["00000.png", "00001.png"]);
        let img = aez::io::read_image(&out.join("00000.png")).unwrap();
        assert_eq!(img.to_luma8().into_raw(), vec![0, 50, 100, 150, 200, 250]);
        // Existing names are refused without force.
        let again = PngDirSink::create(&out, None, false).unwrap();
        assert_eq!(again.path_for(7), out.join("000007.png"));
        let mut again = PngDirSink::create(&out, Some(2), false).unwrap();
        assert!(matches!(
            again.push(&gray(3, 2, vec![0; 6])),
            Err(CliError::OutputExists(_))
        ));
        let mut forced = PngDirSink::create(&out, Some(100_001), true).unwrap();
        assert_eq!(forced.path_for(1), out.join("000001.png"));
        forced.digits = 5;
        forced.push(&gray(3, 2, vec![9; 6])).unwrap();
    }

    #[test]
    fn each_png_keeps_its_size_and_layout() {
        let (_dir, out) = tmp_path("mixed");
        let mut sink = PngDirSink::create(&out, None, false).unwrap();
        let rgba = DynamicImage::ImageRgba8(image::RgbaImage::from_fn(5, 1, |x, _| {
            image::Rgba([x as u8, 2, 3, 40 * x as u8])
        }));
        let la = DynamicImage::ImageLumaA8(image::GrayAlphaImage::from_pixel(
            1,
            4,
            image::LumaA([7, 9]),
        ));
        for img in [&rgba, &la] {
            let p = sink.push(img).unwrap();
            assert_eq!(&aez::io::read_image(&p).unwrap(), img);
        }
    }
}
