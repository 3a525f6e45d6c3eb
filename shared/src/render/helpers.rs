//! The functions templates lay a message out with. A template's source is
//! rendered twice, once as HTML (auto-escaped) and once as plain text, and
//! each helper writes the form its output is for: `link(url, label)` is an
//! `<a>` in the HTML part and `label: url` in the text part. So an operator
//! writes a notice once and both parts agree.
//!
//! In HTML every argument is escaped here; the result is marked safe so the
//! engine does not escape it twice.

use minijinja::value::{Rest, Value, ValueKind};
use minijinja::{AutoEscape, Environment, Error, ErrorKind, State};

pub(super) fn register(env: &mut Environment<'_>) {
    env.add_function("link", link);
    env.add_function("button", button);
    env.add_function("heading", heading);
    env.add_function("timeline", timeline);
    env.add_function("items", items);
    env.add_function("bullet", bullet);
    env.add_function("mailto", mailto);
    env.add_function("tel", tel);
    env.add_function("strong", strong);
    env.add_function("note", note);
    env.add_function("callout", callout);
    env.add_filter("blocks", blocks);
}

fn html(state: &State) -> bool {
    matches!(state.auto_escape(), AutoEscape::Html)
}

/// Whether the message is in Chinese: its text part then uses full-width
/// colons and brackets around what a helper adds.
fn chinese(state: &State) -> bool {
    state
        .lookup("lang")
        .is_some_and(|l| l.as_str().is_some_and(|l| l.starts_with("zh")))
}

/// `label: value` in the message's language.
fn labelled(state: &State, label: &str, value: &str) -> String {
    if chinese(state) {
        format!("{label}：{value}")
    } else {
        format!("{label}: {value}")
    }
}

/// `(text)` in the message's language.
fn bracketed(state: &State, text: &str) -> String {
    if chinese(state) {
        format!("（{text}）")
    } else {
        format!("({text})")
    }
}

/// HTML-escapes text for an element's content or a quoted attribute.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A value as HTML: a safe value (another helper's output) as it is, any
/// other escaped. A list is its parts side by side, each escaped or not on
/// its own: `["E-mail: ", mailto(a)]` (joining them with `~` would make the
/// link text).
fn markup(value: &Value) -> String {
    if value.kind() == ValueKind::Seq {
        return value.try_iter().map_or_else(
            |_| String::new(),
            |parts| parts.map(|p| markup(&p)).collect(),
        );
    }
    if value.is_safe() {
        value.to_string()
    } else {
        escape(&value.to_string())
    }
}

/// A value as plain text; a list is its parts side by side.
fn plain(value: &Value) -> String {
    if value.kind() == ValueKind::Seq {
        return value.try_iter().map_or_else(
            |_| String::new(),
            |parts| parts.map(|p| plain(&p)).collect(),
        );
    }
    value.to_string()
}

/// Only web and mail links reach a customer's mail: a `javascript:` URL in
/// an operator's template is refused when it is saved, not sent.
fn checked_url(url: &str) -> Result<&str, Error> {
    let lower = url.trim_start().to_ascii_lowercase();
    if ["https://", "http://", "mailto:", "tel:"]
        .iter()
        .any(|scheme| lower.starts_with(scheme))
    {
        Ok(url)
    } else {
        Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("'{url}' is not an http(s), mailto: or tel: link"),
        ))
    }
}

const LINK: &str = "color:#1d4ed8;text-decoration:underline";

/// `link(url)` or `link(url, label)`: an inline link. Text: `label (url)`.
fn link(state: &State, url: String, label: Option<Value>) -> Result<Value, Error> {
    let url = checked_url(&url)?;
    let label = label.filter(|l| !l.is_none() && !l.is_undefined());
    if html(state) {
        let text = label.as_ref().map_or_else(|| escape(url), markup);
        Ok(Value::from_safe_string(format!(
            "<a href=\"{}\" style=\"{LINK}\">{text}</a>",
            escape(url)
        )))
    } else {
        Ok(Value::from(match label {
            Some(l) if plain(&l) != url => {
                let sep = if chinese(state) { "" } else { " " };
                format!("{}{sep}{}", plain(&l), bracketed(state, url))
            }
            _ => url.to_owned(),
        }))
    }
}

/// `button(url, label)`: the one action a message asks for. A block of its
/// own. Text: the label, then the URL on its own line (mail programs break
/// long URLs inside sentences).
fn button(state: &State, url: String, label: Value) -> Result<Value, Error> {
    let url = checked_url(&url)?;
    if html(state) {
        Ok(Value::from_safe_string(format!(
            "<table role=\"presentation\" class=\"button\" cellpadding=\"0\" cellspacing=\"0\" \
             style=\"margin:8px 0 20px\"><tr><td style=\"border-radius:6px;background:#1d4ed8\">\
             <a href=\"{}\" style=\"display:inline-block;padding:12px 24px;font-weight:600;\
             color:#ffffff;text-decoration:none;border-radius:6px\">{}</a></td></tr></table>",
            escape(url),
            markup(&label)
        )))
    } else {
        Ok(Value::from(labelled(
            state,
            &plain(&label),
            &format!("\n{url}"),
        )))
    }
}

/// A section heading. Text: the words, underlined.
fn heading(state: &State, text: Value) -> Value {
    if html(state) {
        Value::from_safe_string(format!(
            "<h2 style=\"margin:24px 0 8px;font-size:17px;line-height:1.35;color:#111827\">{}</h2>",
            markup(&text)
        ))
    } else {
        let text = plain(&text);
        let width: usize = text.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum();
        Value::from(format!("{text}\n{}", "-".repeat(width.min(72))))
    }
}

/// `timeline([[label, date], ...])`: the key dates as a table (the guide: the
/// most visible part of the notice). A row may carry a third element,
/// true, to stand out. Text: `label: date` lines.
fn timeline(state: &State, rows: Value) -> Result<Value, Error> {
    let mut lines = Vec::new();
    for row in rows.try_iter()? {
        let label = row.get_item(&Value::from(0))?;
        let date = row.get_item(&Value::from(1))?;
        let marked = row.get_item(&Value::from(2)).is_ok_and(|v| v.is_true());
        if label.is_undefined() || date.is_undefined() {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                "each row of timeline() is [label, date] or [label, date, true]",
            ));
        }
        lines.push((label, date, marked));
    }
    if html(state) {
        let mut out = String::from(
            "<table role=\"presentation\" class=\"dates\" cellpadding=\"0\" cellspacing=\"0\" \
             style=\"width:100%;margin:4px 0 16px;border-collapse:collapse\">",
        );
        for (label, date, marked) in lines {
            let weight = if marked { "font-weight:700;" } else { "" };
            let background = if marked { "background:#fef3c7;" } else { "" };
            out.push_str(&format!(
                "<tr style=\"{background}\"><td class=\"label\" style=\"padding:8px 12px 8px 0;\
                 border-bottom:1px solid #e5e7eb;color:#4b5563\">{}</td>\
                 <td class=\"date\" style=\"padding:8px 0;border-bottom:1px solid #e5e7eb;\
                 {weight}white-space:nowrap;text-align:right\">{}</td></tr>",
                markup(&label),
                markup(&date)
            ));
        }
        out.push_str("</table>");
        Ok(Value::from_safe_string(out))
    } else {
        Ok(Value::from(
            lines
                .iter()
                .map(|(label, date, marked)| {
                    let mark = if *marked { "> " } else { "- " };
                    format!("{mark}{}", labelled(state, &plain(label), &plain(date)))
                })
                .collect::<Vec<_>>()
                .join("\n"),
        ))
    }
}

/// `items(a, b, ...)`: a bulleted list; `none` items are left out, so a
/// template can pass optional lines without an `if` around each.
fn items(state: &State, entries: Rest<Value>) -> Value {
    let entries = entries
        .iter()
        .filter(|v| !v.is_none() && !v.is_undefined() && !plain(v).trim().is_empty());
    if html(state) {
        let lis: String = entries
            .map(|e| format!("<li style=\"margin:4px 0\">{}</li>", markup(e)))
            .collect();
        Value::from_safe_string(format!("{UL}{lis}</ul>"))
    } else {
        Value::from(
            entries
                // Continuation lines are indented with no-break spaces, which
                // `blocks` keeps (it drops only the source's indentation).
                .map(|e| format!("• {}", plain(e).replace('\n', "\n\u{a0}\u{a0}")))
                .collect::<Vec<_>>()
                .join("\n"),
        )
    }
}

const UL: &str = "<ul style=\"margin:4px 0 16px;padding-left:20px\">";

/// `bullet(x)`: one list item, for a list built in a loop. Bullets on
/// consecutive lines make one list.
fn bullet(state: &State, entry: Value) -> Value {
    if html(state) {
        Value::from_safe_string(format!(
            "{UL}<li style=\"margin:4px 0\">{}</li></ul>",
            markup(&entry)
        ))
    } else {
        Value::from(format!(
            "• {}",
            plain(&entry).replace('\n', "\n\u{a0}\u{a0}")
        ))
    }
}

/// An e-mail address the reader can click.
fn mailto(state: &State, address: String) -> Value {
    if html(state) {
        Value::from_safe_string(format!(
            "<a href=\"mailto:{0}\" style=\"{LINK}\">{0}</a>",
            escape(&address)
        ))
    } else {
        Value::from(address)
    }
}

/// A phone number the reader can tap: the `tel:` URI keeps `+` and digits.
fn tel(state: &State, number: String) -> Value {
    if html(state) {
        let uri: String = number
            .chars()
            .filter(|c| c.is_ascii_digit() || *c == '+')
            .collect();
        Value::from_safe_string(format!(
            "<a href=\"tel:{}\" style=\"{LINK};white-space:nowrap\">{}</a>",
            escape(&uri),
            escape(&number)
        ))
    } else {
        Value::from(number)
    }
}

fn strong(state: &State, text: Value) -> Value {
    if html(state) {
        Value::from_safe_string(format!("<strong>{}</strong>", markup(&text)))
    } else {
        Value::from(plain(&text))
    }
}

/// Small print under an action (how long a link works).
fn note(state: &State, text: Value) -> Value {
    if html(state) {
        Value::from_safe_string(format!(
            "<p class=\"note\" style=\"margin:0 0 16px;font-size:13px;color:#6b7280\">{}</p>",
            markup(&text)
        ))
    } else {
        Value::from(bracketed(state, &plain(&text)))
    }
}

/// The sentence the reader must not miss, boxed.
fn callout(state: &State, text: Value) -> Value {
    if html(state) {
        Value::from_safe_string(format!(
            "<div class=\"callout\" style=\"margin:8px 0 16px;padding:14px 16px;\
             background:#eff6ff;border-left:4px solid #1d4ed8;border-radius:4px;font-weight:600\">{}</div>",
            markup(&text)
        ))
    } else {
        Value::from(plain(&text))
    }
}

/// Block elements the helpers write; a chunk starting with one is not
/// wrapped in a paragraph.
const BLOCKS: [&str; 6] = ["<table", "<h2", "<ul", "<div", "<p", "<hr"];

/// `{% filter blocks %}`: turns a template's text into paragraphs. Chunks
/// are separated by blank lines and the indentation of the template's
/// source is dropped, so an operator can lay a template out freely. HTML:
/// each chunk a `<p>` (line breaks kept) unless it is a helper's block.
/// Text: chunks one blank line apart.
fn blocks(state: &State, body: Value) -> Value {
    let body = body.to_string();
    let mut chunks: Vec<String> = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for line in body
        .lines()
        .map(|l| l.trim_matches(|c| c == ' ' || c == '\t' || c == '\r'))
    {
        if line.is_empty() {
            if !current.is_empty() {
                chunks.push(current.join("\n"));
                current.clear();
            }
        } else {
            current.push(line);
        }
    }
    if !current.is_empty() {
        chunks.push(current.join("\n"));
    }
    if html(state) {
        // Within a chunk, a helper's block (each is one line) stands alone
        // and the lines of text between blocks make a paragraph.
        let mut out = String::new();
        for chunk in &chunks {
            let chunk = chunk.replace(&format!("</ul>\n{UL}"), "");
            let mut text: Vec<&str> = Vec::new();
            let flush = |text: &mut Vec<&str>, out: &mut String| {
                if !text.is_empty() {
                    out.push_str(&format!(
                        "<p style=\"margin:0 0 16px\">{}</p>\n",
                        text.join("<br>\n")
                    ));
                    text.clear();
                }
            };
            for line in chunk.lines() {
                if BLOCKS.iter().any(|b| line.starts_with(b)) {
                    flush(&mut text, &mut out);
                    out.push_str(line);
                    out.push('\n');
                } else {
                    text.push(line);
                }
            }
            flush(&mut text, &mut out);
        }
        Value::from_safe_string(out)
    } else {
        Value::from(chunks.join("\n\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::context;

    fn env() -> Environment<'static> {
        let mut env = Environment::new();
        register(&mut env);
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env
    }

    fn both(source: &str, ctx: Value) -> (String, String) {
        let mut env = env();
        env.add_template_owned("t.html", source.to_owned()).unwrap();
        env.add_template_owned("t.txt", source.to_owned()).unwrap();
        let r = |n| env.get_template(n).unwrap().render(&ctx).unwrap();
        (r("t.html"), r("t.txt"))
    }

    #[test]
    fn one_source_gives_escaped_html_and_plain_text() {
        let (html, text) = both(
            "{% filter blocks %}Dear {{ name }},\n\n  see {{ link(url, 'the <guide>') }}.\n\n{{ button(url, 'Go') }}{% endfilter %}",
            context! { name => "<Ada & Co>", url => "https://x.example/?a=1&b=2" },
        );
        assert!(
            html.contains("<p style=\"margin:0 0 16px\">Dear &lt;Ada &amp; Co&gt;,</p>"),
            "{html}"
        );
        assert!(
            html.contains("<a href=\"https://x.example/?a=1&amp;b=2\""),
            "{html}"
        );
        assert!(html.contains(">the &lt;guide&gt;</a>"), "{html}");
        assert!(
            !html.contains("<p style=\"margin:0 0 16px\"><table"),
            "{html}"
        );
        assert_eq!(
            text,
            "Dear <Ada & Co>,\n\nsee the <guide> (https://x.example/?a=1&b=2).\n\nGo:\nhttps://x.example/?a=1&b=2"
        );
    }

    #[test]
    fn text_under_a_heading_is_a_paragraph_and_bullets_one_list() {
        let (html, text) = both(
            "{% filter blocks %}{{ heading('Fees') }}\nNo fees.\n{{ bullet('a') }}\n{{ bullet('b') }}{% endfilter %}",
            context! { lang => "zh-CN" },
        );
        assert!(
            html.contains("</h2>\n<p style=\"margin:0 0 16px\">No fees.</p>\n<ul"),
            "{html}"
        );
        assert_eq!(html.matches("<ul").count(), 1, "{html}");
        assert_eq!(text, "Fees\n----\nNo fees.\n• a\n• b");
    }

    #[test]
    fn a_script_link_is_refused() {
        let mut env = env();
        env.add_template("t.html", "{{ link('javascript:alert(1)', 'x') }}")
            .unwrap();
        let err = env
            .get_template("t.html")
            .unwrap()
            .render(context! {})
            .unwrap_err();
        assert!(err.to_string().contains("is not an http(s)"), "{err}");
    }

    #[test]
    fn dates_lists_and_phones_in_both_forms() {
        let (html, text) = both(
            "{{ timeline([['Service ends', 'September 30, 2027', true], ['Last day', 'October 31, 2027']]) }}\n{{ items('a', none, ['b: ', mailto('b@x.example')]) }}\n{{ tel('+49 30 1234567') }}",
            context! {},
        );
        assert!(html.contains("font-weight:700;"), "{html}");
        assert!(html.contains("href=\"tel:+49301234567\""), "{html}");
        assert_eq!(html.matches("<li").count(), 2);
        assert!(
            html.contains("<li style=\"margin:4px 0\">b: <a href=\"mailto:b@x.example\""),
            "{html}"
        );
        assert_eq!(
            text,
            "> Service ends: September 30, 2027\n- Last day: October 31, 2027\n• a\n• b: b@x.example\n+49 30 1234567"
        );
    }
}
