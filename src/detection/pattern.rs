//! Translation of the data set's Ruby (Onigmo) regexes to the `regex` crate.
//!
//! The `regex` crate has no look-around, and the data uses look-aheads (DHL
//! e-commerce, the USPS IMpb formats, the `prepend_if` rules). A look-ahead
//! `(?=X)` / `(?!X)` in the matched pattern is replaced by an empty marker
//! group `(?<__laN>)`; after a match the marker's position is checked by
//! running `X` there ([`Pattern::captures`]). A look-ahead nested inside a
//! look-ahead body is rewritten into a consuming equivalent, which is exact
//! when it ends its branch of the body (the body's consumption is discarded
//! anyway): `(?=X)` becomes `(?:X)`, `(?!c)` for a one-character class `c`
//! becomes `(?:$|[^c])`. Anything else (look-behind, back-references,
//! possessive quantifiers, inline flags) is refused with an error at load
//! time, so unsupported data fails the tests instead of matching wrongly.
//!
//! Limit: look-aheads are checked on the path the (non-backtracking) engine
//! chose. A backtracking engine would try another path after a failed
//! look-ahead. For the current data the path is forced by the fixed prefixes
//! and lengths (USPS IMpb: the optional `420`+ZIP prefix is the only choice,
//! and when its greedy ZIP+4 branch fails a look-ahead the shorter branch
//! would leave a serial of a length the format does not allow), so results
//! agree; `mod.rs` tests both prefix shapes.
//!
//! Input is normalised (no whitespace, no dashes, upper case) before
//! matching, so a literal `-` in the data is rendered `-?`; `\s*` is kept and
//! simply matches nothing.

use regex::{Captures, Regex};
use std::collections::HashMap;

/// The characters a normalised tracking number is made of; specificity is
/// measured against this alphabet.
const ALPHABET: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// A compiled pattern plus the look-aheads checked after a match.
#[derive(Debug)]
pub(crate) struct Pattern {
    regex: Regex,
    looks: Vec<Look>,
}

#[derive(Debug)]
struct Look {
    group: usize,
    negative: bool,
    body: Regex,
}

/// What [`translate`] produces: the pattern, its look-around-free source (for
/// a `RegexSet` prefilter), and its specificity in bits.
#[derive(Debug)]
pub(crate) struct Translated {
    pub(crate) pattern: Pattern,
    pub(crate) source: String,
    pub(crate) bits: f64,
}

impl Pattern {
    /// Captures of a match that also satisfies every look-ahead on its path.
    pub(crate) fn captures<'h>(&self, hay: &'h str) -> Option<Captures<'h>> {
        let caps = self.regex.captures(hay)?;
        for look in &self.looks {
            let Some(at) = caps.get(look.group) else {
                continue; // the look-ahead sat on a branch that was not taken
            };
            let pos = at.start();
            // Leftmost search from `pos`: a match starting at `pos` exists iff
            // the first one found starts there. `find_at` keeps the context
            // before `pos`, so `\b` behaves as in the full pattern.
            let hit = look
                .body
                .find_at(hay, pos)
                .is_some_and(|m| m.start() == pos);
            if hit == look.negative {
                return None;
            }
        }
        Some(caps)
    }

    /// Whether the pattern has a named group `name`.
    pub(crate) fn has_group(&self, name: &str) -> bool {
        self.regex.capture_names().any(|n| n == Some(name))
    }

    /// Whether `hay` matches (look-aheads included).
    pub(crate) fn is_match(&self, hay: &str) -> bool {
        self.captures(hay).is_some()
    }
}

/// Translates a Ruby regex; `anchored` wraps it in `^(?:...)$` (the data's
/// formats describe whole numbers).
pub(crate) fn translate(
    src: &str,
    anchored: bool,
    classes: &mut ClassCache,
) -> Result<Translated, String> {
    let ast = Parser::new(src, classes).parse()?;
    let bits = bits(&ast);
    let mut r = Renderer::default();
    let body = r.render(&ast, Mode::Main)?;
    let source = if anchored {
        format!("^(?:{body})$")
    } else {
        body
    };
    let regex = Regex::new(&source).map_err(|e| format!("regex {src:?}: {e}"))?;
    let mut looks = Vec::with_capacity(r.looks.len());
    for (name, negative, body) in r.looks {
        let group = regex
            .capture_names()
            .position(|n| n == Some(name.as_str()))
            .ok_or_else(|| format!("regex {src:?}: lost marker group {name}"))?;
        let body = Regex::new(&body).map_err(|e| format!("look-ahead in {src:?}: {e}"))?;
        looks.push(Look {
            group,
            negative,
            body,
        });
    }
    Ok(Translated {
        pattern: Pattern { regex, looks },
        source,
        bits,
    })
}

/// Memoised alphabet membership of character classes (`[0-9]` recurs a lot).
#[derive(Default)]
pub(crate) struct ClassCache(HashMap<String, u32>);

impl ClassCache {
    /// How many alphabet characters the class `src` matches.
    fn members(&mut self, src: &str) -> Result<u32, String> {
        if let Some(n) = self.0.get(src) {
            return Ok(*n);
        }
        let re = Regex::new(&format!("^(?:{src})$")).map_err(|e| format!("class {src}: {e}"))?;
        let mut buf = [0u8; 4];
        let n = ALPHABET
            .chars()
            .filter(|c| re.is_match(c.encode_utf8(&mut buf)))
            .count() as u32;
        self.0.insert(src.to_string(), n);
        Ok(n)
    }
}

#[derive(Debug)]
enum Node {
    Empty,
    Lit(char),
    /// A one-character class: `[...]`, `\d`, `\s`, `\w` (and negations), `.`.
    Class {
        src: String,
        members: u32,
    },
    /// Zero-width: `^`, `$`, `\b`, `\B`, `\A`, `\z`.
    Assert(&'static str),
    Group(Kind, Box<Node>),
    Concat(Vec<Node>),
    Alt(Vec<Node>),
    Repeat {
        node: Box<Node>,
        min: u32,
        max: Option<u32>,
        lazy: bool,
    },
}

#[derive(Debug)]
enum Kind {
    /// `(...)` and `(?:...)`: Ruby does not number plain groups once named
    /// groups exist, and we only read named ones.
    Plain,
    Named(String),
    Look {
        negative: bool,
    },
}

struct Parser<'a> {
    chars: Vec<char>,
    at: usize,
    src: &'a str,
    classes: &'a mut ClassCache,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str, classes: &'a mut ClassCache) -> Self {
        Self {
            chars: src.chars().collect(),
            at: 0,
            src,
            classes,
        }
    }

    fn err(&self, what: &str) -> String {
        format!("unsupported regex {:?} at {}: {what}", self.src, self.at)
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn eat(&mut self, s: &str) -> bool {
        let n = s.chars().count();
        if self.chars.len() >= self.at + n
            && s.chars()
                .eq(self.chars[self.at..self.at + n].iter().copied())
        {
            self.at += n;
            true
        } else {
            false
        }
    }

    fn parse(mut self) -> Result<Node, String> {
        let node = self.alt()?;
        if self.at != self.chars.len() {
            return Err(self.err("unbalanced `)`"));
        }
        Ok(node)
    }

    fn alt(&mut self) -> Result<Node, String> {
        let mut branches = vec![self.concat()?];
        while self.eat("|") {
            branches.push(self.concat()?);
        }
        Ok(if branches.len() == 1 {
            branches.pop().unwrap_or(Node::Empty)
        } else {
            Node::Alt(branches)
        })
    }

    fn concat(&mut self) -> Result<Node, String> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let atom = self.atom()?;
            items.push(self.quantified(atom)?);
        }
        Ok(match items.len() {
            0 => Node::Empty,
            1 => items.pop().unwrap_or(Node::Empty),
            _ => Node::Concat(items),
        })
    }

    fn number(&mut self) -> Option<u32> {
        let start = self.at;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.at += 1;
        }
        self.chars[start..self.at]
            .iter()
            .collect::<String>()
            .parse()
            .ok()
    }

    fn quantified(&mut self, atom: Node) -> Result<Node, String> {
        let (min, max) = match self.peek() {
            Some('*') => (0, None),
            Some('+') => (1, None),
            Some('?') => (0, Some(1)),
            Some('{') => {
                self.at += 1;
                let min = self.number().ok_or_else(|| self.err("bad `{n,m}`"))?;
                let max = if self.eat(",") {
                    if self.peek() == Some('}') {
                        None
                    } else {
                        Some(self.number().ok_or_else(|| self.err("bad `{n,m}`"))?)
                    }
                } else {
                    Some(min)
                };
                if !self.eat("}") || max.is_some_and(|m| m < min) {
                    return Err(self.err("bad `{n,m}`"));
                }
                self.at -= 1; // leave `}` as the quantifier's last char
                (min, max)
            }
            _ => return Ok(atom),
        };
        self.at += 1;
        if matches!(atom, Node::Assert(_) | Node::Empty) {
            return Err(self.err("quantified assertion"));
        }
        let lazy = self.eat("?");
        if self.peek() == Some('+') {
            return Err(self.err("possessive quantifier"));
        }
        if matches!(self.peek(), Some('*' | '{')) {
            return Err(self.err("stacked quantifiers"));
        }
        Ok(Node::Repeat {
            node: Box::new(atom),
            min,
            max,
            lazy,
        })
    }

    fn class(&mut self, src: String) -> Result<Node, String> {
        let members = self.classes.members(&src)?;
        Ok(Node::Class { src, members })
    }

    fn atom(&mut self) -> Result<Node, String> {
        let Some(c) = self.peek() else {
            return Err(self.err("unexpected end"));
        };
        self.at += 1;
        match c {
            '(' => {
                let kind = if self.eat("?:") {
                    Kind::Plain
                } else if self.eat("?=") {
                    Kind::Look { negative: false }
                } else if self.eat("?!") {
                    Kind::Look { negative: true }
                } else if self.eat("?<=") || self.eat("?<!") {
                    return Err(self.err("look-behind"));
                } else if self.eat("?<") || self.eat("?P<") {
                    let start = self.at;
                    while self
                        .peek()
                        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                    {
                        self.at += 1;
                    }
                    let name: String = self.chars[start..self.at].iter().collect();
                    if name.is_empty() || name.starts_with("__la") || !self.eat(">") {
                        return Err(self.err("bad group name"));
                    }
                    Kind::Named(name)
                } else if self.peek() == Some('?') {
                    return Err(self.err("inline flags or unknown group"));
                } else {
                    Kind::Plain
                };
                let inner = self.alt()?;
                if !self.eat(")") {
                    return Err(self.err("missing `)`"));
                }
                Ok(Node::Group(kind, Box::new(inner)))
            }
            '[' => {
                let start = self.at - 1;
                if self.peek() == Some('^') {
                    self.at += 1;
                }
                if self.peek() == Some(']') {
                    self.at += 1; // a leading `]` is literal
                }
                let mut depth = 1;
                while depth > 0 {
                    match self.peek() {
                        None => return Err(self.err("unterminated class")),
                        Some('\\') => self.at += 2,
                        Some('[') => {
                            if self.chars.get(self.at + 1) == Some(&':') {
                                return Err(self.err("POSIX class"));
                            }
                            depth += 1;
                            self.at += 1;
                        }
                        Some(']') => {
                            depth -= 1;
                            self.at += 1;
                        }
                        Some('&') if self.chars.get(self.at + 1) == Some(&'&') => {
                            return Err(self.err("class intersection"));
                        }
                        Some(_) => self.at += 1,
                    }
                }
                let src: String = self.chars[start..self.at].iter().collect();
                self.class(src)
            }
            '\\' => {
                let Some(e) = self.peek() else {
                    return Err(self.err("trailing `\\`"));
                };
                self.at += 1;
                match e {
                    'd' | 'D' | 'w' | 'W' | 's' | 'S' => self.class(format!("\\{e}")),
                    'b' => Ok(Node::Assert("\\b")),
                    'B' => Ok(Node::Assert("\\B")),
                    'A' => Ok(Node::Assert("\\A")),
                    'z' => Ok(Node::Assert("\\z")),
                    e if e.is_ascii_alphanumeric() => Err(self.err("escape")),
                    e => Ok(Node::Lit(e)),
                }
            }
            '.' => self.class(".".into()),
            '^' => Ok(Node::Assert("^")),
            '$' => Ok(Node::Assert("$")),
            '*' | '+' | '?' | '{' => Err(self.err("nothing to repeat")),
            c => Ok(Node::Lit(c)),
        }
    }
}

/// Minimum information, in bits over [`ALPHABET`], that any match pins down:
/// how unlikely a random normalised string is to fit. Literals count fully,
/// classes by their size, optional parts not at all, alternations by their
/// weakest branch.
fn bits(node: &Node) -> f64 {
    let full = (ALPHABET.len() as f64).log2();
    match node {
        Node::Empty | Node::Assert(_) => 0.0,
        Node::Lit(c) if ALPHABET.contains(*c) => full,
        Node::Lit(_) => 0.0,
        Node::Class { members: 0, .. } => 0.0,
        Node::Class { members, .. } => full - f64::from(*members).log2(),
        Node::Group(Kind::Look { .. }, _) => 0.0,
        Node::Group(_, inner) => bits(inner),
        Node::Concat(items) => items.iter().map(bits).sum(),
        Node::Alt(branches) => branches.iter().map(bits).fold(f64::INFINITY, f64::min),
        Node::Repeat { node, min, .. } => f64::from(*min) * bits(node),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// The matched pattern: look-aheads become marker groups.
    Main,
    /// Inside a look-ahead body; `at_end` says nothing follows in the body.
    Body { at_end: bool },
}

#[derive(Default)]
struct Renderer {
    /// (marker group name, negative, body source)
    looks: Vec<(String, bool, String)>,
}

impl Renderer {
    fn render(&mut self, node: &Node, mode: Mode) -> Result<String, String> {
        let inner_mode = |at_end: bool| match mode {
            Mode::Main => Mode::Main,
            Mode::Body { at_end: outer } => Mode::Body {
                at_end: outer && at_end,
            },
        };
        Ok(match node {
            Node::Empty => String::new(),
            Node::Lit('-') => "-?".into(), // dashes are stripped by normalisation
            Node::Lit(c) => regex::escape(c.encode_utf8(&mut [0; 4])),
            Node::Class { src, .. } => src.clone(),
            Node::Assert(a) => (*a).into(),
            Node::Concat(items) => {
                let mut out = String::new();
                for (i, item) in items.iter().enumerate() {
                    out.push_str(&self.render(item, inner_mode(i + 1 == items.len()))?);
                }
                out
            }
            Node::Alt(branches) => branches
                .iter()
                .map(|b| self.render(b, inner_mode(true)))
                .collect::<Result<Vec<_>, _>>()?
                .join("|"),
            Node::Group(Kind::Plain, inner) => {
                format!("(?:{})", self.render(inner, inner_mode(true))?)
            }
            Node::Group(Kind::Named(name), inner) => {
                format!("(?<{name}>{})", self.render(inner, inner_mode(true))?)
            }
            Node::Group(Kind::Look { negative }, inner) => match mode {
                Mode::Main => {
                    let body = self.render(inner, Mode::Body { at_end: true })?;
                    let name = format!("__la{}", self.looks.len());
                    self.looks.push((name.clone(), *negative, body));
                    format!("(?<{name}>)")
                }
                Mode::Body { at_end: false } => {
                    return Err("look-ahead nested mid-way in a look-ahead".into());
                }
                Mode::Body { at_end: true } if !negative => {
                    format!("(?:{})", self.render(inner, mode)?)
                }
                Mode::Body { at_end: true } => format!("(?:$|{})", negated_char(inner)?),
            },
            Node::Repeat {
                node,
                min,
                max,
                lazy,
            } => {
                let inner = self.render(node, inner_mode(false))?;
                let q = match (min, max) {
                    (0, None) => "*".to_string(),
                    (1, None) => "+".to_string(),
                    (0, Some(1)) => "?".to_string(),
                    (n, None) => format!("{{{n},}}"),
                    (n, Some(m)) if n == m => format!("{{{n}}}"),
                    (n, Some(m)) => format!("{{{n},{m}}}"),
                };
                let lazy = if *lazy { "?" } else { "" };
                format!("(?:{inner}){q}{lazy}")
            }
        })
    }
}

/// A class matching one character that `node` (one character) does not.
fn negated_char(node: &Node) -> Result<String, String> {
    match node {
        Node::Lit(c) => Ok(format!("[^{}]", regex::escape(c.encode_utf8(&mut [0; 4])))),
        Node::Class { src, .. } => match src.as_str() {
            "\\d" => Ok("\\D".into()),
            "\\D" => Ok("\\d".into()),
            "\\w" => Ok("\\W".into()),
            "\\W" => Ok("\\w".into()),
            "\\s" => Ok("\\S".into()),
            "\\S" => Ok("\\s".into()),
            s if s.starts_with("[^") => Ok(format!("[{}", &s[2..])),
            s if s.starts_with('[') => Ok(format!("[^{}", &s[1..])),
            _ => Err(format!("cannot negate {src} inside a look-ahead")),
        },
        Node::Group(Kind::Plain, inner) => negated_char(inner),
        _ => Err("nested negative look-ahead over more than one character".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(src: &str) -> Translated {
        translate(src, true, &mut ClassCache::default()).expect("translates")
    }

    #[test]
    fn named_groups_and_spaces_survive() {
        let p = t(r"\s*1\s*Z\s*(?<SerialNumber>([0-9]\s*){3})(?<CheckDigit>[0-9]\s*)");
        let caps = p.pattern.captures("1Z1234").expect("matches");
        assert_eq!(&caps["SerialNumber"], "123");
        assert_eq!(&caps["CheckDigit"], "4");
        assert!(!p.pattern.is_match("1Z12345"));
    }

    #[test]
    fn top_level_lookaheads_are_checked_at_their_position() {
        let p = t(r"GM(?<S>(?=[0-9A-Z]{3,5}\b)(?=[^0-9A-Z]*[0-9])[0-9A-Z]{3,5})");
        assert!(p.pattern.is_match("GM1AB"));
        assert!(
            !p.pattern.is_match("GMAB1"),
            "first character must be a digit"
        );
        assert!(!p.pattern.is_match("GM1ABCDE"), "at most 5");
        let neg = translate(r"^(?!9\s*1).+", false, &mut ClassCache::default()).expect("ok");
        assert!(neg.pattern.is_match("7196"));
        assert!(!neg.pattern.is_match("9101"));
    }

    #[test]
    fn lookaheads_on_untaken_branches_are_ignored() {
        let p = t(r"(?<AI>9\s*2\s*(?=[0-9]{3}9)|9\s*5\s*)[0-9]{4}");
        assert!(p.pattern.is_match("921239"));
        assert!(!p.pattern.is_match("921238"));
        assert!(p.pattern.is_match("951238"));
    }

    #[test]
    fn nested_negative_lookahead_at_branch_end_is_exact() {
        // 4 digits then exactly 3 or 5 more: the d3 branch must not stop a 5.
        let p = t(r"[0-9]{4}(?=([0-9]\s*){3}(?![0-9])|([0-9]\s*){5}(?![0-9]))[0-9]+");
        assert!(p.pattern.is_match("1234567"));
        assert!(p.pattern.is_match("123456789"));
        assert!(!p.pattern.is_match("12345678"));
    }

    #[test]
    fn dashes_become_optional() {
        let p = t(r"1\s*2-\s*1\s*");
        assert!(p.pattern.is_match("121"));
        assert!(p.pattern.is_match("12-1"));
    }

    #[test]
    fn unsupported_syntax_is_refused() {
        for bad in [
            r"(?<=a)b",
            r"(a)\1",
            r"a++",
            r"(?i)a",
            r"[[:alpha:]]",
            r"a(?=b(?!c)d)",
        ] {
            assert!(
                translate(bad, true, &mut ClassCache::default()).is_err(),
                "{bad} should be refused"
            );
        }
    }

    #[test]
    fn specificity_counts_fixed_characters() {
        let digits = t(r"([0-9]\s*){12}").bits;
        let prefixed = t(r"1\s*Z([0-9]\s*){12}").bits;
        let full = (36f64).log2();
        assert!((digits - 12.0 * (full - 10f64.log2())).abs() < 1e-9);
        assert!((prefixed - digits - 2.0 * full).abs() < 1e-9);
        assert_eq!(t(r"(?:AB|C)?[0-9]").bits, t(r"[0-9]").bits);
    }
}
