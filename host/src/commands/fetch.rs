//! `publish-artifact fetch`: the loader's side. Download (resuming after a
//! dropped connection), check the SHA-256, decrypt, gunzip; the plaintext
//! appears at `--out` only once all of it checked out.

use super::{download_source, human_bytes, open_object, print_json};
use crate::cli::FetchArgs;
use crate::failure::{Class, ClassExt, Failure};
use crate::output::AtomicOutput;
use crate::progress::Progress;
use crate::secrets::Key;
use crate::store::download::ResumingReader;

pub fn run(args: &FetchArgs) -> Result<(), Failure> {
    let key = Key::from_file_or_env(args.key.key_file.as_deref())?;
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .class(Class::Internal)?;
    let source = download_source(
        args.source.url.as_deref(),
        args.source.object_key.as_deref(),
        &tokio,
    )?;
    let mut out = AtomicOutput::create(&args.out).class(Class::Output)?;
    let mut reader = ResumingReader::new(&tokio, &source);
    let progress = Progress::start(0, args.progress, "fetching");
    let opened = open_object(
        &mut reader,
        source.describe(),
        &key,
        &args.sha256,
        Class::Storage,
        progress.counter(),
        &mut |bytes| out.write(bytes),
    );
    drop(progress);
    let mut summary = opened?;
    out.commit().class(Class::Output)?;
    eprintln!(
        "fetched {} ({}{}): SHA-256, padding and gzip check out; {} written to {}",
        source.describe(),
        human_bytes(summary.size_bytes),
        match reader.resumes {
            0 => String::new(),
            n => format!(", resumed {n} time{}", if n == 1 { "" } else { "s" }),
        },
        human_bytes(summary.plaintext_size_bytes),
        args.out.display(),
    );
    summary.plaintext = Some(args.out.clone());
    print_json(&summary);
    Ok(())
}
