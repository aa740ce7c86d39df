//! Datasets: an IDX file (Fashion-MNIST) or a folder of image files (Kodak).

use std::path::{Path, PathBuf};

use super::BoxResult;

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

/// Loads `path`: a directory of image files or an IDX file (raw or gzipped), as [`load_inputs`] does.
/// `limit` keeps only the first images.
pub fn load(name: &str, path: &Path, limit: Option<usize>) -> BoxResult<Dataset> {
    load_inputs(name, &[path.to_path_buf()], limit)
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

/// One image file, as gray (no colour) or RGB (alpha dropped; 16-bit samples reduced to 8 bits).
pub fn load_image(p: &Path) -> BoxResult<Image> {
    let img = aez::io::read_image(p)?;
    let (w, h) = (img.width() as usize, img.height() as usize);
    Ok(if img.color().has_color() {
        Image {
            w,
            h,
            c: 3,
            data: img.into_rgb8().into_raw(),
        }
    } else {
        Image {
            w,
            h,
            c: 1,
            data: img.into_luma8().into_raw(),
        }
    })
}

/// The images of `inputs` in order: IDX files (every record), image files, and directories searched
/// recursively for the files `aez compress` takes from a directory ([`aez::io::is_input_name`]), in path
/// order; each file is an IDX file or an image by its first bytes ([`aez::io::sniff`]), as compress
/// tells them. `limit` keeps the first images.
pub fn load_inputs(name: &str, inputs: &[PathBuf], limit: Option<usize>) -> BoxResult<Dataset> {
    let limit = limit.unwrap_or(usize::MAX);
    let mut files = Vec::new();
    for p in inputs {
        if p.is_dir() {
            let before = files.len();
            walk(p, &mut files)?;
            if files.len() == before {
                return Err(format!("{}: no image or IDX files in it", p.display()).into());
            }
        } else if p.exists() {
            files.push(p.clone());
        } else {
            return Err(format!("{}: no such file or directory", p.display()).into());
        }
    }
    let mut images = Vec::new();
    for f in files {
        if images.len() >= limit {
            break;
        }
        let mut head = [0u8; 4];
        let n = std::fs::File::open(&f)
            .and_then(|mut file| std::io::Read::read(&mut file, &mut head))
            .map_err(|e| format!("{}: cannot read it: {e}", f.display()))?;
        if aez::io::sniff(&head[..n]) == aez::io::InputKind::Idx {
            images.extend(
                load_idx(&f, limit - images.len()).map_err(|e| format!("{}: {e}", f.display()))?,
            );
        } else {
            images.push(load_image(&f)?);
        }
    }
    if images.is_empty() {
        return Err("no images in the inputs".into());
    }
    Ok(Dataset {
        name: name.to_string(),
        images,
    })
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> BoxResult<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: cannot list it: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out)?;
        } else if aez::io::is_input_name(&p) {
            out.push(p);
        }
    }
    Ok(())
}
