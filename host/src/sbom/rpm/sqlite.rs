//! `rpmdb.sqlite` (rpm >= 4.16): one header blob per row of `Packages`.

use rusqlite::{Connection, OpenFlags};
use std::path::Path;

/// Calls `each` with every header blob, in the order rpm numbered them.
///
/// Opened `immutable`: read-only, no locks, no `-wal`/`-shm` files beside
/// it, which a database spooled out of an image does not have (rpm leaves
/// its database in WAL mode, which would otherwise want them).
pub fn headers(database: &Path, each: &mut dyn FnMut(&[u8])) -> Result<(), String> {
    let fail = |error: rusqlite::Error| format!("sqlite could not read it ({error})");
    let uri = format!("file:{}?immutable=1", uri_path(database));
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let connection = Connection::open_with_flags(uri, flags).map_err(fail)?;
    let mut statement = connection
        .prepare("SELECT blob FROM Packages ORDER BY hnum")
        .map_err(fail)?;
    let mut rows = statement.query([]).map_err(fail)?;
    while let Some(row) = rows.next().map_err(fail)? {
        match row.get_ref(0).map_err(fail)?.as_blob() {
            Ok(blob) => each(blob),
            Err(_) => return Err("a row of its Packages table holds no blob".into()),
        }
    }
    Ok(())
}

/// The path percent-encoded where a URI would read it otherwise.
fn uri_path(path: &Path) -> String {
    let mut encoded = String::new();
    for byte in path.as_os_str().as_encoded_bytes() {
        match byte {
            b'%' | b'?' | b'#' => encoded.push_str(&format!("%{byte:02X}")),
            _ if byte.is_ascii_graphic() => encoded.push(char::from(*byte)),
            _ => encoded.push_str(&format!("%{byte:02X}")),
        }
    }
    encoded
}
