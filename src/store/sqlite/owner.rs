//! Who owns the database's files, and keeping it so. A service runs as its own account
//! (`gpt-todo`); an operator may run a command as root over its files. Whatever root writes in
//! their place (a restored database, a new `.lock`) is given back to the database's owner, or the
//! service would find root's 0600 files it cannot open.

use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// A file's owner and permission bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ownership {
    pub uid: u32,
    pub gid: u32,
    /// The permission bits (`0o600`).
    pub mode: u32,
}

impl Ownership {
    pub fn of(path: &Path) -> io::Result<Ownership> {
        let meta = std::fs::metadata(path)?;
        Ok(Ownership { uid: meta.uid(), gid: meta.gid(), mode: meta.mode() & 0o7777 })
    }

    /// Gives `path` this owner and mode. The owner only changes when it differs, so a process
    /// that is not root can give a file it owns the same owner (and its mode).
    pub fn give_to(&self, path: &Path) -> io::Result<()> {
        let now = Ownership::of(path)?;
        if (now.uid, now.gid) != (self.uid, self.gid) {
            std::os::unix::fs::chown(path, Some(self.uid), Some(self.gid))?;
        }
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(self.mode))
    }

    /// "gpt-todo (uid 998), mode 0600".
    pub fn describe(&self) -> String {
        format!("{}, mode {:04o}", account(self.uid), self.mode)
    }
}

/// The effective user id of this process.
pub fn current_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// "gpt-todo (uid 998)", or "uid 998" for an account without a name.
pub fn account(uid: u32) -> String {
    match name_of(uid) {
        Some(name) => format!("{name} (uid {uid})"),
        None => format!("uid {uid}"),
    }
}

/// The name of the account `uid`, or `uid N` when the system has none.
pub fn user_name(uid: u32) -> String {
    name_of(uid).unwrap_or_else(|| format!("uid {uid}"))
}

fn name_of(uid: u32) -> Option<String> {
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buffer = vec![0 as libc::c_char; 4096];
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: getpwuid_r writes the entry into `entry`, its strings into `buffer` (whose length
    // it is told), and sets `found` to `&entry` or null; nothing is kept beyond this call.
    let status = unsafe { libc::getpwuid_r(uid, &mut entry, buffer.as_mut_ptr(), buffer.len(), &mut found) };
    if status != 0 || found.is_null() || entry.pw_name.is_null() {
        return None;
    }
    // SAFETY: pw_name points to a NUL-terminated string inside `buffer`, which is still alive.
    let name = unsafe { std::ffi::CStr::from_ptr(entry.pw_name) };
    Some(name.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_are_named_and_unknown_ones_numbered() {
        assert_eq!(user_name(0), "root");
        assert_eq!(account(0), "root (uid 0)");
        assert_eq!(account(4_000_000_000), "uid 4000000000");
    }

    #[test]
    fn a_file_keeps_the_mode_it_is_given() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "x").unwrap();
        let wanted = Ownership { mode: 0o640, ..Ownership::of(&file).unwrap() };
        wanted.give_to(&file).unwrap();
        assert_eq!(Ownership::of(&file).unwrap(), wanted);
        assert!(wanted.describe().ends_with("mode 0640"), "{}", wanted.describe());
    }
}
