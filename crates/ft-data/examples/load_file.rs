//! Loads one training file and prints what it holds: `cargo run -p ft-data --example load_file -- MODEL_DIR FILE [MAX_LEN]`.
//! Used to check that large files stream (peak memory ≈ token ids, not text).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, model, file, rest @ ..] = args.as_slice() else {
        return Err("usage: load_file MODEL_DIR FILE [MAX_LEN]".into());
    };
    let max_len = rest.first().map(|s| s.parse()).transpose()?.unwrap_or(128);
    let tok = ft_data::Tokenizer::from_dir(std::path::Path::new(model))?;
    let options = ft_data::DataOptions { max_len, ..Default::default() };
    let start = std::time::Instant::now();
    let (examples, labels, report) = ft_data::dataset::read_train(std::path::Path::new(file), &tok, &options)?;
    println!("{report}");
    println!(
        "{} examples, {} labels, {} bytes held, {:.1} s",
        examples.len(),
        labels.names.len(),
        examples.memory_bytes(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
