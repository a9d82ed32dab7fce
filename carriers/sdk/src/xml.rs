//! Byte-level helpers for XML plugins reading with quick-xml's borrowing
//! `&[u8]` reader (the SDK itself does not depend on quick-xml): texts and
//! names sliced from a body validated once, and namespace prefixes stripped
//! without quick-xml's per-name `memchr` call.

/// A body validated once, so names and texts are slices of it instead of being decoded one by one.
#[derive(Debug, Clone, Copy)]
pub struct PlainBody<'a> {
    body: &'a [u8],
    utf8: Option<&'a str>,
    no_cr: bool,
}

impl<'a> PlainBody<'a> {
    /// One UTF-8 check and one `\r` search over the whole body instead of one per event.
    #[inline]
    pub fn new(body: &'a [u8]) -> PlainBody<'a> {
        let utf8 = std::str::from_utf8(body).ok();
        // A fold without early exit, so the `\r` test is vectorized.
        let no_cr = utf8.is_some() && !body.iter().fold(false, |cr, &b| cr | (b == b'\r'));
        PlainBody { body, utf8, no_cr }
    }

    /// Borrows `raw` (bytes of an event of this body) as `&str` without a UTF-8 check of its own.
    #[inline]
    pub fn str(&self, raw: &[u8]) -> Option<&'a str> {
        // `None` when the body is not UTF-8, `raw` does not lie in it or does
        // not fall on character boundaries: the caller decodes it then.
        let utf8 = self.utf8?;
        let off = (raw.as_ptr() as usize).checked_sub(self.body.as_ptr() as usize)?;
        utf8.get(off..off.checked_add(raw.len())?)
    }

    /// A text event's content without `xml10_content`, which equals its bytes when the body has no `\r`.
    #[inline]
    pub fn text(&self, raw: &[u8]) -> Option<&'a str> {
        // quick-xml (without its `encoding` feature, as in this workspace)
        // decodes text as UTF-8 and only rewrites `\r`.
        if self.no_cr { self.str(raw) } else { None }
    }
}

/// Re-borrows `name` (an event's bytes) from `body`, so a path can hold it past the event.
#[inline]
pub fn in_body<'a>(body: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    // `None` only if `name` does not lie in `body`.
    let off = (name.as_ptr() as usize).checked_sub(body.as_ptr() as usize)?;
    body.get(off..off.checked_add(name.len())?)
        .filter(|s| s.as_ptr() == name.as_ptr())
}

/// `QName::local_name` (all after the first `:`) without its `memchr` call, which costs more than the search on short names.
#[inline]
pub fn local_name(qname: &[u8]) -> &[u8] {
    match colon(qname) {
        Some(i) => qname.get(i + 1..).unwrap_or_default(),
        None => qname,
    }
}

/// The position of the first `:` in `name`, eight bytes at a time: in
/// `x = word ^ "::::::::"` a `:` byte is zero, and `(x - 0x01…) & !x & 0x80…`
/// flags zero bytes; only bytes above the first zero can be falsely flagged
/// (by its borrow), so the lowest flag (little-endian: the first byte) is
/// exact. Shorter tails are searched byte by byte.
#[inline]
fn colon(name: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut chunks = name.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let word = <[u8; 8]>::try_from(chunk).map_or(0, u64::from_le_bytes);
        let x = word ^ (ONES * u64::from(b':'));
        let flags = x.wrapping_sub(ONES) & !x & HIGHS;
        if flags != 0 {
            return Some(at + (flags.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == b':')
        .map(|i| at + i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_bodies() {
        let body = b"<a:r>x\xc3\xa9</a:r>";
        let p = PlainBody::new(body);
        assert_eq!(p.text(&body[5..8]), Some("x\u{e9}"));
        assert_eq!(p.str(&body[1..4]), Some("a:r"));
        assert_eq!(p.text(&body[5..7]), None, "not on a character boundary");
        assert_eq!(p.text(b"elsewhere"), None);
        assert_eq!(PlainBody::new(b"<r>\xff</r>").str(b"r"), None);
        let cr = b"<r>\r</r>";
        let p = PlainBody::new(cr);
        assert_eq!(p.text(&cr[3..4]), None);
        assert_eq!(p.str(&cr[1..2]), Some("r"));
        assert_eq!(in_body(body, &body[1..4]), Some(&b"a:r"[..]));
        assert_eq!(in_body(body, b"a:r"), None);
    }

    proptest! {
        #[test]
        fn colon_agrees_with_a_byte_search(name in prop::collection::vec(
            prop::sample::select(b"a:\xba\x3b\x39\x00\xff".to_vec()), 0..20)) {
            prop_assert_eq!(colon(&name), name.iter().position(|&c| c == b':'));
            let expected = name
                .iter()
                .position(|&b| b == b':')
                .map_or(&name[..], |i| &name[i + 1..]);
            prop_assert_eq!(local_name(&name), expected);
        }
    }
}
