//! The compressed forms of a kept answer: computed once, on the first hit
//! that accepts them, and kept beside the raw bytes (see
//! [`responses`](crate::cache::responses)), so a hit never compresses again.
//! The same rule as the compression layer (`app::compression`): gzip or
//! brotli (quality 4) for answers above 1 KiB when the client accepts
//! either; a response that already names its encoding passes that layer
//! untouched.

use std::io::Write;

use axum::{
    body::Bytes,
    http::{header, HeaderMap, HeaderValue},
    response::Response,
};

use crate::cache::responses::Answer;

/// Answers at most this long are sent as they are (as the layer does).
const SMALLEST: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Encoding {
    Br,
    Gzip,
}

impl Encoding {
    fn name(self) -> &'static str {
        match self {
            Self::Br => "br",
            Self::Gzip => "gzip",
        }
    }
}

/// The encoding `headers` accept best (brotli on a tie), if any.
pub(super) fn negotiate(headers: &HeaderMap) -> Option<Encoding> {
    let mut best: Option<(Encoding, f32)> = None;
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else {
            continue;
        };
        for part in value.split(',') {
            let mut pieces = part.split(';');
            let encoding = match pieces.next().map(str::trim) {
                Some(name) if name.eq_ignore_ascii_case("br") => Encoding::Br,
                Some(name) if name.eq_ignore_ascii_case("gzip") => Encoding::Gzip,
                _ => continue,
            };
            let quality = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok());
            let Some(quality) = quality.filter(|q| *q > 0.0) else {
                continue;
            };
            let better = match best {
                None => true,
                Some((held, q)) => {
                    quality > q
                        || (quality == q && encoding == Encoding::Br && held != Encoding::Br)
                }
            };
            if better {
                best = Some((encoding, quality));
            }
        }
    }
    best.map(|(encoding, _)| encoding)
}

/// The form of `answer` to send for `headers`, computed now if it is the
/// first time; `None` for the raw bytes.
pub(super) fn form(headers: &HeaderMap, answer: &Answer) -> Option<(Encoding, Bytes)> {
    if answer.body.len() <= SMALLEST {
        return None;
    }
    let encoding = negotiate(headers)?;
    let form = match encoding {
        Encoding::Br => answer.br.get_or_init(|| brotli(&answer.body)),
        Encoding::Gzip => answer.gzip.get_or_init(|| gzip(&answer.body)),
    };
    Some((encoding, form.clone()))
}

/// `response` (a compressed form) with the headers the layer would give it.
pub(super) fn sent(mut response: Response, encoding: Encoding) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_ENCODING,
        HeaderValue::from_static(encoding.name()),
    );
    headers.append(header::VARY, HeaderValue::from_static("accept-encoding"));
    response
}

fn gzip(body: &[u8]) -> Bytes {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing into memory cannot fail.
    let _ = encoder.write_all(body);
    Bytes::from(encoder.finish().unwrap_or_default())
}

fn brotli(body: &[u8]) -> Bytes {
    let params = brotli::enc::BrotliEncoderParams {
        quality: 4,
        ..Default::default()
    };
    let mut out = Vec::new();
    let _ = brotli::BrotliCompress(&mut &body[..], &mut out, &params);
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepting(value: &'static str) -> Option<Encoding> {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(value));
        negotiate(&headers)
    }

    #[test]
    fn the_best_accepted_encoding_is_chosen() {
        assert_eq!(accepting("gzip, deflate, br"), Some(Encoding::Br));
        assert_eq!(accepting("gzip"), Some(Encoding::Gzip));
        assert_eq!(accepting("br;q=0.5, gzip"), Some(Encoding::Gzip));
        assert_eq!(accepting("br;q=0, identity"), None);
        assert_eq!(accepting("identity"), None);
        assert_eq!(negotiate(&HeaderMap::new()), None);
    }

    #[test]
    fn each_form_decodes_to_the_raw_bytes() {
        use std::io::Read;

        let raw = b"{\"data\":1}".repeat(200);
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(&gzip(&raw)[..])
            .read_to_end(&mut unzipped)
            .expect("gzip");
        assert_eq!(unzipped, raw);
        let mut unbrotlied = Vec::new();
        brotli::Decompressor::new(&brotli(&raw)[..], 4096)
            .read_to_end(&mut unbrotlied)
            .expect("brotli");
        assert_eq!(unbrotlied, raw);
    }
}
