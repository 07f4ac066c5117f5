//! `ft fetch`: bring a packaged asset (a model or a dataset), or a Hub model (`org/name[@revision]`),
//! into the cache (once) and say where it is.

use anyhow::Context;

/// Arguments of `ft fetch`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The asset to fetch: a packaged model or dataset (see --list), or a Hub model `org/name[@revision]`
    /// (into HuggingFace's cache, $HF_HOME/hub).
    #[arg(required_unless_present = "list")]
    asset: Option<String>,
    /// List the known assets with their size and licence.
    #[arg(long)]
    list: bool,
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn list() {
    println!("{:<12} {:<8} {:<14} {:<7} licence", "name", "kind", "size", "cached");
    for m in ft_assets::KNOWN_MODELS {
        // "…, 22.7M parameters (uncased)" -> "22.7M params".
        let size = m
            .description
            .split_once(" parameters")
            .and_then(|(before, _)| before.split_whitespace().last())
            .map_or_else(|| "-".to_string(), |n| format!("{n} params"));
        println!("{:<12} {:<8} {:<14} {:<7} {}", m.name, "model", size, yes_no(m.is_cached()), m.licence);
        println!("{:<12} {}", "", m.description);
        println!("{:<12} from package {}=={}", "", m.source.package, m.source.version);
    }
    for d in ft_data::KNOWN_DATASETS {
        let size = format!("{} rows", d.rows());
        println!("{:<12} {:<8} {:<14} {:<7} {}", d.name, "dataset", size, yes_no(d.is_cached()), d.licence);
        println!("{:<12} {}", "", d.description);
        println!("{:<12} from package {}=={}, member {}", "", d.source.package, d.source.version, d.member);
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.list {
        list();
        return Ok(());
    }
    let name = args.asset.unwrap_or_default();
    if let Some(asset) = ft_assets::find_model(&name) {
        let dir = asset.ensure().with_context(|| format!("fetching {}", asset.name))?;
        println!("{}", dir.display());
        return Ok(());
    }
    if let Some(dataset) = ft_data::find_dataset(&name) {
        let dir = dataset.ensure().with_context(|| format!("fetching {}", dataset.name))?;
        println!("{}", dir.display());
        let label_file = dataset.has_label_file.then_some(ft_data::datasets::LABEL_FILE);
        for file in dataset.split_files.into_iter().chain(label_file) {
            println!("  {}", dir.join(file).display());
        }
        return Ok(());
    }
    if let Some(repo) = ft_assets::hub::HubRepo::parse(&name) {
        let dir = ft_assets::hub::fetch_model(&repo, &ft_assets::hub::HubSettings::from_env())?;
        println!("{}", dir.display());
        return Ok(());
    }
    let known: Vec<&str> =
        ft_assets::KNOWN_MODELS.iter().map(|m| m.name).chain(ft_data::KNOWN_DATASETS.iter().map(|d| d.name)).collect();
    anyhow::bail!("unknown asset `{name}`; known assets: {} (see `ft fetch --list`)", known.join(", "));
}
