//! `report.html` of `lantern similar`: one self-contained page (every image a base64 `data:` URI)
//! with the query, and per match the reference, the pair maps, the best attribute's activation
//! maps and the ranked attribute values.

use super::similar_report::Report;
use crate::error::{LanternError, Result};
use crate::files::write_atomic;
use image::RgbImage;
use std::io::Write;
use std::path::Path;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 (RFC 4648, with `=` padding).
pub fn base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `image` as a `data:image/png;base64,...` URI.
fn data_uri(image: &RgbImage) -> Result<String> {
    let mut png = Vec::new();
    image
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| LanternError::Internal(format!("could not encode an image of the report: {e}")))?;
    Ok(format!("data:image/png;base64,{}", base64(&png)))
}

/// `text` with HTML's special characters escaped.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn figure(image: &RgbImage, caption: &str) -> Result<String> {
    let caption = escape(caption);
    Ok(format!(
        "<figure><img src=\"{}\" alt=\"{caption}\"><figcaption>{caption}</figcaption></figure>",
        data_uri(image)?
    ))
}

/// Write the page: `pictures[i]` are match `i`'s reference image and then its overlays, in the
/// order of its `maps` (sorted by kind).
pub fn write(path: &Path, report: &Report, query: &RgbImage, pictures: &[Vec<RgbImage>]) -> Result<()> {
    let mut html = String::from(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Lantern: why do these match?</title><style>\
         body{font-family:sans-serif;margin:2em;background:#fafafa;color:#222}\
         figure{display:inline-block;margin:0 1em 1em 0;text-align:center}\
         img{width:160px;height:auto;image-rendering:pixelated;border:1px solid #ccc}\
         table{border-collapse:collapse;margin:0.5em 0}td,th{padding:0.2em 0.8em;border-bottom:1px solid #ddd;text-align:left}\
         section{background:#fff;padding:1em;margin:1em 0;border:1px solid #e4e4e4}</style></head><body>\n",
    );
    html += "<h1>Why do these match?</h1>\n";
    html += &format!(
        "<p>Query <code>{}</code>, gallery <code>{}</code> ({} images, {} from the cache). Embedding model: {}; attribute model: {}; saliency: {}; attribute ranking w = {}.</p>\n",
        escape(&report.query),
        escape(&report.gallery),
        report.cache.images,
        report.cache.cached,
        escape(&report.model),
        escape(&report.attribute_model),
        escape(
            report
                .method
                .parse::<crate::explain::pair_registry::PairMethod>()
                .map_or(report.method.as_str(), |m| m.title())
        ),
        report.weight
    );
    html += &figure(query, "query")?;
    for (m, pics) in report.matches.iter().zip(pictures) {
        html += &format!(
            "\n<section><h2>{}. <code>{}</code>, cosine similarity {:.3}</h2>\n",
            m.rank,
            escape(&m.image),
            m.similarity
        );
        if let Some(reference) = pics.first() {
            html += &figure(reference, "reference")?;
        }
        for ((kind, _), picture) in m.maps.iter().zip(pics.iter().skip(1)) {
            html += &figure(picture, &kind.replace('_', " "))?;
        }
        html +=
            "\n<table><tr><th>attribute</th><th>value</th><th>score</th><th>confidence</th><th>agreement</th></tr>\n";
        for a in &m.attributes {
            html += &format!(
                "<tr><td>{}</td><td>{}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td></tr>\n",
                escape(&a.name),
                escape(&a.value),
                a.score,
                a.confidence,
                a.agreement
            );
        }
        html += "</table></section>\n";
    }
    html += "</body></html>\n";
    write_atomic(path, |f| f.write_all(html.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_test_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in cases {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
        assert_eq!(base64(&[0xff, 0xfe, 0xfd]), "//79");
        assert_eq!(escape("<a & \"b\">"), "&lt;a &amp; &quot;b&quot;&gt;");
    }
}
