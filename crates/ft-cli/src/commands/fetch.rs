//! `ft fetch`: bring a packaged asset into the cache (once) and say where it is.

use anyhow::Context;

/// Arguments of `ft fetch`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The asset to fetch (see --list).
    #[arg(required_unless_present = "list")]
    asset: Option<String>,
    /// List the known assets with their size and licence.
    #[arg(long)]
    list: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.list {
        println!("{:<12} {:<8} {:<12} {:<7} description", "name", "kind", "licence", "cached");
        for m in ft_assets::KNOWN_MODELS {
            let cached = if m.is_cached() { "yes" } else { "no" };
            println!("{:<12} {:<8} {:<12} {:<7} {}", m.name, "model", m.licence, cached, m.description);
            println!("{:<12} {:<8} from package {}=={}", "", "", m.source.package, m.source.version);
        }
        return Ok(());
    }
    let name = args.asset.unwrap_or_default();
    let Some(asset) = ft_assets::find_model(&name) else {
        let known: Vec<&str> = ft_assets::KNOWN_MODELS.iter().map(|m| m.name).collect();
        anyhow::bail!("unknown asset `{name}`; known assets: {} (see `ft fetch --list`)", known.join(", "));
    };
    let dir = asset.ensure().with_context(|| format!("fetching {}", asset.name))?;
    println!("{}", dir.display());
    Ok(())
}
