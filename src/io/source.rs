//! [`ImageSource`]: the images of a list of inputs (image files, IDX files, stdin), in order.

use std::fs::File;
use std::io::{Cursor, Read};

use super::idx;
use super::idx::{IdxLimits, IdxReader};
use super::picture::{decode_image, pixels_to_image, to_model_pixels};
use super::{read_up_to, Input, Record, MAX_IMAGE_FILE_BYTES};
use crate::error::{Error, Result};
use crate::model::Geometry;

type BoxRead = Box<dyn Read + Send>;

/// Reads the images of a list of inputs in order, converted to one geometry: each image file gives one
/// image, each IDX file (raw or gzipped, recognised by its content, not its name) all of its records.
/// Files are opened one at a time, IDX records read one at a time.
pub struct ImageSource {
    inputs: std::vec::IntoIter<Input>,
    /// The IDX input being read, with its display name.
    current: Option<(String, IdxReader<BoxRead>)>,
    geometry: Geometry,
    /// Images keep their own size and colour type (`None` in `Record::pixels`, the image in `Record::image`).
    any_size: bool,
    model: String,
    idx_limits: IdxLimits,
    next_index: u64,
    failed: bool,
    /// Images announced so far (image files count 1 each, IDX files their header count once opened).
    known_total: u64,
}

impl std::fmt::Debug for ImageSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageSource")
            .field("geometry", &self.geometry)
            .field("model", &self.model)
            .field("next_index", &self.next_index)
            .finish_non_exhaustive()
    }
}

/// What the first bytes of an input say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// An IDX file, raw or gzipped.
    Idx,
    /// Anything else: tried as an image.
    Image,
}

/// Classifies an input by its first (up to 4) bytes.
pub fn sniff(head: &[u8]) -> InputKind {
    if idx::looks_like_idx(head) {
        InputKind::Idx
    } else {
        InputKind::Image
    }
}

impl ImageSource {
    /// A source over `inputs` producing images in `geometry` for the model named `model` (used in
    /// messages).
    pub fn new(inputs: Vec<Input>, geometry: Geometry, model: &str) -> Self {
        let files = inputs.len() as u64;
        ImageSource {
            inputs: inputs.into_iter(),
            current: None,
            geometry,
            any_size: false,
            model: model.to_string(),
            idx_limits: IdxLimits::default(),
            next_index: 0,
            failed: false,
            known_total: files,
        }
    }

    /// A source that keeps every image's own size, colour type and bit depth (for models that take any
    /// size): each [`Record`] has the decoded image in [`Record::image`] and no `pixels`.
    pub fn any_size(inputs: Vec<Input>, model: &str) -> Self {
        let mut s = ImageSource::new(
            inputs,
            Geometry {
                width: 0,
                height: 0,
                channels: 0,
            },
            model,
        );
        s.any_size = true;
        s
    }

    /// Replaces the IDX header limits.
    pub fn with_idx_limits(mut self, limits: IdxLimits) -> Self {
        self.idx_limits = limits;
        self
    }

    /// Images known to come: one per input not yet opened or an image file, and the declared count of
    /// every IDX file opened so far. Grows as IDX files are opened.
    pub fn known_total(&self) -> u64 {
        self.known_total
    }

    /// The next image, `Ok(None)` at the end. After an error the source ends.
    pub fn next_record(&mut self) -> Result<Option<Record>> {
        if self.failed {
            return Ok(None);
        }
        let r = self.next_inner();
        if r.is_err() {
            self.failed = true;
        }
        r
    }

    fn next_inner(&mut self) -> Result<Option<Record>> {
        loop {
            if let Some((input, reader)) = &mut self.current {
                let rec_index = reader.records_read();
                let header = *reader.header();
                match reader.next_record()? {
                    Some(raw) => {
                        let g = Geometry {
                            width: header.cols,
                            height: header.rows,
                            channels: header.channels,
                        };
                        let (pixels, image) = if self.any_size {
                            (Vec::new(), Some(pixels_to_image(raw, &g)?))
                        } else if header.channels == self.geometry.channels {
                            (raw, None)
                        } else {
                            let img = pixels_to_image(raw, &g)?;
                            let px = to_model_pixels(&img, input, &self.geometry, &self.model)?;
                            (px, None)
                        };
                        let index = self.next_index;
                        self.next_index += 1;
                        return Ok(Some(Record {
                            index,
                            input: input.clone(),
                            idx_record: Some(rec_index),
                            pixels,
                            image,
                        }));
                    }
                    None => self.current = None,
                }
            }
            let Some(input) = self.inputs.next() else {
                return Ok(None);
            };
            let name = input.display_name();
            let mut stream: BoxRead = match &input {
                Input::Stdin => Box::new(std::io::stdin()),
                Input::Path(p) => Box::new(
                    File::open(p)
                        .map_err(|e| Error::io(format!("cannot open {}", p.display()), e))?,
                ),
            };
            let mut head = [0u8; 4];
            let got = read_up_to(&mut stream, &mut head)
                .map_err(|e| Error::io(format!("cannot read {name}"), e))?;
            let stream: BoxRead = Box::new(Cursor::new(head[..got].to_vec()).chain(stream));
            match sniff(&head[..got]) {
                InputKind::Idx => {
                    let reader =
                        IdxReader::from_reader(stream, input.path_for_location(), self.idx_limits)?;
                    let h = *reader.header();
                    if !self.any_size
                        && (h.rows != self.geometry.height || h.cols != self.geometry.width)
                    {
                        return Err(Error::Image {
                            input: name,
                            what: format!(
                                "IDX images are {}x{}, model {} takes {}x{}",
                                h.cols,
                                h.rows,
                                self.model,
                                self.geometry.width,
                                self.geometry.height
                            ),
                        });
                    }
                    // The file itself was counted as one image; it holds h.count.
                    self.known_total = self.known_total - 1 + u64::from(h.count);
                    self.current = Some((name, reader));
                }
                InputKind::Image => {
                    let mut bytes = Vec::new();
                    stream
                        .take(MAX_IMAGE_FILE_BYTES + 1)
                        .read_to_end(&mut bytes)
                        .map_err(|e| Error::io(format!("cannot read {name}"), e))?;
                    if bytes.len() as u64 > MAX_IMAGE_FILE_BYTES {
                        return Err(Error::Limit {
                            at: crate::error::Location {
                                file: input.path_for_location(),
                                record: None,
                                offset: MAX_IMAGE_FILE_BYTES,
                            },
                            what: "image file size in bytes",
                            value: bytes.len() as u64,
                            limit: MAX_IMAGE_FILE_BYTES,
                        });
                    }
                    if bytes.is_empty() {
                        return Err(Error::Image {
                            input: name,
                            what: "empty input".into(),
                        });
                    }
                    let img = decode_image(&bytes, &name)?;
                    let (pixels, image) = if self.any_size {
                        (Vec::new(), Some(img))
                    } else {
                        (
                            to_model_pixels(&img, &name, &self.geometry, &self.model)?,
                            None,
                        )
                    };
                    let index = self.next_index;
                    self.next_index += 1;
                    return Ok(Some(Record {
                        index,
                        input: name,
                        idx_record: None,
                        pixels,
                        image,
                    }));
                }
            }
        }
    }
}

impl Iterator for ImageSource {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_record().transpose()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use std::path::PathBuf;

    const GRAY28: Geometry = Geometry {
        width: 28,
        height: 28,
        channels: 1,
    };

    fn fx(p: &str) -> Input {
        Input::Path(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fixtures")
                .join(p),
        )
    }

    #[test]
    fn mixes_images_and_idx_in_order() {
        let src = ImageSource::new(
            vec![
                fx("images/fmnist-t10k-00002.png"),
                fx("idx/fmnist-t10k-64.idx.gz"),
                fx("images/fmnist-t10k-00000-rgb.png"),
            ],
            GRAY28,
            "m",
        );
        let recs: Vec<Record> = src.collect::<Result<_>>().unwrap();
        assert_eq!(recs.len(), 66);
        assert_eq!(recs[0].pixels, recs[1 + 2].pixels);
        assert_eq!(recs[65].pixels, recs[1].pixels);
        assert_eq!(recs[5].idx_record, Some(4));
        assert_eq!(recs[5].index, 5);
        assert!(recs[65].idx_record.is_none());
    }

    #[test]
    fn idx_to_rgb_model_expands_gray() {
        let rgb = Geometry {
            channels: 3,
            ..GRAY28
        };
        let mut src = ImageSource::new(vec![fx("idx/fmnist-t10k-64.idx")], rgb, "m");
        let r = src.next_record().unwrap().unwrap();
        assert_eq!(r.pixels.len(), 784 * 3);
        assert_eq!(src.known_total(), 64);
    }

    #[test]
    fn errors_name_the_input_and_stop() {
        let mut src = ImageSource::new(
            vec![
                fx("images/fmnist-t10k-00001.png"),
                fx("images/wrong-size-32x32.png"),
                fx("images/fmnist-t10k-00002.png"),
            ],
            GRAY28,
            "fmnist-ld32e3d3",
        );
        assert!(src.next_record().unwrap().is_some());
        let err = src.next_record().unwrap_err().to_string();
        assert!(
            err.ends_with(
                "wrong-size-32x32.png: image is 32x32, model fmnist-ld32e3d3 takes 28x28"
            ),
            "{err}"
        );
        assert!(src.next_record().unwrap().is_none());

        let other = Geometry {
            width: 32,
            height: 32,
            channels: 1,
        };
        let err = ImageSource::new(vec![fx("idx/fmnist-t10k-64.idx")], other, "big")
            .next_record()
            .unwrap_err()
            .to_string();
        assert!(
            err.ends_with("fmnist-t10k-64.idx: IDX images are 28x28, model big takes 32x32"),
            "{err}"
        );

        let err = ImageSource::new(vec![Input::parse("/nonexistent/x.png")], GRAY28, "m")
            .next_record()
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("cannot open /nonexistent/x.png:"), "{err}");
    }

    #[test]
    fn dash_is_stdin() {
        assert_eq!(Input::parse("-"), Input::Stdin);
        assert_eq!(Input::parse("a.png"), Input::Path(PathBuf::from("a.png")));
        assert_eq!(Input::Stdin.display_name(), "<stdin>");
    }

    #[test]
    fn any_size_sources_keep_each_image_as_it_is() {
        let src = ImageSource::any_size(
            vec![
                fx("images/wrong-size-32x32.png"),
                fx("idx/fmnist-t10k-64.idx.gz"),
                fx("images/fmnist-t10k-00000-rgb.png"),
            ],
            "m",
        );
        let recs: Vec<Record> = src.collect::<Result<_>>().unwrap();
        assert_eq!(recs.len(), 66);
        let dims = |r: &Record| {
            let i = r.image.as_ref().unwrap();
            (i.width(), i.height(), i.color().has_color())
        };
        assert_eq!(dims(&recs[0]), (32, 32, false));
        assert_eq!(dims(&recs[1]), (28, 28, false));
        assert_eq!(dims(&recs[65]), (28, 28, true));
        assert!(recs.iter().all(|r| r.pixels.is_empty()));
    }
}
