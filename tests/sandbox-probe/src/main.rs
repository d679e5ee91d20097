//! Tries to reach what a sandbox must hide: exits with failure if it could
//! read the planted file or see the planted environment variable, with
//! success if it found neither. (WASI 0.2's `exit` carries only success or
//! failure, not a code, so the tests run one control per channel.)

const PLANTED_FILE: &str = "/probe/planted.txt";
const PLANTED_VARIABLE: &str = "PROBE_PLANTED";

fn main() {
    let read_file = std::fs::read(PLANTED_FILE).is_ok();
    let saw_variable = std::env::var_os(PLANTED_VARIABLE).is_some();
    std::process::exit(i32::from(read_file || saw_variable));
}
