//! `import-batch`'s input: JSON Lines as Gigya's account exports write them, or CSV with a
//! header naming `UID` and `URL` columns, from a file or stdin. Rows are read on a thread
//! of their own and handed over through a bounded channel, so a slow pipe never stalls
//! the runtime and memory holds a channel's worth of rows, whatever the input's length.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use avatarium::batch::{names_field, BatchRow, UID_NAMES, URL_NAMES};
use futures::Stream;
use sha2::{Digest, Sha256};

/// Rows read ahead of the imports.
const READ_AHEAD: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON object per line: `{"UID": …, "profile": {"photoURL": …}}` or `UID`/`URL`.
    Jsonl,
    /// A header line naming the `UID` and `URL` columns.
    Csv,
}

/// An opened input: the key its progress is kept under, its row count when known, and
/// the reader.
pub struct Input {
    pub key: String,
    pub total: Option<u64>,
    format: Format,
    reader: Box<dyn BufRead + Send>,
}

/// A read error met after rows started flowing (the rows before it were imported).
pub type ReadError = Arc<Mutex<Option<String>>>;

impl Input {
    /// `-` is stdin; anything else a file, read once here for its key (a hash of its
    /// contents, so every shard and every rerun of the same file agree) and row count.
    pub fn open(name: &str, format: Option<Format>) -> Result<Input, String> {
        if name == "-" {
            let mut reader: Box<dyn BufRead + Send> = Box::new(BufReader::new(std::io::stdin()));
            let format = match format {
                Some(f) => f,
                None => sniff(&mut reader).map_err(|e| format!("stdin: {e}"))?,
            };
            // A stream has no identity before it is read: its rows' own digests keep a
            // different stream's rows from passing for done (see avatarium::batch).
            return Ok(Input {
                key: "stdin".into(),
                total: None,
                format,
                reader,
            });
        }
        let path = Path::new(name);
        let (digest, lines) = scan(path).map_err(|e| format!("{name}: {e}"))?;
        let file = File::open(path).map_err(|e| format!("{name}: {e}"))?;
        let mut reader: Box<dyn BufRead + Send> = Box::new(BufReader::new(file));
        let format = match format.or_else(|| by_extension(path)) {
            Some(f) => f,
            None => sniff(&mut reader).map_err(|e| format!("{name}: {e}"))?,
        };
        let total = match format {
            Format::Jsonl => lines,
            Format::Csv => lines.saturating_sub(1),
        };
        Ok(Input {
            key: format!("sha256:{digest}"),
            total: Some(total),
            format,
            reader,
        })
    }

    /// Start reading: the rows as a stream, and where a read error will be left.
    pub fn rows(
        self,
    ) -> Result<(impl Stream<Item = BatchRow> + Send + 'static, ReadError), String> {
        let (tx, rx) = tokio::sync::mpsc::channel(READ_AHEAD);
        let failed: ReadError = Arc::default();
        let failure = Arc::clone(&failed);
        let send = move |row: BatchRow| tx.blocking_send(row).is_ok();
        let read: Box<dyn FnOnce() -> Result<(), String> + Send> = match self.format {
            Format::Jsonl => {
                let reader = self.reader;
                Box::new(move || read_jsonl(reader, send))
            }
            Format::Csv => {
                let mut csv = csv::ReaderBuilder::new()
                    .flexible(true)
                    .from_reader(self.reader);
                let columns = columns(&mut csv)?;
                Box::new(move || read_csv(csv, columns, send))
            }
        };
        std::thread::spawn(move || {
            if let Err(e) = read() {
                *failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
            }
        });
        let rows =
            futures::stream::unfold(
                rx,
                |mut rx| async move { rx.recv().await.map(|row| (row, rx)) },
            );
        Ok((rows, failed))
    }
}

/// The file's SHA-256 and its count of non-empty lines, streamed.
fn scan(path: &Path) -> std::io::Result<(String, u64)> {
    let mut file = File::open(path)?;
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let (mut lines, mut in_line) = (0u64, false);
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
        for &b in &buf[..n] {
            match b {
                b'\n' => in_line = false,
                b'\r' | b' ' | b'\t' => {}
                _ if !in_line => {
                    in_line = true;
                    lines += 1;
                }
                _ => {}
            }
        }
    }
    Ok((hex::encode(hash.finalize()), lines))
}

fn by_extension(path: &Path) -> Option<Format> {
    match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
        "csv" => Some(Format::Csv),
        "jsonl" | "ndjson" | "json" => Some(Format::Jsonl),
        _ => None,
    }
}

/// JSON Lines when the first thing in the input is `{`, else CSV.
fn sniff(reader: &mut dyn BufRead) -> std::io::Result<Format> {
    let head = reader.fill_buf()?;
    // Past blanks and a UTF-8 byte-order mark.
    let first = head
        .iter()
        .copied()
        .find(|b| !(b.is_ascii_whitespace() || [0xEF, 0xBB, 0xBF].contains(b)));
    Ok(if first == Some(b'{') {
        Format::Jsonl
    } else {
        Format::Csv
    })
}

/// The longest line (or CSV record) taken: a longer one fails alone (400006) and is
/// skipped without being held in memory.
const MAX_LINE: u64 = 1 << 20;

const BOM: &[u8] = b"\xEF\xBB\xBF";

fn read_jsonl(
    mut reader: Box<dyn BufRead + Send>,
    send: impl Fn(BatchRow) -> bool,
) -> Result<(), String> {
    let mut line = Vec::new();
    let mut row = 0u64;
    let mut first = true;
    loop {
        line.clear();
        let n = reader
            .by_ref()
            .take(MAX_LINE + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| e.to_string())?;
        if n == 0 {
            return Ok(());
        }
        let next = if n as u64 > MAX_LINE && line.last() != Some(&b'\n') {
            skip_line(&mut reader).map_err(|e| e.to_string())?;
            BatchRow::unreadable(
                row,
                "",
                format!("row {row} is longer than {MAX_LINE} bytes"),
            )
        } else {
            // The sniff skips a byte-order mark; so does the first row.
            let text = match line.strip_prefix(BOM) {
                Some(rest) if first => rest,
                _ => &line[..],
            };
            first = false;
            if text.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            BatchRow::from_json(row, text)
        };
        first = false;
        if !send(next) {
            return Ok(());
        }
        row += 1;
    }
}

/// Consume the rest of the current line, its newline included, a buffer at a time.
fn skip_line(reader: &mut dyn BufRead) -> std::io::Result<()> {
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(());
        }
        match buf.iter().position(|&b| b == b'\n') {
            Some(i) => {
                reader.consume(i + 1);
                return Ok(());
            }
            None => {
                let len = buf.len();
                reader.consume(len);
            }
        }
    }
}

/// The positions of the UID and URL columns, from the header.
fn columns<R: Read>(csv: &mut csv::Reader<R>) -> Result<(usize, usize), String> {
    let header = csv
        .headers()
        .map_err(|e| format!("the CSV header could not be read: {e}"))?;
    // The names every face takes (the core's); the first URL name present wins.
    let find = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| header.iter().position(|h| names_field(&[n], h)))
    };
    match (find(UID_NAMES), find(URL_NAMES)) {
        (Some(uid), Some(url)) => Ok((uid, url)),
        _ => Err("the CSV header must name a UID and a URL column".into()),
    }
}

fn read_csv<R: Read>(
    mut csv: csv::Reader<R>,
    (uid, url): (usize, usize),
    send: impl Fn(BatchRow) -> bool,
) -> Result<(), String> {
    let mut record = csv::StringRecord::new();
    let mut row = 0u64;
    loop {
        let next = match csv.read_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) if record.iter().all(|f| f.trim().is_empty()) => continue,
            Ok(true) => BatchRow::new(
                row,
                record.get(uid).unwrap_or_default().trim(),
                record.get(url).unwrap_or_default().trim(),
            ),
            Err(e) if matches!(e.kind(), csv::ErrorKind::Io(_)) => return Err(e.to_string()),
            Err(e) => BatchRow::unreadable(row, "", format!("row {row}: {e}")),
        };
        if !send(next) {
            return Ok(());
        }
        row += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jsonl(input: Vec<u8>) -> Vec<BatchRow> {
        let rows = std::cell::RefCell::new(Vec::new());
        read_jsonl(Box::new(std::io::Cursor::new(input)), |r| {
            rows.borrow_mut().push(r);
            true
        })
        .unwrap();
        rows.into_inner()
    }

    #[test]
    fn jsonl_strips_a_leading_bom() {
        let rows = jsonl(b"\xEF\xBB\xBF{\"UID\":\"u1\",\"URL\":\"https://a/p.jpg\"}\n".to_vec());
        assert_eq!(rows, vec![BatchRow::new(0, "u1", "https://a/p.jpg")]);
    }

    #[test]
    fn an_over_long_line_fails_alone_and_reading_resumes() {
        let mut input = br#"{"UID":"u1","URL":"https://a/1.jpg"}"#.to_vec();
        input.push(b'\n');
        input.extend(br#"{"UID":"big","URL":""#);
        input.extend(std::iter::repeat_n(b'x', 3 << 20));
        input.extend(b"\"}\n");
        input.extend(br#"{"UID":"u2","URL":"https://a/2.jpg"}"#);
        let rows = jsonl(input);
        assert_eq!(
            rows.len(),
            3,
            "{:?}",
            rows.iter().map(|r| &r.uid).collect::<Vec<_>>()
        );
        assert_eq!(rows[0], BatchRow::new(0, "u1", "https://a/1.jpg"));
        assert!(rows[1]
            .unreadable
            .as_deref()
            .unwrap()
            .contains("longer than"));
        assert_eq!(rows[1].row, 1);
        assert_eq!(rows[2], BatchRow::new(2, "u2", "https://a/2.jpg"));
    }
}
