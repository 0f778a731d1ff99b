//! Finds libolive and tells rustc how to link it.
//!
//! Search order for the folder holding libolive.so:
//!   1. the LIBOLIVE_LIB_DIR environment variable;
//!   2. `pkg-config --variable=libdir libolive`, when pkg-config is installed and knows it;
//!   3. the repository's own build folder (`build/lib` at the top of the source tree).
//!
//! When none applies, the linker's default search path is used.
//!
//! The folder is also written into the binaries' run path, so tests and examples run without
//! LD_LIBRARY_PATH, and passed on to dependents as DEP_OLIVE_LIB_DIR (this crate `links` "olive"),
//! because a build script's link arguments reach only its own package's binaries.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=LIBOLIVE_LIB_DIR");

    let dir = find_lib_dir();
    println!("cargo:rustc-link-lib=dylib=olive");
    if let Some(dir) = dir {
        let dir = dir.canonicalize().unwrap_or(dir);
        let shown = dir.display().to_string();
        println!("cargo:rustc-link-search=native={shown}");
        println!("cargo:lib_dir={shown}");
        // The linker splits -Wl arguments at commas, so such a folder cannot go in the run path.
        if shown.contains(',') {
            println!("cargo:warning=libolive folder '{shown}' contains a comma; set LD_LIBRARY_PATH to run");
        } else {
            println!("cargo:rustc-link-arg=-Wl,-rpath,{shown}");
        }
    } else {
        println!("cargo:warning=libolive not found (set LIBOLIVE_LIB_DIR to the folder holding libolive.so); using the linker's default path");
    }
}

fn find_lib_dir() -> Option<PathBuf> {
    if let Some(dir) = env::var_os("LIBOLIVE_LIB_DIR") {
        if !dir.is_empty() {
            return Some(PathBuf::from(dir));
        }
    }
    if let Some(dir) = pkg_config_libdir() {
        return Some(dir);
    }
    repo_build_dir()
}

fn pkg_config_libdir() -> Option<PathBuf> {
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_LIBDIR");
    // A missing pkg-config command is not an error: fall through to the next place.
    let output = Command::new("pkg-config")
        .args(["--variable=libdir", "libolive"])
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    let dir = text.trim();
    if dir.is_empty() {
        None
    } else {
        Some(PathBuf::from(dir))
    }
}

/// `<repo>/build/lib`, the meson build folder at the top of the source tree, if it exists.
fn repo_build_dir() -> Option<PathBuf> {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR")?);
    // bindings/rust/libolive-sys -> repository root
    let root = manifest.parent()?.parent()?.parent()?;
    let lib = root.join("build").join("lib");
    // Re-run when the library appears (a missing path re-runs this script on every build).
    println!(
        "cargo:rerun-if-changed={}",
        lib.join("libolive.so").display()
    );
    if has_library(&lib) {
        Some(lib)
    } else {
        None
    }
}

fn has_library(dir: &Path) -> bool {
    ["libolive.so", "libolive.dylib", "olive.lib", "libolive.a"]
        .iter()
        .any(|name| dir.join(name).exists())
}
