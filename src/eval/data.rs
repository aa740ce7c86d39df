//! Datasets: an IDX file (Fashion-MNIST) or a folder of image files (Kodak).

use std::path::{Path, PathBuf};

use crate::BoxResult;

/// One image: `w x h` pixels, `c` (1 or 3) interleaved 8-bit channels.
#[derive(Debug, Clone)]
pub struct Image {
    /// Width in pixels.
    pub w: usize,
    /// Height in pixels.
    pub h: usize,
    /// Channels: 1 (gray) or 3 (RGB).
    pub c: usize,
    /// Row-major samples.
    pub data: Vec<u8>,
}

impl Image {
    /// Pixels (not samples).
    pub fn pixels(&self) -> usize {
        self.w * self.h
    }

    /// The samples as RGB (gray expanded).
    pub fn to_rgb(&self) -> Vec<u8> {
        if self.c == 3 {
            self.data.clone()
        } else {
            self.data.iter().flat_map(|&v| [v, v, v]).collect()
        }
    }
}

/// A named set of images.
#[derive(Debug)]
pub struct Dataset {
    /// Short name ("fashion-mnist", "kodak").
    pub name: String,
    /// The images, in file order.
    pub images: Vec<Image>,
}

impl Dataset {
    /// Total pixels over all images.
    pub fn pixels(&self) -> usize {
        self.images.iter().map(Image::pixels).sum()
    }

    /// `Some((w, h, c))` when every image has the same geometry.
    pub fn uniform_geometry(&self) -> Option<(usize, usize, usize)> {
        let first = self.images.first()?;
        let g = (first.w, first.h, first.c);
        self.images
            .iter()
            .all(|i| (i.w, i.h, i.c) == g)
            .then_some(g)
    }

    /// "N images, WxH gray" or a summary of mixed sizes.
    pub fn describe(&self) -> String {
        match self.uniform_geometry() {
            Some((w, h, c)) => format!(
                "{} images, {w}x{h} {}",
                self.images.len(),
                if c == 1 { "gray" } else { "RGB" }
            ),
            None => {
                let mut sizes: Vec<String> = Vec::new();
                for i in &self.images {
                    let g = format!("{}x{} {}", i.w, i.h, if i.c == 1 { "gray" } else { "RGB" });
                    if !sizes.contains(&g) {
                        sizes.push(g);
                    }
                }
                format!("{} images, {}", self.images.len(), sizes.join(" or "))
            }
        }
    }
}

/// Loads `path`: a directory of image files (sorted by name) or an IDX file (raw or gzipped).
/// `limit` keeps only the first images.
pub fn load(name: &str, path: &Path, limit: Option<usize>) -> BoxResult<Dataset> {
    let limit = limit.unwrap_or(usize::MAX);
    let images = if path.is_dir() {
        load_dir(path, limit)?
    } else {
        load_idx(path, limit)?
    };
    if images.is_empty() {
        return Err(format!("dataset {name}: no images in {}", path.display()).into());
    }
    Ok(Dataset {
        name: name.to_string(),
        images,
    })
}

fn load_idx(path: &Path, limit: usize) -> BoxResult<Vec<Image>> {
    let mut r = aez::io::IdxReader::open(path, aez::io::IdxLimits::default())?;
    let h = *r.header();
    let (w, hh, c) = (h.cols as usize, h.rows as usize, usize::from(h.channels));
    let mut out = Vec::new();
    while out.len() < limit {
        match r.next_record()? {
            Some(data) => out.push(Image { w, h: hh, c, data }),
            None => break,
        }
    }
    Ok(out)
}

fn load_dir(dir: &Path, limit: usize) -> BoxResult<Vec<Image>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                matches!(
                    e.to_ascii_lowercase().as_str(),
                    "png" | "jpg" | "jpeg" | "bmp" | "tif" | "tiff" | "pgm" | "ppm" | "webp"
                )
            })
        })
        .collect();
    paths.sort();
    paths.truncate(limit);
    let mut out = Vec::with_capacity(paths.len());
    for p in paths {
        let img = image::open(&p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
        let (w, h) = (img.width() as usize, img.height() as usize);
        if img.color().has_color() {
            out.push(Image {
                w,
                h,
                c: 3,
                data: img.into_rgb8().into_raw(),
            });
        } else {
            out.push(Image {
                w,
                h,
                c: 1,
                data: img.into_luma8().into_raw(),
            });
        }
    }
    Ok(out)
}
