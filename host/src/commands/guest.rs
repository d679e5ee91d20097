//! `publish-artifact guest export`: the embedded component, for other hosts.

use crate::cli::GuestCommand;
use crate::failure::{Class, ClassExt, Failure};
use crate::output::AtomicOutput;
use crate::sealing::embedded::{GUEST_SHA256, GUEST_WASM, WIT_PACKAGE};

pub fn run(command: &GuestCommand) -> Result<(), Failure> {
    match command {
        GuestCommand::Export { out } => {
            let mut file = AtomicOutput::create(out).class(Class::Output)?;
            file.write(GUEST_WASM).class(Class::Output)?;
            file.commit().class(Class::Output)?;
            // The `sha256sum` line format, so `sha256sum --check` can read it.
            println!("{GUEST_SHA256}  {}", out.display());
            eprintln!(
                "wrote the sealing component ({WIT_PACKAGE}, {} bytes) to {}",
                GUEST_WASM.len(),
                out.display()
            );
            Ok(())
        }
    }
}
