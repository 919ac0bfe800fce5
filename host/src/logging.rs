//! tracing set-up for the binary.
//!
//! Values in log lines come from requests (token names, org slugs in paths,
//! a provider's messages), so in the text format every control character in
//! a field value or a message is written escaped (`\n`, `\r`, `\t`, `\x1b`,
//! ...): a token named `"a\nFORGED ..."` stays inside its own line instead of
//! forging the next one, and a raw escape sequence never reaches a terminal.
//! The JSON format escapes them by itself. Colours (ANSI codes written by the
//! formatter, not by values) are used only when stderr is a terminal, so a
//! log file or a pipe gets plain text.

use std::fmt::{self, Write as _};
use std::io::IsTerminal;

use tracing::field::{Field, Visit};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::{FormatFields, Writer};

use crate::settings::LogFormat;

/// Installs the global subscriber: `filter` in tracing syntax, lines on stderr.
pub fn init(filter: &str, format: LogFormat) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(filter)
        .map_err(|e| anyhow::anyhow!("invalid --log filter `{filter}`: {e}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.fmt_fields(EscapedFields).init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .init(),
    }
    Ok(())
}

/// The text format's field formatter: like tracing-subscriber's default
/// (`message` first and bare, then `name=value`, `&str` values quoted),
/// with control characters escaped (see the module comment).
pub struct EscapedFields;

impl<'w> FormatFields<'w> for EscapedFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut v = EscapingVisitor {
            writer,
            first: true,
            result: Ok(()),
        };
        fields.record(&mut v);
        v.result
    }
}

struct EscapingVisitor<'w> {
    writer: Writer<'w>,
    first: bool,
    result: fmt::Result,
}

impl EscapingVisitor<'_> {
    fn write(&mut self, field: &Field, value: fmt::Arguments<'_>) {
        // Fields the `log` bridge adds (target, file, line) are metadata.
        if self.result.is_err() || field.name().starts_with("log.") {
            return;
        }
        let sep = if std::mem::replace(&mut self.first, false) {
            ""
        } else {
            " "
        };
        let value = value.to_string();
        self.result = if field.name() == "message" {
            write!(self.writer, "{sep}{}", Escaped(&value))
        } else {
            write!(self.writer, "{sep}{}={}", field.name(), Escaped(&value))
        };
    }
}

impl Visit for EscapingVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.write(field, format_args!("{value}"));
        } else {
            self.write(field, format_args!("{value:?}"));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.write(field, format_args!("{value:?}"));
    }
}

/// Writes a string with its control characters escaped.
struct Escaped<'a>(&'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            match c {
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                c if c.is_control() => write!(f, "\\x{:02x}", u32::from(c))?,
                // Line and paragraph separators end lines in some viewers.
                '\u{2028}' | '\u{2029}' => write!(f, "\\u{{{:04x}}}", u32::from(c))?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Everything the subscriber writes, in one buffer.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn logged(f: impl FnOnce()) -> String {
        let out = Captured::default();
        let w = out.clone();
        let sub = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || w.clone())
            .fmt_fields(EscapedFields)
            .finish();
        tracing::subscriber::with_default(sub, f);
        String::from_utf8(out.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn control_characters_from_values_never_break_a_line() {
        let name = "a\nFORGED line\x1b[31m\r\u{7}\u{2028}";
        let text = logged(|| {
            let span = tracing::info_span!("request", route = %"/x\ny");
            let _g = span.enter();
            tracing::info!(name = %name, quoted = name, "token {} created", name);
        });
        assert_eq!(text.lines().count(), 1, "{text:?}");
        assert!(!text.contains('\x1b') && !text.contains('\r'), "{text:?}");
        assert!(
            text.contains(r"name=a\nFORGED line\x1b[31m\r\x07\u{2028}"),
            "{text}"
        );
        assert!(
            text.contains(r#"quoted="a\nFORGED line\u{1b}[31m\r\u{7}"#),
            "{text}"
        );
        assert!(text.contains(r"token a\nFORGED line\x1b[31m"), "{text}");
        assert!(text.contains(r"request{route=/x\ny}"), "{text}");
    }

    #[test]
    fn plain_values_look_as_with_the_default_formatter() {
        let text = logged(|| tracing::info!(org = %"acme", n = 3, s = "x", "deploy registered"));
        assert!(
            text.trim_end()
                .ends_with(r#"deploy registered org=acme n=3 s="x""#),
            "{text}"
        );
    }
}
