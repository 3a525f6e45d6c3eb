//! How long a text message is: its encoding and how many segments it is
//! sent (and billed) in.
//!
//! A text in the GSM 7-bit alphabet holds 160 characters, or 153 a part
//! when split (the rest carries the header that joins them); characters of
//! the alphabet's extension (`€ [ ] { } ~ ^ \ |`) take two. Any other
//! character (Chinese, an emoji, a curly quote) sends the whole text as
//! UCS-2: 70 UTF-16 units, 67 a part. A notice is kept to two segments.

/// The most segments a notice may take.
pub const MAX_SEGMENTS: u32 = 2;

const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM7_EXTENSION: &str = "^{}\\[~]|€\u{c}";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Gsm7,
    Ucs2,
}

impl Encoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Gsm7 => "gsm-7",
            Encoding::Ucs2 => "ucs-2",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segments {
    pub encoding: Encoding,
    /// Septets (GSM-7) or UTF-16 units (UCS-2).
    pub units: u32,
    pub count: u32,
}

impl Segments {
    pub fn of(text: &str) -> Segments {
        let gsm: Option<u32> = text
            .chars()
            .map(|c| {
                if GSM7_BASIC.contains(c) {
                    Some(1)
                } else if GSM7_EXTENSION.contains(c) {
                    Some(2)
                } else {
                    None
                }
            })
            .sum();
        let (encoding, units, single, part) = match gsm {
            Some(septets) => (Encoding::Gsm7, septets, 160, 153),
            None => (Encoding::Ucs2, text.encode_utf16().count() as u32, 70, 67),
        };
        let count = if units <= single {
            1
        } else {
            units.div_ceil(part)
        };
        Segments {
            encoding,
            units,
            count,
        }
    }
}

/// A template's text on one line: its line breaks are layout, and cost
/// characters. Lines join with a space between two Latin words, and with
/// nothing where either side is Chinese (`停止服务。请在`, never
/// `停止服务。 请在`).
pub fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let words = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if let (Some(before), Some(after)) = (out.chars().last(), words.chars().next()) {
            if before.is_ascii() && after.is_ascii() {
                out.push(' ');
            }
        }
        out.push_str(&words);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_join_with_a_space_only_between_latin_words() {
        assert_eq!(
            one_line("Orbit CRM closes\n  tomorrow.\n\nReply STOP"),
            "Orbit CRM closes tomorrow. Reply STOP"
        );
        assert_eq!(
            one_line("停止服务。\n请在 10月31日前\n导出"),
            "停止服务。请在 10月31日前导出"
        );
    }

    #[test]
    fn segments_are_counted_per_encoding() {
        let s = Segments::of(&"a".repeat(160));
        assert_eq!((s.encoding, s.count), (Encoding::Gsm7, 1));
        assert_eq!(Segments::of(&"a".repeat(161)).count, 2);
        assert_eq!(Segments::of(&"a".repeat(306)).count, 2);
        assert_eq!(Segments::of(&"a".repeat(307)).count, 3);
        // The extension's characters take two septets.
        assert_eq!(Segments::of(&"€".repeat(80)).units, 160);
        assert_eq!(Segments::of(&"€".repeat(81)).count, 2);
        // One Chinese character sends the whole text as UCS-2.
        let s = Segments::of(&format!("{}中", "a".repeat(69)));
        assert_eq!((s.encoding, s.units, s.count), (Encoding::Ucs2, 70, 1));
        assert_eq!(Segments::of(&"中".repeat(71)).count, 2);
        assert_eq!(Segments::of(&"中".repeat(134)).count, 2);
        assert_eq!(Segments::of(&"中".repeat(135)).count, 3);
        // An emoji is two UTF-16 units.
        assert_eq!(Segments::of("🙂").units, 2);
    }
}
