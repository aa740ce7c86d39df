//! The one description of a model's latent, shared by the manifest, the runtime, the quantizer, the
//! entropy coder and the codec.
//!
//! A model takes images of `image_channels` samples per pixel and turns an image of `W x H` pixels into
//! a latent tensor of shape `[C, ceil(H / s), ceil(W / s)]` (channel-major: all positions of channel 0,
//! then channel 1, ...), where `s` is the model's total stride. Each latent channel has its own quantizer
//! step and offset and its own entropy table. Today's dense models are the case of a fixed image size
//! with `s` = the image size: `[K, 1, 1]`, one element per channel. Symbols are coded in this order,
//! element `i` of an image's latent belonging to channel `i / (h * w)`.

/// Which image sizes a model takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageSize {
    /// Exactly `width x height` (dense models); the stride is the size itself.
    Fixed {
        /// Columns.
        width: u32,
        /// Rows.
        height: u32,
    },
    /// Any size up to `max_side` per side: images are padded to a multiple of `stride` (fully
    /// convolutional models).
    Any {
        /// Total stride of the encoder (latent positions per image side: `ceil(side / stride)`).
        stride: u32,
        /// Largest side the model accepts.
        max_side: u32,
    },
}

/// How the networks' pixel and latent tensors are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TensorLayout {
    /// Dense networks: pixels `[N, H * W * channels]` (row-major, channels interleaved), latents `[N, C]`.
    #[default]
    Flat,
    /// Convolutional networks: pixels `[N, channels, H, W]`, latents `[N, C, h, w]`.
    Nchw,
}

impl TensorLayout {
    /// The name used in manifests: `flat` or `nchw`.
    pub fn name(self) -> &'static str {
        match self {
            TensorLayout::Flat => "flat",
            TensorLayout::Nchw => "nchw",
        }
    }
}

/// A model's latent layout: what it takes, and the latent it makes of an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Layout {
    /// Samples per pixel of the images the model takes: 1 (gray) or 3 (RGB).
    pub image_channels: u8,
    /// Which image sizes the model takes.
    pub size: ImageSize,
    /// Latent channels `C` (one quantizer step, offset and entropy table each).
    pub channels: u32,
    /// How the networks' tensors are laid out.
    pub tensors: TensorLayout,
}

/// The latent of one image: `[channels, height, width]`, channel-major.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LatentShape {
    /// Latent channels `C`.
    pub channels: u32,
    /// Latent rows, `ceil(H / s)`.
    pub height: u32,
    /// Latent columns, `ceil(W / s)`.
    pub width: u32,
}

impl LatentShape {
    /// Positions per channel: `height * width`.
    pub fn positions(&self) -> usize {
        self.height as usize * self.width as usize
    }

    /// Elements of one image's latent: `channels * height * width`.
    pub fn len(&self) -> usize {
        self.channels as usize * self.positions()
    }

    /// True when the latent has no element (never for a valid layout).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The channel of element `i` of one image's latent (`i < len()`).
    #[inline]
    pub fn channel_of(&self, i: usize) -> usize {
        i / self.positions().max(1)
    }

    /// The channel of each element of one image's latent, in coding order.
    pub fn channel_order(&self) -> impl Iterator<Item = usize> + '_ {
        let p = self.positions();
        (0..self.channels as usize).flat_map(move |c| std::iter::repeat_n(c, p))
    }
}

impl std::fmt::Display for LatentShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}, {}, {}]", self.channels, self.height, self.width)
    }
}

/// Why an image size does not fit a layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizeError {
    /// What the layout takes, as text (`28x28`, `1..=16384 per side`).
    pub expected: String,
}

impl Layout {
    /// The layout of a dense model of `width x height` images with `k` latents: `[k, 1, 1]`.
    pub fn dense(width: u32, height: u32, image_channels: u8, k: u32) -> Layout {
        Layout {
            image_channels,
            size: ImageSize::Fixed { width, height },
            channels: k,
            tensors: TensorLayout::Flat,
        }
    }

    /// The fixed image size, for models that take one size only.
    pub fn fixed_size(&self) -> Option<(u32, u32)> {
        match self.size {
            ImageSize::Fixed { width, height } => Some((width, height)),
            ImageSize::Any { .. } => None,
        }
    }

    /// The total stride per axis `(x, y)`: the image size itself for a fixed-size model.
    pub fn stride(&self) -> (u32, u32) {
        match self.size {
            ImageSize::Fixed { width, height } => (width, height),
            ImageSize::Any { stride, .. } => (stride, stride),
        }
    }

    /// What sizes the layout takes, as text.
    pub fn size_text(&self) -> String {
        match self.size {
            ImageSize::Fixed { width, height } => format!("{width}x{height}"),
            ImageSize::Any { max_side, .. } => format!("1..={max_side} pixels per side"),
        }
    }

    /// The size the networks see for an image of `width x height`: padded up to a multiple of the
    /// stride. An error when the model does not take that size.
    pub fn padded_size(&self, width: u32, height: u32) -> Result<(u32, u32), SizeError> {
        let bad = || SizeError {
            expected: self.size_text(),
        };
        match self.size {
            ImageSize::Fixed {
                width: w,
                height: h,
            } => {
                if (width, height) == (w, h) {
                    Ok((w, h))
                } else {
                    Err(bad())
                }
            }
            ImageSize::Any { stride, max_side } => {
                if width == 0 || height == 0 || width > max_side || height > max_side {
                    return Err(bad());
                }
                let s = stride.max(1);
                Ok((width.div_ceil(s) * s, height.div_ceil(s) * s))
            }
        }
    }

    /// The latent shape of an image of `width x height`.
    pub fn latent_shape(&self, width: u32, height: u32) -> Result<LatentShape, SizeError> {
        let (pw, ph) = self.padded_size(width, height)?;
        let (sx, sy) = self.stride();
        Ok(LatentShape {
            channels: self.channels,
            height: ph / sy.max(1),
            width: pw / sx.max(1),
        })
    }

    /// Samples of one image of `width x height` as the networks see it (padded).
    pub fn image_samples(&self, width: u32, height: u32) -> Result<usize, SizeError> {
        let (pw, ph) = self.padded_size(width, height)?;
        Ok(pw as usize * ph as usize * usize::from(self.image_channels))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_is_one_element_per_channel() {
        let l = Layout::dense(28, 28, 1, 64);
        let s = l.latent_shape(28, 28).unwrap();
        assert_eq!((s.channels, s.height, s.width), (64, 1, 1));
        assert_eq!(s.len(), 64);
        assert_eq!(s.channel_of(63), 63);
        assert!(s.channel_order().eq(0..64));
        assert!(l.latent_shape(32, 28).is_err());
        assert_eq!(l.image_samples(28, 28).unwrap(), 784);
    }

    #[test]
    fn any_size_pads_to_the_stride() {
        let l = Layout {
            image_channels: 3,
            size: ImageSize::Any {
                stride: 16,
                max_side: 16384,
            },
            channels: 192,
            tensors: TensorLayout::Nchw,
        };
        assert_eq!(l.padded_size(1, 1).unwrap(), (16, 16));
        assert_eq!(l.padded_size(768, 512).unwrap(), (768, 512));
        let s = l.latent_shape(770, 500).unwrap();
        assert_eq!((s.channels, s.height, s.width), (192, 32, 49));
        assert_eq!(s.channel_of(32 * 49), 1);
        assert!(l.padded_size(0, 5).is_err());
        assert!(l.padded_size(16385, 5).is_err());
    }
}
