//! USPS text fields carry HTML: entities (`&amp;`, `&#39;`, `&#174;`) and markup
//! such as `<SUP>&reg;</SUP>` in mail class names. Decoded here so users see
//! "Priority Mail®", never the markup.

/// Windows-1252 meanings of the C1 range, which USPS uses in numeric entities
/// (`&#153;` for ™).
fn cp1252(n: u32) -> Option<char> {
    Some(match n {
        128 => '€',
        130 => '‚',
        132 => '„',
        133 => '…',
        134 => '†',
        135 => '‡',
        145 => '‘',
        146 => '’',
        147 => '“',
        148 => '”',
        149 => '•',
        150 => '–',
        151 => '—',
        153 => '™',
        _ => return None,
    })
}

fn named(name: &str) -> Option<char> {
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        "reg" => '®',
        "copy" => '©',
        "trade" => '™',
        "ndash" => '–',
        "mdash" => '—',
        "rsquo" => '’',
        "lsquo" => '‘',
        _ => return None,
    })
}

fn entity(body: &str) -> Option<char> {
    if let Some(num) = body.strip_prefix('#') {
        let n = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse::<u32>().ok()?,
        };
        return cp1252(n).or_else(|| char::from_u32(n).filter(|c| !c.is_control()));
    }
    named(body)
}

/// Decodes HTML entities; unknown or malformed ones are kept verbatim.
pub fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('&') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let end = after
            .char_indices()
            .take(10)
            .find(|(_, c)| *c == ';')
            .map(|(i, _)| i);
        match end.and_then(|e| entity(&after[..e]).map(|c| (e, c))) {
            Some((e, c)) => {
                out.push(c);
                rest = &after[e + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Removes markup tags (`<SUP>`, `</SUP>`, `<br>`); a lone `<` is kept.
fn strip_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('<') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos..];
        let is_tag = after
            .chars()
            .nth(1)
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '/');
        match after.find('>').filter(|_| is_tag) {
            Some(close) => rest = &after[close + 1..],
            None => {
                out.push('<');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// True when [`clean_html`] would return `s` unchanged: no markup or entity
/// and single spaces between words (most USPS fields), so it is copied once
/// instead of through three passes.
fn is_plain(s: &str) -> bool {
    let mut after_space = true; // a leading space is not plain
    if s.is_ascii() {
        for &b in s.as_bytes() {
            match b {
                b'<' | b'&' => return false,
                b' ' if after_space => return false,
                b' ' => after_space = true,
                // The other ASCII whitespace `split_whitespace` collapses.
                b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r' => return false,
                _ => after_space = false,
            }
        }
        return !after_space;
    }
    for c in s.chars() {
        if c == '<' || c == '&' {
            return false;
        }
        if c.is_whitespace() {
            if c != ' ' || after_space {
                return false;
            }
            after_space = true;
        } else {
            after_space = false;
        }
    }
    !after_space // non-empty, no trailing space
}

/// A USPS text field as a person should read it: tags removed, entities
/// decoded (after tag removal, so an encoded `&lt;b&gt;` stays text), spaces
/// collapsed; empty becomes `None`.
pub fn clean_html(s: &str) -> Option<String> {
    if is_plain(s) {
        return Some(s.to_string());
    }
    let decoded = decode_entities(&strip_tags(s));
    let collapsed = decoded.split_whitespace().collect::<Vec<_>>().join(" ");
    (!collapsed.is_empty()).then_some(collapsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The definition without the plain-text fast path.
    fn slow_clean(s: &str) -> Option<String> {
        let decoded = decode_entities(&strip_tags(s));
        let collapsed = decoded.split_whitespace().collect::<Vec<_>>().join(" ");
        (!collapsed.is_empty()).then_some(collapsed)
    }

    proptest! {
        #[test]
        fn fast_path_agrees(s in "[a-zA-Z ,<>/&#;0-9\t\r\n\u{b}\u{c}\u{85}\u{a0}\u{2003}™é]{0,24}") {
            prop_assert_eq!(clean_html(&s), slow_clean(&s));
        }

        #[test]
        fn fast_path_agrees_on_any_text(s in any::<String>()) {
            prop_assert_eq!(clean_html(&s), slow_clean(&s));
        }
    }

    #[test]
    fn usps_markup_is_decoded() {
        assert_eq!(
            clean_html("USPS Ground Advantage<SUP>&#153;</SUP>").as_deref(),
            Some("USPS Ground Advantage™")
        );
        assert_eq!(
            clean_html("Priority Mail<SUP>&reg;</SUP>").as_deref(),
            Some("Priority Mail®")
        );
        assert_eq!(
            clean_html("Tom&#39;s &amp; Jerry&apos;s").as_deref(),
            Some("Tom's & Jerry's")
        );
        assert_eq!(clean_html("a &lt;b&gt; c").as_deref(), Some("a <b> c"));
        assert_eq!(
            clean_html("AT&T & co &#xZZ;").as_deref(),
            Some("AT&T & co &#xZZ;")
        );
        assert_eq!(clean_html("x < y").as_deref(), Some("x < y"));
        assert_eq!(clean_html("  "), None);
        assert_eq!(decode_entities("&#0;&#128512;"), "&#0;😀");
    }
}
