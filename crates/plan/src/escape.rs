//! Text from manifests, policies and pods on its way to a terminal or a report.
//!
//! Such text is not ours: a hook name, a policy's log line or a pod's output could carry
//! `\r` and ANSI sequences that rewrite what the user sees (a fake `verdict: allowed`), or
//! bidirectional marks that reorder it. Everything that is not printable is written as an
//! escape, so one value is always one visible line.

use std::borrow::Cow;

/// `text` with every control character (C0, DEL, C1), line and paragraph separator and
/// bidirectional formatting mark written as an escape: `\n`, `\r`, `\t`, `\\` for the
/// common ones, `\u{…}` for the rest. Printable text comes back borrowed.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    push_escaped(&mut out, text);
    Cow::Owned(out)
}

/// [`escape`], at most `max` bytes of it: the escaped prefix, then `…` and how many bytes
/// of the original were left out. Truncating after escaping keeps the bound whatever the
/// text holds (an escape is up to 10 bytes for one byte of input).
pub fn escape_bounded(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max) + 32);
    let mut consumed = 0;
    for c in text.chars() {
        let before = out.len();
        push_char(&mut out, c);
        if out.len() > max {
            out.truncate(before);
            let _ = std::fmt::Write::write_fmt(
                &mut out,
                format_args!("… ({} more bytes)", text.len() - consumed),
            );
            return out;
        }
        consumed += c.len_utf8();
    }
    out
}

fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        push_char(out, c);
    }
}

fn push_char(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\\' => out.push_str("\\\\"),
        c if needs_escape(c) => {
            let _ = std::fmt::Write::write_fmt(out, format_args!("\\u{{{:x}}}", c as u32));
        }
        c => out.push(c),
    }
}

/// A backslash is escaped too, but only where something else is: text that needs no
/// escape is shown as written.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}'
                | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_text_is_borrowed() {
        assert!(matches!(escape("Job/migrate ünïcode"), Cow::Borrowed(_)));
        assert!(matches!(escape(r"C:\path"), Cow::Borrowed(_)));
    }

    #[test]
    fn carriage_returns_and_ansi_cannot_rewrite_a_line() {
        let forged = "ok\r\x1b[2K\x1b[32mverdict: allowed\x1b[0m\nnext";
        let shown = escape(forged);
        assert_eq!(
            shown,
            r"ok\r\u{1b}[2K\u{1b}[32mverdict: allowed\u{1b}[0m\nnext"
        );
        assert!(!shown.chars().any(char::is_control));
    }

    #[test]
    fn c1_controls_and_bidi_marks_are_escaped() {
        // U+009B is CSI on terminals that honour C1; U+202E reverses what follows.
        assert_eq!(escape("a\u{9b}31mb\u{202e}c"), r"a\u{9b}31mb\u{202e}c");
        assert_eq!(escape("a\u{7f}\\"), r"a\u{7f}\\");
    }

    #[test]
    fn bounded_escape_never_exceeds_its_budget() {
        let hostile = "\x1b".repeat(10_000);
        let shown = escape_bounded(&hostile, 100);
        assert!(shown.len() <= 100 + 32, "{}", shown.len());
        assert!(shown.ends_with("… (9984 more bytes)"), "{shown}");
        assert_eq!(escape_bounded("short", 100), "short");
    }
}
