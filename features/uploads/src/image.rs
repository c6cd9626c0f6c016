//! What an uploaded file is, from its bytes alone: the type from its magic bytes, the
//! dimensions from its header (`imagesize`, which reads headers and never decodes pixels). The
//! name and the content type the client claimed are not consulted.

use qubital_plugin::Problem;

use crate::problems::{UPLOAD_IMAGE_DIMENSIONS, UPLOAD_NOT_AN_IMAGE};

/// The smallest width and height accepted, in pixels.
pub const MIN_SIDE: usize = 16;
/// The largest width and height accepted, in pixels: it bounds what a client decoding the
/// image spends (4096 × 4096 × 4 bytes = 64 MiB).
pub const MAX_SIDE: usize = 4096;

/// The image types accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Png,
    Jpeg,
    Webp,
}

impl Format {
    /// The content type the final object is stored (and served) with.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Png => "image/png",
            Format::Jpeg => "image/jpeg",
            Format::Webp => "image/webp",
        }
    }

    /// The extension of the final key.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Jpeg => "jpg",
            Format::Webp => "webp",
        }
    }
}

/// An accepted image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Image {
    pub format: Format,
    pub width: usize,
    pub height: usize,
}

/// Why bytes are not an accepted image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Not PNG, JPEG or WebP by its magic bytes, or a header that does not parse.
    NotAnImage,
    /// An accepted type with a width or height outside `MIN_SIDE..=MAX_SIDE`.
    Dimensions { width: usize, height: usize },
}

impl From<Refusal> for Problem {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::NotAnImage => Problem::new(&UPLOAD_NOT_AN_IMAGE),
            Refusal::Dimensions { width, height } => Problem::new(&UPLOAD_IMAGE_DIMENSIONS).with_detail(
                format!("The image is {width}×{height} pixels; each side must be {MIN_SIDE} to {MAX_SIDE}."),
            ),
        }
    }
}

/// The image `bytes` are, if it is one this feature accepts.
pub fn inspect(bytes: &[u8]) -> Result<Image, Refusal> {
    let format = match imagesize::image_type(bytes).map_err(|_| Refusal::NotAnImage)? {
        imagesize::ImageType::Png => Format::Png,
        imagesize::ImageType::Jpeg => Format::Jpeg,
        imagesize::ImageType::Webp => Format::Webp,
        _ => return Err(Refusal::NotAnImage),
    };
    let size = imagesize::blob_size(bytes).map_err(|_| Refusal::NotAnImage)?;
    let (width, height) = (size.width, size.height);
    let side = MIN_SIDE..=MAX_SIDE;
    if !side.contains(&width) || !side.contains(&height) {
        return Err(Refusal::Dimensions { width, height });
    }
    Ok(Image {
        format,
        width,
        height,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PNG signature and IHDR chunk of `width` × `height` (all `imagesize` reads).
    fn png_header(width: u32, height: u32) -> Vec<u8> {
        let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        bytes.extend(width.to_be_bytes());
        bytes.extend(height.to_be_bytes());
        bytes.extend([8, 6, 0, 0, 0, 0, 0, 0, 0]);
        bytes
    }

    #[test]
    fn the_type_comes_from_the_magic_bytes_and_the_dimensions_are_bounded() {
        assert_eq!(
            inspect(&png_header(64, 32)),
            Ok(Image {
                format: Format::Png,
                width: 64,
                height: 32
            })
        );
        assert_eq!(inspect(b"hello, I am a .png"), Err(Refusal::NotAnImage));
        assert_eq!(inspect(b""), Err(Refusal::NotAnImage));
        // A GIF is an image, not one of ours.
        assert_eq!(
            inspect(b"GIF89a\x40\x00\x40\x00\x00\x00\x00"),
            Err(Refusal::NotAnImage)
        );
        assert_eq!(
            inspect(&png_header(8, 64)),
            Err(Refusal::Dimensions { width: 8, height: 64 })
        );
        assert_eq!(
            inspect(&png_header(64, 4097)),
            Err(Refusal::Dimensions {
                width: 64,
                height: 4097
            })
        );
        // A truncated header is not an image.
        assert_eq!(inspect(&png_header(64, 64)[..18]), Err(Refusal::NotAnImage));
    }
}
