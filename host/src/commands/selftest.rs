pub fn run() -> Result<(), crate::failure::Failure> { Ok(()) }
