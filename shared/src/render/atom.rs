//! Atom (RFC 4287) writing: the public announcement as a feed, one entry
//! per language and per step that has come.

use chrono::{DateTime, Utc};

pub struct Feed<'a> {
    /// The feed's permanent IRI, and its own address.
    pub id: &'a str,
    pub self_href: &'a str,
    pub alternate: &'a str,
    pub title: &'a str,
    pub author: &'a str,
    pub author_email: &'a str,
    pub entries: Vec<Entry>,
}

pub struct Entry {
    pub id: String,
    pub lang: &'static str,
    pub title: String,
    pub summary: String,
    pub href: String,
    pub published: DateTime<Utc>,
}

pub fn feed(f: &Feed<'_>) -> String {
    let updated = f
        .entries
        .iter()
        .map(|e| e.published)
        .max()
        .map_or_else(String::new, |t| t.to_rfc3339());
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    out.push_str("<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
    out.push_str(&format!("  <id>{}</id>\n", escape(f.id)));
    out.push_str(&format!("  <title>{}</title>\n", escape(f.title)));
    out.push_str(&format!("  <updated>{updated}</updated>\n"));
    out.push_str(&format!(
        "  <link rel=\"self\" type=\"application/atom+xml\" href=\"{}\"/>\n",
        escape(f.self_href)
    ));
    out.push_str(&format!(
        "  <link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n",
        escape(f.alternate)
    ));
    out.push_str(&format!(
        "  <author><name>{}</name><email>{}</email></author>\n",
        escape(f.author),
        escape(f.author_email)
    ));
    let mut entries: Vec<&Entry> = f.entries.iter().collect();
    entries.sort_by(|a, b| b.published.cmp(&a.published).then(a.lang.cmp(b.lang)));
    for e in entries {
        let at = e.published.to_rfc3339();
        out.push_str(&format!("  <entry xml:lang=\"{}\">\n", e.lang));
        out.push_str(&format!("    <id>{}</id>\n", escape(&e.id)));
        out.push_str(&format!(
            "    <title type=\"text\">{}</title>\n",
            escape(&e.title)
        ));
        out.push_str(&format!("    <published>{at}</published>\n"));
        out.push_str(&format!("    <updated>{at}</updated>\n"));
        out.push_str(&format!(
            "    <link rel=\"alternate\" type=\"text/html\" hreflang=\"{}\" href=\"{}\"/>\n",
            e.lang,
            escape(&e.href)
        ));
        out.push_str(&format!(
            "    <summary type=\"text\">{}</summary>\n",
            escape(&e.summary)
        ));
        out.push_str("  </entry>\n");
    }
    out.push_str("</feed>\n");
    out
}

/// XML character data and attribute values.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}
