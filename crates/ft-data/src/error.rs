//! The one error type of ft-data: every variant says what, where (file:line, column) and the fix.

use std::path::PathBuf;

/// `1 MiB`, `64 KiB` or `1000 bytes`.
pub(crate) fn byte_size(n: usize) -> String {
    const KIB: usize = 1024;
    const MIB: usize = 1024 * 1024;
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else if n >= KIB && n.is_multiple_of(KIB) {
        format!("{} KiB", n / KIB)
    } else {
        format!("{n} bytes")
    }
}

fn list(items: &[String]) -> String {
    const SHOWN: usize = 20;
    let mut s = items.iter().take(SHOWN).map(String::as_str).collect::<Vec<_>>().join(", ");
    if items.len() > SHOWN {
        s.push_str(&format!(", … ({} in all)", items.len()));
    }
    s
}

/// Everything that can go wrong between a user's files and a batch.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A filesystem operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Neither `tokenizer.json` nor `vocab.txt` in a model directory.
    #[error("{}: no tokenizer.json and no vocab.txt; pass a model directory that has one of them", dir.display())]
    NoTokenizer {
        /// The directory searched.
        dir: PathBuf,
    },
    /// A tokenizer file could not be read.
    #[error("{}: not a usable tokenizer file: {message}", path.display())]
    TokenizerFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The vocabulary lacks a special token the configuration names.
    #[error("{}: the vocabulary has no `{token}`; fix tokenizer_config.json / special_tokens_map.json or the vocabulary", path.display())]
    MissingSpecialToken {
        /// The vocabulary or tokenizer file.
        path: PathBuf,
        /// The missing token.
        token: String,
    },
    /// The tokenizers crate refused an input.
    #[error("tokenizing failed: {message}")]
    Encode {
        /// The tokenizers error.
        message: String,
    },
    /// `max_len` cannot even hold the special tokens.
    #[error(
        "max_len {max_len} is too small: the special tokens alone take {needed}; use a max length of at least {needed}"
    )]
    MaxLenTooSmall {
        /// The requested maximum.
        max_len: usize,
        /// Special tokens needed.
        needed: usize,
    },
    /// A question leaves the context too little room for the windows (`--max-len`, `--doc-stride`).
    #[error(
        "the question takes {question_tokens} tokens, which with [CLS] and two [SEP] leaves {room} of max_len {max_len} for the context: the room must be more than the stride {stride}; shorten the question, raise --max-len or lower --doc-stride"
    )]
    QuestionTooLong {
        /// Tokens of the question.
        question_tokens: usize,
        /// The requested maximum.
        max_len: usize,
        /// Tokens shared by consecutive windows.
        stride: usize,
        /// What is left for the context.
        room: usize,
    },
    /// The file's format cannot be told from its name.
    #[error("{}: unknown data format; name the file *.csv, *.tsv or *.jsonl", path.display())]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// A column named by a flag (or its default) is not in the file.
    #[error("{}:{line}: no column `{column}` (columns: {}); {fix}", path.display(), list(available))]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The header line (1), or the row's line for JSONL.
        line: u64,
        /// The column looked for (or the defaults tried).
        column: String,
        /// The columns the file has.
        available: Vec<String>,
        /// What to do.
        fix: String,
    },
    /// A JSONL row lacks a key that the other rows have.
    #[error("{}:{line}: no key `{key}` in this row (keys: {}); add it, or pass --skip-bad-rows", path.display(), list(available))]
    MissingKey {
        /// The file.
        path: PathBuf,
        /// The row's line.
        line: u64,
        /// The key looked for.
        key: String,
        /// The keys the row has.
        available: Vec<String>,
    },
    /// A question-answering row (or SQuAD JSON entry) that cannot be used; `at` is `line N` or its
    /// JSON path.
    #[error("{}: {at}: {problem}", path.display())]
    BadQa {
        /// The file.
        path: PathBuf,
        /// `line 12`, or `data[0].paragraphs[3].qas[1]`.
        at: String,
        /// What is wrong, and the fix.
        problem: String,
    },
    /// A row has a different number of fields than the header.
    #[error("{}:{line}: {found} fields, but the header has {expected} ({}); quote fields that contain the delimiter, or fix the row", path.display(), list(header))]
    WrongFieldCount {
        /// The file.
        path: PathBuf,
        /// The row's first line.
        line: u64,
        /// Fields in the row.
        found: usize,
        /// Fields in the header.
        expected: usize,
        /// The header's column names.
        header: Vec<String>,
    },
    /// A field is not valid UTF-8.
    #[error("{}:{line}: column `{column}` is not valid UTF-8 (bad byte at offset {byte} of the field); re-save the file as UTF-8", path.display())]
    InvalidUtf8 {
        /// The file.
        path: PathBuf,
        /// The row's line.
        line: u64,
        /// The column.
        column: String,
        /// Offset of the first bad byte in the field (or in the line, for JSONL).
        byte: usize,
    },
    /// A text field is empty (or only whitespace).
    #[error("{}:{line}: empty text in column `{column}`; remove the row, or pass --skip-bad-rows", path.display())]
    EmptyText {
        /// The file.
        path: PathBuf,
        /// The row's line.
        line: u64,
        /// The column.
        column: String,
    },
    /// A label cannot be read as the label kind in use.
    #[error("{}:{line}: label {label:?} in column `{column}` {problem}; fix the row, pass --label-kind, or pass --skip-bad-rows", path.display())]
    BadLabel {
        /// The file.
        path: PathBuf,
        /// The row's line.
        line: u64,
        /// The column.
        column: String,
        /// The label as written.
        label: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A validation/test label the training file never had.
    #[error("{}:{line}: label {label:?} is not one of [{}] (the labels of the training file); fix the row or add it to the training data", path.display(), list(known))]
    UnknownLabel {
        /// The file.
        path: PathBuf,
        /// The row's line.
        line: u64,
        /// The label.
        label: String,
        /// The labels of the training file.
        known: Vec<String>,
    },
    /// A JSONL line is not a JSON object.
    #[error("{}:{line}: not a JSON object: {message}; each line must be one object such as {{\"text\": \"...\", \"label\": \"...\"}}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The line.
        line: u64,
        /// The parser's message.
        message: String,
    },
    /// The CSV reader failed.
    #[error("{}:{line}: {message}", path.display())]
    Csv {
        /// The file.
        path: PathBuf,
        /// The line where reading stopped.
        line: u64,
        /// The reader's message.
        message: String,
    },
    /// A row (a CSV/TSV record or a JSONL line) longer than the limit; read no further.
    #[error("{}:{line}: a row longer than {} starts here; is this the right file? If it is, raise the limit with --max-row-bytes", path.display(), byte_size(*limit))]
    RowTooLong {
        /// The file.
        path: PathBuf,
        /// The line where the row starts.
        line: u64,
        /// The limit, in bytes.
        limit: usize,
    },
    /// A quoted CSV field that is never closed: it swallows the rest of the file.
    #[error("{}:{line}: a quoted field opened here is never closed ({reach}); close the quote or escape it as \"\"", path.display())]
    UnclosedQuote {
        /// The file.
        path: PathBuf,
        /// The line where the quote opened.
        line: u64,
        /// How far it runs: to the end of the file, or past the row size limit, over how many lines.
        reach: String,
    },
    /// A quoted CSV field that runs over several lines and leaves its row with the wrong number of
    /// fields: almost always a stray quote that swallowed the rows after it.
    #[error("{}:{line}: a quoted field opened here runs over {lines} lines, leaving this row {found} fields where the header has {expected}; close the quote where the field ends or escape it as \"\"", path.display())]
    QuoteSpansRows {
        /// The file.
        path: PathBuf,
        /// The row's first line.
        line: u64,
        /// Lines the row spans.
        lines: u64,
        /// Fields in the row.
        found: usize,
        /// Fields in the header.
        expected: usize,
    },
    /// A CoNLL line without the token or tag column.
    #[error("{}:{line}: {found} column(s), but the token column is {token_column} and the tag column is {tag_column} ({needed} columns needed); fix the line, choose other columns (--token-column, --tag-column), or pass --skip-bad-rows", path.display())]
    TooFewColumns {
        /// The file.
        path: PathBuf,
        /// The line.
        line: u64,
        /// Whitespace-separated columns on the line.
        found: usize,
        /// Columns the token and tag columns need.
        needed: usize,
        /// The token column (0-based).
        token_column: usize,
        /// The tag column (0-based, or `last`).
        tag_column: String,
    },
    /// A tagged sentence with a different number of tokens and tags.
    #[error("{}:{line}: {tokens} tokens but {tags} tags; give one tag per token, or pass --skip-bad-rows", path.display())]
    TagCountMismatch {
        /// The file.
        path: PathBuf,
        /// The sentence's line.
        line: u64,
        /// Tokens in the sentence.
        tokens: usize,
        /// Tags in the sentence.
        tags: usize,
    },
    /// A tagged sentence that cannot be read (tokens or tags of the wrong type, integer tags without
    /// label names, an empty token).
    #[error("{}:{line}: {problem}", path.display())]
    BadTags {
        /// The file.
        path: PathBuf,
        /// The sentence's line.
        line: u64,
        /// What is wrong and what to do.
        problem: String,
    },
    /// The file is not UTF-8 text (UTF-16, or binary).
    #[error("{}: looks like {what}; {fix}", path.display())]
    NotUtf8Text {
        /// The file.
        path: PathBuf,
        /// What it looks like, and why.
        what: String,
        /// What to do.
        fix: String,
    },
    /// No usable rows.
    #[error("{}: no data rows{}", path.display(), if *skipped > 0 { format!(" ({skipped} bad rows skipped)") } else { String::new() })]
    NoRows {
        /// The file.
        path: PathBuf,
        /// Rows skipped as bad.
        skipped: usize,
    },
    /// An option is out of range or inconsistent.
    #[error("{0}")]
    Options(String),
    /// Not a packaged dataset name.
    #[error("unknown dataset `{name}`; known datasets: {} (see `ft fetch --list`)", known.join(", "))]
    UnknownDataset {
        /// What was asked for.
        name: String,
        /// The names ft knows.
        known: Vec<&'static str>,
    },
    /// Fetching or building a packaged dataset failed.
    #[error("dataset `{name}`: {message}\n  fetch it with: cargo run -p ft-cli -- fetch {name}")]
    Dataset {
        /// The dataset.
        name: String,
        /// What went wrong.
        message: String,
    },
}

impl DataError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }

    /// The line this error points at, for errors about one row.
    pub fn line(&self) -> Option<u64> {
        match self {
            Self::MissingColumn { line, .. }
            | Self::MissingKey { line, .. }
            | Self::WrongFieldCount { line, .. }
            | Self::InvalidUtf8 { line, .. }
            | Self::EmptyText { line, .. }
            | Self::BadLabel { line, .. }
            | Self::UnknownLabel { line, .. }
            | Self::Json { line, .. }
            | Self::RowTooLong { line, .. }
            | Self::UnclosedQuote { line, .. }
            | Self::QuoteSpansRows { line, .. }
            | Self::TooFewColumns { line, .. }
            | Self::TagCountMismatch { line, .. }
            | Self::BadTags { line, .. } => Some(*line),
            _ => None,
        }
    }

    /// Whether `--skip-bad-rows` may skip this error (a problem of one row, not of the file).
    pub fn is_row_error(&self) -> bool {
        matches!(
            self,
            Self::MissingKey { .. }
                | Self::WrongFieldCount { .. }
                | Self::QuoteSpansRows { .. }
                | Self::InvalidUtf8 { .. }
                | Self::EmptyText { .. }
                | Self::BadLabel { .. }
                | Self::UnknownLabel { .. }
                | Self::Json { .. }
                | Self::TooFewColumns { .. }
                | Self::TagCountMismatch { .. }
                | Self::BadTags { .. }
                | Self::BadQa { .. }
        )
    }
}
