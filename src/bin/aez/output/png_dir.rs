//! [`PngDirSink`]: a batch written as a directory of PNGs, one atomic file each.

use std::fs;
use std::path::{Path, PathBuf};

use aez::io::{encode_image, pixels_to_image};
use aez::model::Geometry;
use aez::Error;
use image::ImageFormat;

use super::write_atomic;
use crate::error::CliResult;

/// A batch sink writing each image as `<dir>/<index>.png`, the index zero-padded to a fixed width, each
/// file written atomically (complete and fsynced before it appears under its name). Files written before a
/// failure stay (each one is complete).
#[derive(Debug)]
pub struct PngDirSink {
    dir: PathBuf,
    geometry: Geometry,
    digits: usize,
    force: bool,
    next: u64,
}

impl PngDirSink {
    /// Creates `dir` (and its parents) if needed. `expected` is the number of images when known: names
    /// get enough digits for it (at least 5), else 6 digits.
    pub fn create(
        dir: &Path,
        geometry: Geometry,
        expected: Option<u64>,
        force: bool,
    ) -> CliResult<Self> {
        fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("cannot create directory {}", dir.display()), e))?;
        let digits = match expected {
            Some(n) => n.saturating_sub(1).to_string().len().max(5),
            None => 6,
        };
        Ok(PngDirSink {
            dir: dir.to_path_buf(),
            geometry,
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
    pub fn push(&mut self, pixels: Vec<u8>) -> CliResult<PathBuf> {
        let path = self.path_for(self.next);
        let png = encode_image(&pixels_to_image(pixels, &self.geometry)?, ImageFormat::Png)?;
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
    use crate::output::tests::{entries, tmp_path, G};

    #[test]
    fn png_dir_sink_names_and_keeps_files() {
        let (_dir, out) = tmp_path("a/b");
        let mut sink = PngDirSink::create(&out, G, Some(3), false).unwrap();
        let p = sink.push(vec![0, 50, 100, 150, 200, 250]).unwrap();
        assert_eq!(p, out.join("00000.png"));
        sink.push(vec![1; 6]).unwrap();
        assert!(sink.push(vec![1; 5]).is_err());
        assert_eq!(sink.count(), 2);
        assert_eq!(entries(&out), vec!["00000.png", "00001.png"]);
        let img = aez::io::read_image(&out.join("00000.png")).unwrap();
        assert_eq!(img.to_luma8().into_raw(), vec![0, 50, 100, 150, 200, 250]);
        // Existing names are refused without force.
        let again = PngDirSink::create(&out, G, None, false).unwrap();
        assert_eq!(again.path_for(7), out.join("000007.png"));
        let mut again = PngDirSink::create(&out, G, Some(2), false).unwrap();
        assert!(matches!(
            again.push(vec![0; 6]),
            Err(CliError::OutputExists(_))
        ));
        let mut forced = PngDirSink::create(&out, G, Some(100_001), true).unwrap();
        assert_eq!(forced.path_for(1), out.join("000001.png"));
        forced.digits = 5;
        forced.push(vec![9; 6]).unwrap();
    }
}
