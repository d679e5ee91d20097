//! Fields in the RFC 822 style that dpkg's database (deb-control(5)) and
//! Python's core metadata share: `Name: value` lines, a value continued on
//! lines that start with a space or a tab, paragraphs separated by blank
//! lines (apk's database splits its stanzas the same way).

/// One paragraph: its lines, and the line number (from 1) it starts on,
/// for problem sentences.
#[derive(Debug)]
pub struct Paragraph<'a> {
    pub line: usize,
    pub lines: Vec<&'a str>,
}

/// The paragraphs of a file, blank (or all-whitespace) lines between them.
/// Line ends may be `\n` or `\r\n`.
pub fn paragraphs(text: &str) -> Vec<Paragraph<'_>> {
    let mut found = Vec::new();
    let mut current: Option<Paragraph<'_>> = None;
    for (index, line) in text.lines().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            found.extend(current.take());
        } else {
            current
                .get_or_insert_with(|| Paragraph {
                    line: index + 1,
                    lines: Vec::new(),
                })
                .lines
                .push(line);
        }
    }
    found.extend(current);
    found
}

/// The fields of one paragraph, in order.
#[derive(Debug, Default)]
pub struct Fields {
    entries: Vec<(String, String)>,
}

impl Fields {
    /// Reads a paragraph's fields; a continuation value's lines are joined
    /// with `\n`, each without its leading space. A line that is neither a
    /// field nor a continuation is an error saying which line it is.
    pub fn parse(paragraph: &Paragraph<'_>) -> Result<Self, String> {
        let mut entries: Vec<(String, String)> = Vec::new();
        for (offset, line) in paragraph.lines.iter().enumerate() {
            if line.starts_with([' ', '\t']) {
                match entries.last_mut() {
                    Some((_, value)) => {
                        value.push('\n');
                        value.push_str(line.trim());
                    }
                    None => {
                        return Err(format!(
                            "line {} continues no field",
                            paragraph.line + offset
                        ));
                    }
                }
                continue;
            }
            match line.split_once(':') {
                Some((name, value)) if !name.is_empty() && !name.contains(char::is_whitespace) => {
                    entries.push((name.to_owned(), value.trim().to_owned()))
                }
                _ => {
                    return Err(format!(
                        "line {} is not a `Name: value` field",
                        paragraph.line + offset
                    ));
                }
            }
        }
        Ok(Self { entries })
    }

    /// The first value of a field (names compare case-insensitively, as
    /// both formats say), if present and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(key, value)| key.eq_ignore_ascii_case(name) && !value.is_empty())
            .map(|(_, value)| value.as_str())
    }

    /// Every value of a field that may repeat (`Classifier`).
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.entries
            .iter()
            .filter(move |(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_split_on_blank_lines_and_remember_where_they_start() {
        let text = "A: 1\r\nB: 2\n\n  \n\nC: 3\n continued\n\n";
        let found = paragraphs(text);
        assert_eq!(found.len(), 2);
        assert_eq!((found[0].line, found[1].line), (1, 6));
        let fields = Fields::parse(&found[1]).unwrap();
        assert_eq!(fields.get("c"), Some("3\ncontinued"));
        assert_eq!(Fields::parse(&found[0]).unwrap().get("B"), Some("2"));
    }

    #[test]
    fn a_line_that_is_no_field_names_its_line() {
        let found = paragraphs("\nA: 1\nnot a field\n");
        assert_eq!(
            Fields::parse(&found[0]).unwrap_err(),
            "line 3 is not a `Name: value` field"
        );
        assert_eq!(
            Fields::parse(&paragraphs(" lost\n")[0]).unwrap_err(),
            "line 1 continues no field"
        );
    }
}
