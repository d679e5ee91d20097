//! The build script's rule for which environment variables the guest's own
//! cargo inherits (host/build/guest_env.rs): a build script has no tests of
//! its own, so its module is compiled here too.

#[path = "../build/guest_env.rs"]
mod guest_env;
